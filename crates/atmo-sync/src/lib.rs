//! atproto's binary data: DAG-CBOR, CIDs, CAR files, the repository tree
//! (MST) and verified commits.
//!
//! Where it sits: `atmo-types` holds the data model's JSON side and the
//! runtime of the generated `atmo-api` types; this crate adds the binary
//! side under them. Generated record types decode from DAG-CBOR through the
//! same serde visitors they use for JSON ([`from_slice`]), so a record read
//! out of a repository is the same `app.bsky.feed.post` value JSON gives.
//!
//! - [`Cid`]: blessed CIDs (v1, dag-cbor or raw, sha2-256) as 36 bytes.
//! - [`Value`]: any data-model value, DAG-CBOR and JSON forms.
//! - [`from_slice`] / [`to_vec`]: serde over strict DAG-CBOR.
//! - [`car`]: CAR v1 reading with every block checked against its CID (from
//!   a slice, or from a tokio `AsyncRead` with the `async` feature).
//! - [`mst`] and [`repo`]: walking a repository to its records.
//! - [`commit`]: commits, their signatures, and per-repository sync state.
//! - [`event`]: event-stream frames and the full check of a `#commit` event.
//!   It holds the one implementation of the frame rules (size cap, header
//!   `{op, t}`, error frames, unknown ops, errors with offsets from the
//!   frame's start): [`event::read_frame`] is its untyped view, and
//!   `atmo-stream` decodes typed messages with the same functions.
//! - [`tree`]: changing an MST, and the Sync 1.1 commit-proof check
//!   ([`tree::invert_ops`]).
//!
//! Nothing here touches the network.
//!
//! ```
//! use atmo_sync::{from_slice, to_vec, Cid, Value};
//!
//! // The data model's JSON form to canonical DAG-CBOR and back.
//! let json = serde_json::json!({"$type": "com.example.note", "text": "hi",
//!     "data": {"$bytes": "AAEC"}, "ref": {"$link": Cid::for_raw(b"x").to_string()}});
//! let cbor = Value::from_json(&json)?.to_cbor();
//! assert_eq!(Value::from_cbor(&cbor)?.to_json(), json);
//! // Any serde type reads it; serializing writes the same bytes.
//! let any: serde_json::Value = from_slice(&cbor)?;
//! assert_eq!(to_vec(&any)?, cbor);
//! println!("{}", Cid::for_dag_cbor(&cbor));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Reading a repository (the bytes of `com.atproto.sync.getRepo`):
//!
//! ```no_run
//! # fn demo(car_bytes: &[u8], key: &atmo_crypto::PublicKey) -> Result<(), Box<dyn std::error::Error>> {
//! use atmo_api::app::bsky::feed::post::Post;
//! let repo = atmo_sync::Repo::from_car(car_bytes)?;   // every block hash-checked, tree walked
//! repo.commit().verify(key)?;                           // the `#atproto` key of the DID document
//! for (rkey, post) in repo.typed::<Post>() {
//!     println!("{rkey}: {}", post?.text);
//! }
//! for record in repo.records() {                        // every collection, raw
//!     println!("{}/{} {}", record.collection, record.rkey, record.value()?);
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cbor;
mod cid;
mod error;
mod value;

pub use cbor::{DecodeOptions, DEFAULT_MAX_DEPTH};
pub use cid::{Cid, CidError, DAG_CBOR, RAW};
pub use error::{DecodeError, EncodeError, Rule};
pub use value::{Map, Value};

mod de;
mod ser;

pub use de::{from_slice, from_slice_with, Deserializer};
pub use ser::{cid_of, to_vec, Serializer};

pub mod car;
pub mod commit;
pub mod event;
pub mod mst;
pub mod repo;
pub mod tree;

pub use car::{Car, CarError, CarLimits};
pub use commit::{Commit, CommitError, RepoState, Verdict};
pub use repo::{Record, Repo, RepoError};
