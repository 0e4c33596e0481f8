//! [`XrpcRouter`]: typed handlers registered by endpoint, served by axum.

use std::collections::BTreeMap;
use std::future::Future;

use atmo_types::xrpc::{Method, RawBody, ServerEndpoint};
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, MethodRouter};
use futures_util::StreamExt;

use super::params::decode_params;
use super::XrpcError;

/// Body size limits. An input over its limit is refused with 413
/// `PayloadTooLarge` before it is decoded, and is never read past the
/// limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// JSON (and other `text`-like) input, in bytes. Default 100 KiB, as
    /// `@atproto/xrpc-server`'s `jsonLimit`.
    pub json: usize,
    /// Any other input (`*/*`, `image/*`, CAR files), in bytes. Default
    /// 5 MiB, as `@atproto/xrpc-server`'s `blobLimit`.
    pub binary: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json: 100 * 1024,
            binary: 5 * 1024 * 1024,
        }
    }
}

/// One request to a query or procedure, decoded and checked: what a
/// handler receives.
pub struct XrpcRequest<E: ServerEndpoint, S = ()> {
    /// The query parameters, read and checked against the lexicon.
    pub params: E::Params,
    /// The body: the generated input type for JSON, [`RawBody`] for other
    /// encodings (its content type as the client sent it), `()` when the
    /// endpoint takes none. Checked against the lexicon.
    pub input: E::Input,
    /// The rest of the HTTP request: method, URI, headers, extensions.
    pub parts: Parts,
    /// The router's state.
    pub state: S,
}

impl<E: ServerEndpoint, S> XrpcRequest<E, S> {
    /// Runs an axum extractor on the request's parts with the router's
    /// state, e.g. [`crate::axum::ServiceAuth`] (its refusal converts into
    /// an [`XrpcError`] with `?`).
    pub async fn extract<T: FromRequestParts<S>>(&mut self) -> Result<T, T::Rejection> {
        T::from_request_parts(&mut self.parts, &self.state).await
    }
}

/// Typed XRPC handlers on axum: `/xrpc/<NSID>` for each registered
/// endpoint, 501 `MethodNotImplemented` for any other `/xrpc/` path.
///
/// Each request is checked before the handler runs: the HTTP method (GET
/// for queries, POST for procedures), the parameters against the lexicon
/// (400 `InvalidRequest` naming the parameter), the content type against
/// the declared encoding (400), the body size ([`Limits`], 413
/// `PayloadTooLarge`) and the input against the lexicon (400). A handler's
/// [`XrpcError`] answers its status and `{error, message}`; a declared
/// error of the endpoint converts into one with `?`.
///
/// [`XrpcRouter::into_router`] gives an [`axum::Router`]: add tower layers
/// (`.layer(...)`), other routes (`.merge(...)`), and serve it with
/// `axum::serve`.
///
/// ```
/// use atmo_api::app::bsky::feed::{defs::SkeletonFeedPost, get_feed_skeleton};
/// use atmo_server::xrpc::{XrpcError, XrpcRequest, XrpcRouter};
///
/// async fn feed(
///     req: XrpcRequest<get_feed_skeleton::GetFeedSkeleton>,
/// ) -> Result<get_feed_skeleton::Output, XrpcError> {
///     if req.params.feed.as_str().ends_with("/gone") {
///         return Err(get_feed_skeleton::Error::UnknownFeed(None).into());
///     }
///     Ok(get_feed_skeleton::Output::new(Vec::<SkeletonFeedPost>::new()))
/// }
///
/// let app: axum::Router = XrpcRouter::new().handler(feed).into_router();
/// ```
pub struct XrpcRouter<S = ()> {
    routes: BTreeMap<String, MethodRouter<S>>,
    limits: Limits,
    validate_output: bool,
}

