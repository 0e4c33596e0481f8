//! Typed XRPC servers from generated endpoints.
//!
//! Every query and procedure `atmo-api` (or your own lexicons, through
//! `atmo_lexgen::Builder::server`) generates implements
//! [`atmo_types::xrpc::ServerEndpoint`] with the generated crate's
//! `server` feature: its parameters, input, output and declared errors
//! are known, so a handler is an async function from a checked
//! `XrpcRequest` to the endpoint's `Output`.
//!
//! - Always: [`XrpcError`] (status, name, message; declared errors convert
//!   into it) and [`decode_params`] (a query string into the generated
//!   `Parameters`, checked against the lexicon).
//! - Feature `axum`: `XrpcRouter`, handlers registered by endpoint on
//!   axum (`/xrpc/<NSID>`, 501 `MethodNotImplemented` for the others),
//!   with body `Limits` and content-type checks, and subscriptions over
//!   WebSocket (`XrpcRouter::subscription`, `Broadcaster`, and the frame
//!   encoders `encode_message` and `encode_error`).
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # fn main() {
//! use atmo_api::app::bsky::feed::{describe_feed_generator, get_feed_skeleton};
//! use atmo_server::xrpc::{XrpcError, XrpcRequest, XrpcRouter};
//!
//! let app: axum::Router = XrpcRouter::new()
//!     .handler(|req: XrpcRequest<get_feed_skeleton::GetFeedSkeleton>| async move {
//!         let _cursor = req.params.cursor;
//!         Ok(get_feed_skeleton::Output::new(Vec::new()))
//!     })
//!     .handler(|_: XrpcRequest<describe_feed_generator::DescribeFeedGenerator>| async move {
//!         Err::<describe_feed_generator::Output, _>(XrpcError::internal("not yet"))
//!     })
//!     .into_router();
//! # }
//! # #[cfg(not(feature = "axum"))]
//! # fn main() {}
//! ```

mod error;
mod params;
#[cfg(feature = "axum")]
mod router;
#[cfg(feature = "axum")]
mod subscription;

pub use error::XrpcError;
pub use params::{decode_params, decode_params_of, query_pairs, ParamsError, QueryDeserializer};
#[cfg(feature = "axum")]
pub use router::{Limits, XrpcRequest, XrpcRouter};
#[cfg(feature = "axum")]
pub use subscription::{
    encode_error, encode_message, Broadcaster, SubscriptionOptions, SubscriptionRequest,
};
