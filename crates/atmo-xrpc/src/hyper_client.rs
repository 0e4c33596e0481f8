//! The built-in [`HttpClient`] of feature `hyper`: hyper's pooled HTTP/1.1
//! client with rustls (ring provider) and the platform's root certificates.
//! No URL library, no redirect handling, no proxy support: what XRPC needs
//! and nothing more, so that it builds in a fraction of reqwest's time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::client_util::{
    declared_too_large, error_chain, header_pairs, ring_provider, too_large, Budget,
};
use crate::http::{
    BodyStream, BoxFuture, HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest,
    HttpResponse, StreamingResponse,
};

/// Connect timeout of the client [`HyperClient::new`] builds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// [`HttpClient`] over hyper: HTTP/1.1 with connection reuse, rustls with
/// the ring provider and the platform's root certificates. Cheap to clone
/// (clones share the connection pool).
///
/// Redirects are not followed (XRPC uses none); a 3xx is returned as it is,
/// with its `location` header. Proxies from the environment are not used:
/// bring a client of your own (e.g. the `reqwest` feature's) for those.
#[derive(Clone)]
pub struct HyperClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient").finish_non_exhaustive()
    }
}

/// Settings of a [`HyperClient`] other than the defaults.
#[derive(Clone, Debug)]
pub struct HyperClientBuilder {
    connect_timeout: Duration,
    max_idle_per_host: usize,
}

impl HyperClientBuilder {
    /// How long connecting may take (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Idle connections kept per host for reuse (default: no limit). Zero
    /// opens a connection per request.
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.max_idle_per_host = n;
        self
    }

    /// Builds the client. The platform's root certificates are loaded once;
    /// when none can be loaded, `https` requests fail with a certificate
    /// error while `http` to loopback still works. TLS uses the ring
    /// provider in this client's configuration only: rustls's process-wide
    /// default is left as it is.
    pub fn build(self) -> Result<HyperClient, HttpError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A certificate the store cannot use is skipped, as browsers do.
            let _ = roots.add(cert);
        }
        // The provider goes into this configuration only: the process-wide
        // default stays the application's to choose.
        let tls = rustls::ClientConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::new(HttpErrorKind::Other, format!("TLS configuration: {e}")))?
            .with_root_certificates(Arc::new(roots))
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(self.connect_timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(HyperClient {
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(self.max_idle_per_host)
                .build(https),
        })
    }
}

impl HyperClient {
    /// A client with a pool of its own and a 10 s connect timeout; see
    /// [`HyperClientBuilder::build`].
    pub fn new() -> Result<Self, HttpError> {
        Self::builder().build()
    }

    /// Starts configuring a client.
    pub fn builder() -> HyperClientBuilder {
        HyperClientBuilder {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_idle_per_host: usize::MAX,
        }
    }

    /// Sends `request` and waits for the status and headers (within the
    /// request's timeout), refusing a declared length over the size limit.
    async fn open(&self, request: HttpRequest) -> Result<hyper::Response<Incoming>, HttpError> {
        let timeout = request.timeout;
        tokio::time::timeout(timeout, self.head(request))
            .await
            .map_err(|_| timed_out(timeout))?
    }

    /// [`HyperClient::open`] without a deadline of its own, for a caller
    /// whose deadline already covers the whole exchange (one timer per call,
    /// not two).
    async fn head(&self, request: HttpRequest) -> Result<hyper::Response<Incoming>, HttpError> {
        let limit = request.max_response_size;
        let mut builder = hyper::Request::builder()
            .method(match request.method {
                HttpMethod::Get => hyper::Method::GET,
                HttpMethod::Post => hyper::Method::POST,
            })
            .uri(request.url.as_str());
        // Each value takes over the request's own text, without a copy.
        for (name, value) in request.headers {
            let mut v = hyper::header::HeaderValue::try_from(value).map_err(|_| {
                HttpError::new(
                    HttpErrorKind::Other,
                    format!("invalid value for header {name}"),
                )
            })?;
            v.set_sensitive(HttpRequest::is_sensitive_header(&name));
            builder = builder.header(name.as_str(), v);
        }
        let body = Full::new(Bytes::from(request.body.unwrap_or_default()));
        let req = builder.body(body).map_err(|e| {
            HttpError::new(
                HttpErrorKind::Other,
                format!("invalid request for {}: {e}", request.url),
            )
        })?;
        let resp = self.client.request(req).await.map_err(|e| map_error(&e))?;
        if declared_too_large(resp.headers(), limit) {
            return Err(too_large(limit));
        }
        Ok(resp)
    }

    /// [`HyperClient::open`], the body to be read chunk by chunk.
    async fn start(&self, request: HttpRequest) -> Result<StreamingResponse, HttpError> {
        let limit = request.max_response_size;
        let resp = self.open(request).await?;
        let status = resp.status().as_u16();
        let headers = header_pairs(resp.headers());
        Ok(StreamingResponse {
            status,
            headers,
            body: Box::new(HyperBody {
                body: resp.into_body(),
                budget: Budget::new(limit),
            }),
        })
    }

    /// The whole answer, read straight into one buffer (no boxed stream on
    /// the path every XRPC call takes), under one deadline for the whole
    /// exchange, body included.
    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (limit, timeout) = (request.max_response_size, request.timeout);
        tokio::time::timeout(timeout, async {
            let resp = self.head(request).await?;
            let status = resp.status().as_u16();
            let headers = header_pairs(resp.headers());
            let mut incoming = resp.into_body();
            let (mut body, mut budget) = (Vec::new(), Budget::new(limit));
            while let Some(data) = next_data(&mut incoming).await? {
                budget.take(data.len())?;
                body.extend_from_slice(&data);
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
        .await
        .map_err(|_| timed_out(timeout))?
    }
}

/// The next data frame of `body` (trailers carry no data and are skipped),
/// or `None` at its end.
async fn next_data(body: &mut Incoming) -> Result<Option<Bytes>, HttpError> {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| HttpError::new(HttpErrorKind::Body, error_chain(&e)))?;
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

fn timed_out(after: Duration) -> HttpError {
    HttpError::new(
        HttpErrorKind::Timeout,
        format!("no complete answer within {} ms", after.as_millis()),
    )
}

/// Classifies a failure of the pooled client (before any answer).
fn map_error(e: &hyper_util::client::legacy::Error) -> HttpError {
    let kind = if e.is_connect() {
        HttpErrorKind::Connect
    } else {
        HttpErrorKind::Body
    };
    HttpError::new(kind, error_chain(e))
}

/// A hyper body read frame by frame, counting against the size limit.
struct HyperBody {
    body: Incoming,
    budget: Budget,
}

impl BodyStream for HyperBody {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Vec<u8>>, HttpError>> {
        Box::pin(async move {
            let Some(data) = next_data(&mut self.body).await? else {
                return Ok(None);
            };
            self.budget.take(data.len())?;
            Ok(Some(data.to_vec()))
        })
    }
}

impl HttpClient for HyperClient {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        let client = HyperClient::new().unwrap();
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
