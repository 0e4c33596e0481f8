//! atproto event streams: the repository firehose
//! (`com.atproto.sync.subscribeRepos`), label streams
//! (`com.atproto.label.subscribeLabels`) and any other subscription the
//! lexicon generator emits, as typed messages.
//!
//! Where it sits: above `atmo-sync` (DAG-CBOR, CAR, commits, the MST)
//! and `atmo-api` (the generated message types), beside
//! `atmo-identity` (signing keys for verification) and `atmo-xrpc`
//! (the service-URL policy). The `atproto` command (`atmo-cli`) uses it
//! for `atproto firehose`.
//!
//! - [`frame`]: a frame is two DAG-CBOR objects back to back, a header
//!   `{op, t}` and a body. [`decode_frame`] reads one into the
//!   subscription's generated union; error frames (`op = -1`) become
//!   [`ErrorFrame`]s with typed errors ([`ErrorFrame::typed`]); unknown `t`
//!   values and unknown fields pass through as unknown; frames over the
//!   cap, garbage and trailing bytes are [`FrameError`]s. No network.
//!   The frame rules themselves (cap, header, error bodies, errors and
//!   their offsets) are [`atmo_sync::event`]'s, shared with its untyped
//!   [`atmo_sync::event::read_frame`]; only the body decoding is typed
//!   here.
//! - [`Subscription`]: an endpoint's NSID, message union and errors
//!   ([`SubscribeRepos`], [`SubscribeLabels`], or your own).
//! - [`RepoEvent`] / [`CommitEvent`]: firehose messages with each commit's
//!   records read out of its CAR slice ([`RecordOp`]).
//! - [`verify`]: commit signature against the DID's `#atproto` key,
//!   Sync 1.1 `prevData` proof, and per-repository state that turns a gap
//!   into [`Check::Resync`].
//! - Feature `ws` (default): [`Subscriber`], the WebSocket client with
//!   reconnects (exponential backoff with jitter), resumption from the
//!   last `seq` handed out with replays dropped (each event once), a
//!   ping/read-timeout watchdog, a cursor hook, and no internal queue (a
//!   slow consumer slows the socket); [`Firehose`] on top of it.
//! - Feature `verify` (default): [`Verifier`] (keys through
//!   `atmo-identity`) and [`labels`] (label signatures against the
//!   labeler's `#atproto_label` key).
//! - Feature `jetstream` (off: zstd builds C code): [`jetstream`], a
//!   client for Bluesky's JSON firehose with the same guarantees, commit
//!   records decoded into the generated types.
//!
//! Decoding a frame offline:
//!
//! ```
//! use atmo_stream::{decode_frame, encode_error_frame, Frame, SubscribeRepos, DEFAULT_MAX_FRAME_SIZE};
//! use atmo_api::com::atproto::sync::subscribe_repos::Error;
//!
//! let bytes = encode_error_frame("FutureCursor", Some("cursor in the future"));
//! let Frame::Error(e) = decode_frame::<SubscribeRepos>(&bytes, DEFAULT_MAX_FRAME_SIZE)? else {
//!     unreachable!()
//! };
//! assert!(matches!(e.typed::<SubscribeRepos>(), Some(Error::FutureCursor(_))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod event;
pub mod frame;
pub mod subscription;
pub mod verify;

#[cfg(feature = "verify")]
pub mod labels;

#[cfg(feature = "ws")]
mod client;
#[cfg(feature = "ws")]
mod firehose;
#[cfg(feature = "jetstream")]
pub mod jetstream;
#[cfg(feature = "ws")]
mod socket;

pub use event::{Action, CommitEvent, EventError, EventErrorKind, RecordOp, RepoEvent};
pub use frame::{
    decode_frame, encode_error_frame, encode_frame, ErrorFrame, Frame, FrameError, Header,
    DEFAULT_MAX_FRAME_SIZE,
};
pub use subscription::{SubscribeLabels, SubscribeRepos, Subscription};
#[cfg(feature = "verify")]
pub use verify::Verifier;
pub use verify::{Check, VerifyError};

#[cfg(feature = "ws")]
pub use client::{Config, ConnectionEvent, StreamError, Subscriber, SubscriberBuilder};
#[cfg(feature = "ws")]
pub use firehose::{Firehose, FirehoseError};

pub use atmo_api;
pub use atmo_sync;
