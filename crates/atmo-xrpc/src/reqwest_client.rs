//! The built-in [`HttpClient`]: reqwest with rustls (feature `reqwest`, on by
//! default).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls_platform_verifier::BuilderVerifierExt;

use crate::client_util::{
    declared_too_large, error_chain, header_pairs, ring_provider, too_large, Budget,
};
use crate::http::{
    BodyStream, BoxFuture, HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest,
    HttpResponse, StreamingResponse,
};

// Connect timeout of the client `ReqwestClient::new` builds.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// [`HttpClient`] over a `reqwest::Client`: HTTP/1.1 with connection reuse,
/// rustls with the ring provider and the platform's root certificates.
/// Cheap to clone (clones share the connection pool).
#[derive(Clone, Debug)]
pub struct ReqwestClient {
    client: reqwest::Client,
    /// URLs parsed before, so that a call parses no whole URL again.
    urls: Arc<Mutex<UrlCache>>,
}

/// The parsed URLs a [`ReqwestClient`] reuses.
#[derive(Debug, Default)]
struct UrlCache {
    /// Parsed origins (the service, the PDS: a handful).
    origins: Vec<(String, reqwest::Url)>,
    /// `<origin>/xrpc/<nsid>` parsed with its path, by that text: each
    /// endpoint an application calls has its path set once, so that a call
    /// only sets the query (setting a path runs the URL parser over it).
    paths: HashMap<String, reqwest::Url>,
}

/// Origins remembered; more are parsed on every call.
const MAX_ORIGINS: usize = 8;

/// Endpoint URLs remembered; more have their path set on every call.
const MAX_PATHS: usize = 256;

