//! XRPC errors as a server answers them: an HTTP status and the JSON body
//! `{"error": NAME, "message": TEXT}`.

use std::fmt;

use atmo_types::xrpc::EndpointError;

use crate::service_auth::ServiceAuthError;

/// An XRPC error answer: the HTTP status, the error name and a message.
///
/// A handler returns one for any refusal. A declared error of the endpoint
/// (its generated `Error` enum) converts with `?` or `.into()` and answers
/// 400 with its name, as `@atproto/xrpc-server`'s `InvalidRequestError`
/// does; [`XrpcError::with_status`] picks another status (a 401 for
/// `AuthFactorTokenRequired`, say).
///
/// ```
/// use atmo_server::xrpc::XrpcError;
/// use atmo_api::app::bsky::feed::get_feed_skeleton::Error;
///
/// let e: XrpcError = Error::UnknownFeed(Some("no such feed".into())).into();
/// assert_eq!((e.status(), e.error()), (400, "UnknownFeed"));
/// assert_eq!(e.to_json().to_string(), r#"{"error":"UnknownFeed","message":"no such feed"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XrpcError {
    status: u16,
    error: String,
    message: Option<String>,
}

impl XrpcError {
    /// An error with this status, name and message.
    pub fn new(status: u16, error: impl Into<String>, message: Option<String>) -> Self {
        XrpcError {
            status,
            error: error.into(),
            message,
        }
    }

    /// 400 `InvalidRequest`: a parameter, the body or its encoding is not
    /// what the lexicon says.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequest", Some(message.into()))
    }

    /// 413 `PayloadTooLarge`: the body is over the limit of its kind.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            "PayloadTooLarge",
            Some(format!("request entity too large: over {limit} bytes")),
        )
    }

    /// 501 `MethodNotImplemented`: no handler for this NSID.
    pub fn method_not_implemented() -> Self {
        Self::new(
            501,
            "MethodNotImplemented",
            Some("Method Not Implemented".into()),
        )
    }

    /// 500 `InternalServerError`. The message is sent to the client: keep
    /// secrets and internals out of it.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalServerError", Some(message.into()))
    }

    /// A declared error of an endpoint (its generated `Error` enum): 400
    /// with the declared name and the error's message.
    pub fn declared<E: EndpointError>(error: &E) -> Self {
        Self::new(400, error.name(), error.message().map(str::to_owned))
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The error name (`InvalidRequest`, `UnknownFeed`...).
    pub fn error(&self) -> &str {
        &self.error
    }

    /// The message, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The JSON body: `{"error": ..., "message": ...}` (no `message` when
    /// there is none).
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.error.clone().into());
        if let Some(m) = &self.message {
            body.insert("message".into(), m.clone().into());
        }
        serde_json::Value::Object(body)
    }
}

impl fmt::Display for XrpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.error)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for XrpcError {}

impl<E: EndpointError> From<E> for XrpcError {
    fn from(error: E) -> Self {
        XrpcError::declared(&error)
    }
}

impl From<ServiceAuthError> for XrpcError {
    /// The refusal's status and name ([`ServiceAuthError::status`],
    /// [`ServiceAuthError::error_name`]) with its message.
    fn from(error: ServiceAuthError) -> Self {
        XrpcError::new(error.status(), error.error_name(), Some(error.to_string()))
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for XrpcError {
    /// The status and the JSON body, `Content-Type: application/json`.
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header, HeaderValue, StatusCode};
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.to_json().to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}