impl<S: Clone + Send + Sync + 'static> Default for XrpcRouter<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> XrpcRouter<S> {
    /// No handlers, default [`Limits`].
    pub fn new() -> Self {
        XrpcRouter {
            routes: BTreeMap::new(),
            limits: Limits::default(),
            validate_output: true,
        }
    }

    /// Whether handlers' outputs are checked against the lexicon before
    /// they are sent (on by default, as `@atproto/xrpc-server`'s
    /// `validateResponse`): one that breaks a rule is answered 500
    /// `InternalServerError` naming the rule, never sent. Applies to the
    /// handlers registered after this call.
    pub fn validate_output(mut self, on: bool) -> Self {
        self.validate_output = on;
        self
    }

    /// The body size limits of the handlers registered after this call.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves endpoint `E` with `handler`, an async function from the
    /// checked [`XrpcRequest`] to the endpoint's output or an
    /// [`XrpcError`]. A second handler for the same NSID replaces the
    /// first.
    ///
    /// `E` is inferred from the handler's argument type
    /// (`|req: XrpcRequest<GetFeedSkeleton>| async move { ... }`), or named:
    /// `.handler::<GetFeedSkeleton, _, _>(...)`.
    pub fn handler<E, F, Fut>(mut self, handler: F) -> Self
    where
        E: ServerEndpoint,
        F: Fn(XrpcRequest<E, S>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<E::Output, XrpcError>> + Send + 'static,
    {
        let checks = Checks {
            limits: self.limits,
            validate_output: self.validate_output,
        };
        let route = any(move |State(state): State<S>, request: Request| {
            let handler = handler.clone();
            async move {
                match serve::<E, S, F, Fut>(handler, checks, state, request).await {
                    Ok(response) => response,
                    Err(e) => e.into_response(),
                }
            }
        });
        self.routes.insert(E::NSID.to_owned(), route);
        self
    }

    /// Registers a route built elsewhere (a subscription's) under an NSID.
    pub(crate) fn route(mut self, nsid: &str, route: MethodRouter<S>) -> Self {
        self.routes.insert(nsid.to_owned(), route);
        self
    }

    /// The NSIDs served, sorted.
    pub fn nsids(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// The axum router: `/xrpc/<NSID>` per handler, and 501
    /// `MethodNotImplemented` for every other path under `/xrpc/`.
    pub fn into_router(self) -> axum::Router<S> {
        let mut router = axum::Router::new();
        for (nsid, route) in self.routes {
            router = router.route(&format!("/xrpc/{nsid}"), route);
        }
        router
            .route("/xrpc/{*rest}", any(not_implemented))
            .route("/xrpc", any(not_implemented))
            .route("/xrpc/", any(not_implemented))
    }
}

/// The answer for an NSID without a handler.
async fn not_implemented() -> XrpcError {
    XrpcError::method_not_implemented()
}

/// What a route checks besides the lexicon's request rules.
#[derive(Clone, Copy)]
struct Checks {
    limits: Limits,
    validate_output: bool,
}

/// Checks and decodes one request, runs the handler and encodes its answer.
async fn serve<E, S, F, Fut>(
    handler: F,
    checks: Checks,
    state: S,
    request: Request,
) -> Result<Response, XrpcError>
where
    E: ServerEndpoint,
    F: Fn(XrpcRequest<E, S>) -> Fut,
    Fut: Future<Output = Result<E::Output, XrpcError>>,
{
    let (parts, body) = request.into_parts();
    let expected = match E::METHOD {
        Method::Query => axum::http::Method::GET,
        Method::Procedure => axum::http::Method::POST,
    };
    if parts.method != expected {
        return Err(XrpcError::invalid_request(format!(
            "Incorrect HTTP method ({}) expected {expected}",
            parts.method
        )));
    }
    let params = decode_params::<E>(parts.uri.query().unwrap_or(""))?;
    let input = read_input::<E>(&parts, body, checks.limits).await?;
    let output = handler(XrpcRequest {
        params,
        input,
        parts,
        state,
    })
    .await?;
    if checks.validate_output {
        E::validate_output(&output).map_err(|e| {
            XrpcError::internal(format!("the output does not match the lexicon: {e}"))
        })?;
    }
    let encoded = E::encode_output(output)
        .map_err(|e| XrpcError::internal(format!("the output could not be encoded: {e}")))?;
    Ok(match encoded {
        None => StatusCode::OK.into_response(),
        Some(raw) => {
            let content_type = HeaderValue::from_str(&raw.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let mut response = (StatusCode::OK, raw.bytes).into_response();
            response.headers_mut().insert(CONTENT_TYPE, content_type);
            response
        }
    })
}

/// The request body, checked against the endpoint's declared encoding and
/// the limits, decoded and validated.
async fn read_input<E: ServerEndpoint>(
    parts: &Parts,
    body: Body,
    limits: Limits,
) -> Result<E::Input, XrpcError> {
    let content_type = match parts.headers.get(CONTENT_TYPE) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| XrpcError::invalid_request("Content-Type is not text"))?,
        ),
    };
    let Some(encoding) = E::INPUT_ENCODING else {
        // No input declared: a body is a mistake of the caller.
        let bytes = read_limited(parts, body, 0).await.map_err(|_| {
            XrpcError::invalid_request("A request body was provided when none was expected")
        })?;
        return E::decode_input(RawBody::new("", bytes))
            .map_err(|e| XrpcError::invalid_request(e.message));
    };
    let Some(content_type) = content_type else {
        return Err(XrpcError::invalid_request(format!(
            "Request encoding (Content-Type) required but not provided; expected {encoding}"
        )));
    };
    if !encoding_matches(encoding, content_type) {
        return Err(XrpcError::invalid_request(format!(
            "Wrong request encoding (Content-Type): {content_type}; expected {encoding}"
        )));
    }
    let limit = if is_json(content_type) || essence(content_type).starts_with("text/") {
        limits.json
    } else {
        limits.binary
    };
    let bytes = read_limited(parts, body, limit).await?;
    let input = E::decode_input(RawBody::new(content_type, bytes)).map_err(|e| {
        XrpcError::invalid_request(format!("Invalid input at {}: {}", e.path, e.message))
    })?;
    E::validate_input(&input)
        .map_err(|e| XrpcError::invalid_request(format!("Invalid input: {e}")))?;
    Ok(input)
}

