//! A recording loopback proxy: forwards every request to one upstream and
//! remembers what passed. Stands in for an entryway in front of the PDS
//! (PDS discovery), and counts `refreshSession` calls.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One request that went through the proxy.
#[derive(Clone, Debug)]
pub struct Seen {
    /// HTTP method.
    pub method: String,
    /// NSID (the path after `/xrpc/`), or the whole path.
    pub nsid: String,
    /// The `authorization` header, if any.
    pub authorization: Option<String>,
    /// Status the upstream answered.
    pub status: u16,
    /// The upstream's response body.
    pub response: Vec<u8>,
}

/// A running proxy. Stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding to `upstream` (e.g. the PDS URL).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        // reqwest is built here without a default crypto provider, and the
        // library no longer installs one: take the client the library
        // configures (ring, platform verifier).
        let client = atmo_client::ReqwestClient::new()
            .expect("HTTP client")
            .inner()
            .clone();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (client, upstream, seen) = (client.clone(), upstream.clone(), seen2.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<Incoming>| {
                        let (client, upstream, seen) =
                            (client.clone(), upstream.clone(), seen.clone());
                        async move { forward(req, &client, &upstream, &seen).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Proxy { url, seen, task }
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests for `nsid` went through.
    pub fn count(&self, nsid: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.nsid == nsid)
            .count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    req: hyper::Request<Incoming>,
    client: &reqwest::Client,
    upstream: &str,
    seen: &Mutex<Vec<Seen>>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.method().clone();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let nsid = req
        .uri()
        .path()
        .strip_prefix("/xrpc/")
        .unwrap_or(req.uri().path())
        .to_owned();
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();

    let mut out = client.request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET),
        format!("{upstream}{path_and_query}"),
    );
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let (status, resp_headers, bytes) = match out.body(body.to_vec()).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            (status, headers, bytes)
        }
        Err(_) => (502, Default::default(), b"upstream unreachable".to_vec()),
    };
    seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        nsid,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        status,
        response: bytes.clone(),
    });
    let mut resp = hyper::Response::builder().status(status);
    for (name, value) in &resp_headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            resp = resp.header(name.as_str(), value.as_bytes());
        }
    }
    Ok(resp
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))))
}