impl ReqwestClient {
    /// A client of its own, with a 10 s connect timeout, TLS through rustls
    /// with the ring provider and the platform's verifier. The provider is
    /// this client's alone: the process-wide default is left as it is.
    pub fn new() -> Result<Self, HttpError> {
        // reqwest is built without a default crypto provider, so that ring
        // (fast to build) is used instead of aws-lc-rs. The provider goes into
        // this client's configuration only, with the platform's verifier as
        // reqwest would set up itself: installing it as the process default
        // would take the application's choice away.
        let mut tls = rustls::ClientConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| build_failed(&e))?
            .with_platform_verifier()
            .map_err(|e| build_failed(&e))?
            .with_no_client_auth();
        // What reqwest announces itself when it builds the configuration:
        // this build of it speaks HTTP/1.1 only.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .user_agent(concat!("atproto-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| build_failed(&e))?;
        Ok(ReqwestClient::from_client(client))
    }

    /// Wraps a client the application built (proxies, custom roots, shared
    /// pool...). Its own timeout, if any, still applies; the request's is set
    /// on every call.
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestClient {
            client,
            urls: Arc::default(),
        }
    }

    /// The wrapped client.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// The URL of `request`: an XRPC URL (`<origin>/xrpc/...`) from its
    /// remembered endpoint or origin, anything else parsed in full.
    fn url(&self, url: &str) -> Result<reqwest::Url, HttpError> {
        let invalid = |e| HttpError::new(HttpErrorKind::Other, format!("invalid URL {url}: {e}"));
        // The text before the first `?` names a remembered endpoint.
        let (head, query) = match url.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (url, None),
        };
        let mut cache = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        let (mut parsed, query) = match cache.paths.get(head) {
            Some(u) => (u.clone(), query),
            None => {
                let Some(i) = url.find("/xrpc/") else {
                    drop(cache);
                    return reqwest::Url::parse(url).map_err(invalid);
                };
                let (origin, rest) = url.split_at(i);
                let (path, query) = match rest.split_once('?') {
                    Some((p, q)) => (p, Some(q)),
                    None => (rest, None),
                };
                let mut u = match cache.origins.iter().find(|(o, _)| o == origin) {
                    Some((_, u)) => u.clone(),
                    None => {
                        let u = reqwest::Url::parse(origin).map_err(invalid)?;
                        if cache.origins.len() < MAX_ORIGINS {
                            cache.origins.push((origin.to_owned(), u.clone()));
                        }
                        u
                    }
                };
                u.set_path(path);
                // Remembered by the text a later call looks it up by: not
                // when the origin itself holds a `?`.
                if origin.len() + path.len() == head.len() && cache.paths.len() < MAX_PATHS {
                    cache.paths.insert(head.to_owned(), u.clone());
                }
                (u, query)
            }
        };
        drop(cache);
        parsed.set_query(query);
        Ok(parsed)
    }

    /// Sends `request` and waits for the status and headers (refusing a
    /// declared length over the limit); the body is left on the wire.
    ///
    /// The request is built directly rather than through reqwest's builder,
    /// and each header value takes over the request's own text without a
    /// copy.
    async fn open(&self, request: HttpRequest) -> Result<reqwest::Response, HttpError> {
        let url = self.url(&request.url)?;
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
        };
        let mut req = reqwest::Request::new(method, url);
        *req.timeout_mut() = Some(request.timeout);
        let headers = req.headers_mut();
        for (name, value) in request.headers {
            let header =
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    HttpError::new(
                        HttpErrorKind::Other,
                        format!("invalid header name {name:?}"),
                    )
                })?;
            let mut v = reqwest::header::HeaderValue::try_from(value).map_err(|_| {
                HttpError::new(
                    HttpErrorKind::Other,
                    format!("invalid value for header {name}"),
                )
            })?;
            v.set_sensitive(HttpRequest::is_sensitive_header(&name));
            headers.append(header, v);
        }
        if let Some(body) = request.body {
            *req.body_mut() = Some(body.into());
        }
        let resp = self.client.execute(req).await.map_err(map_error)?;
        if declared_too_large(resp.headers(), request.max_response_size) {
            return Err(too_large(request.max_response_size));
        }
        Ok(resp)
    }

    /// [`ReqwestClient::open`], the body to be read chunk by chunk.
    async fn start(&self, request: HttpRequest) -> Result<StreamingResponse, HttpError> {
        let limit = request.max_response_size;
        let resp = self.open(request).await?;
        let status = resp.status().as_u16();
        let headers = header_pairs(resp.headers());
        Ok(StreamingResponse {
            status,
            headers,
            body: Box::new(ReqwestBody {
                resp,
                budget: Budget::new(limit),
            }),
        })
    }

    /// The whole answer, read straight into one buffer (no boxed stream on
    /// the path every XRPC call takes).
    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let limit = request.max_response_size;
        let mut resp = self.open(request).await?;
        let status = resp.status().as_u16();
        let headers = header_pairs(resp.headers());
        let (mut body, mut budget) = (Vec::new(), Budget::new(limit));
        while let Some(chunk) = resp.chunk().await.map_err(map_error)? {
            budget.take(chunk.len())?;
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// A reqwest body read chunk by chunk, counting against the size limit.
struct ReqwestBody {
    resp: reqwest::Response,
    budget: Budget,
}

impl BodyStream for ReqwestBody {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Vec<u8>>, HttpError>> {
        Box::pin(async move {
            let Some(chunk) = self.resp.chunk().await.map_err(map_error)? else {
                return Ok(None);
            };
            self.budget.take(chunk.len())?;
            Ok(Some(chunk.to_vec()))
        })
    }
}

impl From<reqwest::Client> for ReqwestClient {
    fn from(client: reqwest::Client) -> Self {
        ReqwestClient::from_client(client)
    }
}

impl HttpClient for ReqwestClient {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(self.exchange(request))
    }

    fn send_streaming(
        &self,
        request: HttpRequest,
    ) -> BoxFuture<'_, Result<StreamingResponse, HttpError>> {
        Box::pin(self.start(request))
    }
}

fn build_failed(e: &dyn std::error::Error) -> HttpError {
    HttpError::new(
        HttpErrorKind::Other,
        format!("cannot build the HTTP client: {}", error_chain(e)),
    )
}

fn map_error(e: reqwest::Error) -> HttpError {
    let kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else if e.is_body() || e.is_decode() {
        HttpErrorKind::Body
    } else {
        HttpErrorKind::Other
    };
    HttpError::new(kind, error_chain(&e))
}

