//! The built-in [`HttpClient`]: reqwest with rustls (feature `reqwest`, on by
//! default).

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
    /// Parsed origins (the service, the PDS: a handful), so that each call
    /// only sets path and query instead of parsing a whole URL again.
    origins: Arc<Mutex<Vec<(String, reqwest::Url)>>>,
}

/// Origins remembered; more are parsed on every call.
const MAX_ORIGINS: usize = 8;

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
            origins: Arc::default(),
        }
    }

    /// The wrapped client.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// The URL of `request`: an XRPC URL (`<origin>/xrpc/...`) from its
    /// remembered origin, anything else parsed in full.
    fn url(&self, url: &str) -> Result<reqwest::Url, HttpError> {
        let invalid = |e| HttpError::new(HttpErrorKind::Other, format!("invalid URL {url}: {e}"));
        let Some(i) = url.find("/xrpc/") else {
            return reqwest::Url::parse(url).map_err(invalid);
        };
        let (origin, rest) = url.split_at(i);
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        let mut parsed = match origins.iter().find(|(o, _)| o == origin) {
            Some((_, u)) => u.clone(),
            None => {
                let u = reqwest::Url::parse(origin).map_err(invalid)?;
                if origins.len() < MAX_ORIGINS {
                    origins.push((origin.to_owned(), u.clone()));
                }
                u
            }
        };
        drop(origins);
        parsed.set_path(path);
        parsed.set_query(query);
        Ok(parsed)
    }

    /// Sends `request` and waits for the status and headers (refusing a
    /// declared length over the limit); the body is left on the wire.
    async fn open(&self, request: HttpRequest) -> Result<reqwest::Response, HttpError> {
        let url = self.url(&request.url)?;
        let mut rb = match request.method {
            HttpMethod::Get => self.client.get(url),
            HttpMethod::Post => self.client.post(url),
        };
        rb = rb.timeout(request.timeout);
        for (name, value) in &request.headers {
            let mut v = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                HttpError::new(
                    HttpErrorKind::Other,
                    format!("invalid value for header {name}"),
                )
            })?;
            v.set_sensitive(HttpRequest::is_sensitive_header(name));
            rb = rb.header(name.as_str(), v);
        }
        if let Some(body) = request.body {
            rb = rb.body(body);
        }
        let resp = rb.send().await.map_err(map_error)?;
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
        assert_eq!(c.origins.lock().unwrap().len(), 2);
        assert!(c.url("not a url").is_err());
    }
}