/// Reads at most `limit` bytes of the body: a declared `Content-Length`
/// over it is refused before reading, and reading stops at the first byte
/// past it.
async fn read_limited(parts: &Parts, body: Body, limit: usize) -> Result<Vec<u8>, XrpcError> {
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(XrpcError::payload_too_large(limit));
    }
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            XrpcError::invalid_request(format!("the request body could not be read: {e}"))
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(XrpcError::payload_too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The MIME type without parameters, lower-cased.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json(content_type: &str) -> bool {
    essence(content_type) == "application/json"
}

/// Whether a request's content type fits the declared encoding: `*/*`
/// takes any, `image/*` any image type, anything else the same type
/// (parameters such as `charset` aside, case-insensitively).
fn encoding_matches(declared: &str, content_type: &str) -> bool {
    let declared = essence(declared);
    let actual = essence(content_type);
    if declared == "*/*" {
        return true;
    }
    match declared.strip_suffix("/*") {
        Some(top) => actual
            .split_once('/')
            .is_some_and(|(t, sub)| t == top && !sub.is_empty()),
        None => declared == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::encoding_matches;

    #[test]
    fn encodings() {
        assert!(encoding_matches(
            "application/json",
            "application/json; charset=utf-8"
        ));
        assert!(encoding_matches("application/json", "Application/JSON"));
        assert!(!encoding_matches("application/json", "text/plain"));
        assert!(encoding_matches("*/*", "image/png"));
        assert!(encoding_matches("image/*", "image/png"));
        assert!(!encoding_matches("image/*", "video/mp4"));
    }
}