/// The error with its sources: reqwest's own text is often just "error
/// sending request".
#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn builds_urls_from_remembered_origins() {
        let c = ReqwestClient::new().unwrap();
        for u in [
            "https://pds.example/xrpc/a.b.c?x=1&y=a+b%26",
            "https://pds.example/xrpc/a.b.d",
            "http://127.0.0.1:2583/xrpc/a.b.c?limit=5",
            "https://other.example/not-xrpc?q",
        ] {
            assert_eq!(c.url(u).unwrap().as_str(), u);
        }
        let cache = c.urls.lock().unwrap();
        assert_eq!(cache.origins.len(), 2);
        assert_eq!(cache.paths.len(), 3);
        drop(cache);
        assert!(c.url("not a url").is_err());
    }

    /// What `url` gives without anything remembered: the origin parsed, then
    /// path and query set on it.
    fn unremembered(url: &str) -> reqwest::Url {
        let Some(i) = url.find("/xrpc/") else {
            return reqwest::Url::parse(url).unwrap();
        };
        let (origin, rest) = url.split_at(i);
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut u = reqwest::Url::parse(origin).unwrap();
        u.set_path(path);
        u.set_query(query);
        u
    }

    /// A remembered endpoint gives the same URL as setting its path again,
    /// whatever the query, on the first call and on later ones; the URLs
    /// the transport builds are the ones parsing the whole text gives.
    #[test]
    fn remembered_endpoints_give_the_same_url() {
        let c = ReqwestClient::new().unwrap();
        let urls = [
            "https://pds.example/xrpc/a.b.c",
            "https://pds.example/xrpc/a.b.c?",
            "https://pds.example/xrpc/a.b.c?limit=5",
            "https://pds.example/xrpc/a.b.c?cursor=3l%3Ax&uris=at%3A%2F%2Fdid%3Aplc%3Ax&uris=b",
            "https://pds.example/xrpc/a.b.c?q=%C3%A9t%C3%A9+x",
            "https://pds.example:8443/xrpc/a.b.c?limit=5",
            "http://[::1]:2583/xrpc/a.b.c?limit=5",
        ];
        // Not what the transport sends, but each still as before.
        let odd = [
            "https://pds.example/xrpc/a.b.c?q=x#frag",
            "https://pds.example/prefix/xrpc/a.b.c?limit=5",
            "https://pds.example/xrpc/a.b.c/xrpc/d?x=/xrpc/y",
            "https://pds.example?o=1/xrpc/a.b.c?limit=5",
            "https://pds.example?o=1/xrpc/a.b.c",
            "https://pds.example#f/xrpc/a.b.c?limit=5",
        ];
        for round in 0..3 {
            for u in urls {
                let got = c.url(u).unwrap();
                assert_eq!(got, reqwest::Url::parse(u).unwrap(), "{u} (round {round})");
                assert_eq!(got, unremembered(u), "{u} (round {round})");
            }
            for u in odd {
                assert_eq!(c.url(u).unwrap(), unremembered(u), "{u} (round {round})");
            }
        }
        // An origin with a `?` is never looked up by its own text.
        let cache = c.urls.lock().unwrap();
        assert!(
            cache.paths.keys().all(|k| !k.contains('?')),
            "{:?}",
            cache.paths.keys()
        );
    }

    /// The endpoints remembered are bounded; past the bound, URLs are still
    /// right.
    #[test]
    fn remembered_endpoints_are_bounded() {
        let c = ReqwestClient::new().unwrap();
        for n in 0..MAX_PATHS + 50 {
            let u = format!("https://pds.example/xrpc/a.b.m{n}?n={n}");
            assert_eq!(c.url(&u).unwrap().as_str(), u);
        }
        assert_eq!(c.urls.lock().unwrap().paths.len(), MAX_PATHS);
        let u = format!("https://pds.example/xrpc/a.b.m{}?n=1", MAX_PATHS + 10);
        assert_eq!(c.url(&u).unwrap().as_str(), u);
    }

    /// A one-shot loopback server: answers `{}` and hands back the request
    /// head it read.
    async fn echo_head() -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/xrpc/a.b.c?x=1", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed mid-head");
                head.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await
                .unwrap();
            String::from_utf8_lossy(&head).into_owned()
        });
        (url, task)
    }

    fn request(url: String, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Get,
            url,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: None,
            timeout: Duration::from_secs(10),
            max_response_size: 1024,
        }
    }

    /// Header values handed over to the request arrive as they were given,
    /// and a value with a line break is refused before anything is sent.
    #[tokio::test]
    async fn header_values_go_out_as_given() {
        let client = ReqwestClient::new().unwrap();
        let (url, server) = echo_head().await;
        let token = "Bearer eyJ0eXAiOiJhdCtqd3QifQ.e30.c2ln";
        let answer = client
            .send(request(
                url,
                &[
                    ("accept", "application/json"),
                    ("authorization", token),
                    ("atproto-accept-labelers", "did:plc:a;redact, did:plc:b"),
                ],
            ))
            .await
            .unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
        let head = server.await.unwrap();
        assert!(
            head.starts_with("GET /xrpc/a.b.c?x=1 HTTP/1.1\r\n"),
            "{head}"
        );
        for line in [
            "accept: application/json\r\n",
            &format!("authorization: {token}\r\n"),
            "atproto-accept-labelers: did:plc:a;redact, did:plc:b\r\n",
        ] {
            assert!(head.contains(line), "{line:?} not in {head}");
        }

        let bad = request(
            "http://127.0.0.1:9/xrpc/a.b.c".into(),
            &[("x-test", "a\r\nx-smuggled: 1")],
        );
        let e = client.send(bad).await.unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::Other);
        assert!(
            e.message.contains("invalid value for header x-test"),
            "{e:?}"
        );
    }
}
