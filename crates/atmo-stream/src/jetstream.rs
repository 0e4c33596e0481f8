//! Jetstream: Bluesky's JSON firehose (v1, `GET /subscribe` over
//! WebSocket), as typed events.
//!
//! A Jetstream instance reads the relay's firehose and sends each commit op,
//! identity change and account change as one small JSON object, filtered
//! server-side by collection and DID:
//!
//! ```json
//! {"did":"did:plc:…","time_us":1725911162329308,"kind":"commit",
//!  "commit":{"rev":"…","operation":"create","collection":"app.bsky.feed.post",
//!            "rkey":"…","record":{"$type":"app.bsky.feed.post",…},"cid":"bafy…"}}
//! ```
//!
//! [`Jetstream`] is built from a [`JetstreamConfig`] and read with
//! [`Jetstream::next`]. It runs on the same connection machinery as
//! [`crate::Subscriber`] (TCP, TLS with the platform's roots, the
//! WebSocket handshake with a size cap, exponential backoff with jitter,
//! the ping/read-timeout watchdog) and keeps the same promises:
//!
//! - **Reconnects resume from the cursor.** The cursor is the `time_us` of
//!   the newest event handed out minus [`JetstreamConfig::rewind`] (2 s by
//!   default): Jetstream emits events slightly out of `time_us` order (it
//!   processes repositories in parallel), so resuming exactly at the newest
//!   one could skip an older one not yet sent.
//! - **Each event once.** What the rewind replays is dropped: the client
//!   remembers a fingerprint (time, DID, kind, and the commit's revision,
//!   collection and key, or the identity/account `seq`) of every event it
//!   handed out within the rewind window, so events that share a
//!   microsecond are told apart and none is dropped by mistake.
//! - **Bounded memory, no internal queue.** A frame is read when the
//!   consumer asks for the next event: a slow consumer is back-pressure on
//!   the socket (the TCP window fills and Jetstream drops the slow
//!   client, after which this one resumes from its cursor). The only state
//!   that grows with traffic is the fingerprint window, capped at
//!   [`MAX_REMEMBERED`] entries.
//! - **Size cap.** Messages over [`crate::Config::max_frame_size`] are
//!   refused ([`JetstreamError::TooLarge`]), compressed ones before they are
//!   inflated; the cap is also sent as `maxMessageSizeBytes` (unless set
//!   otherwise), so Jetstream itself skips larger events.
//! - **Bad input is typed.** A message that is not a valid event is
//!   reported ([`JetstreamError::Decode`]) and skipped; the stream goes on.
//!
//! Compression: with [`JetstreamConfig::zstd_dictionary`] the client asks
//! for `compress=true` and inflates each binary frame with that dictionary.
//! Jetstream compresses with a fixed, published dictionary, which this crate
//! does not ship: take `internal/subscribe/dictionaries/legacy_subscribe.zdict`
//! from the `bluesky-social/jetstream` repository (also served by v2's
//! `network.bsky.jetstream.getZstdDictionary`) and pass its bytes. Asking for
//! compression without a dictionary is refused
//! ([`JetstreamError::MissingDictionary`]); frames compressed with another
//! dictionary end the stream with [`JetstreamError::WrongDictionary`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use atmo_api::app::bsky::feed::post::Post;
//! use atmo_stream::jetstream::{EventBody, JetstreamConfig};
//!
//! let mut js = JetstreamConfig::new("wss://jetstream2.us-east.bsky.network")
//!     .wanted_collections(["app.bsky.feed.post"])
//!     .build()?;
//! while let Some(item) = js.next().await {
//!     match item {
//!         Ok(event) => {
//!             if let EventBody::Commit(c) = &event.body {
//!                 if let Ok(Some(post)) = c.record_as::<Post>() {
//!                     println!("{}: {}", event.did, post.text);
//!                 }
//!             }
//!         }
//!         Err(e) if e.is_fatal() => return Err(e.into()),
//!         Err(e) => eprintln!("skipped: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use atmo_types::object::Record;
use atmo_types::{Did, Nsid};
use atmo_xrpc::{check_url, ServiceUrl, UrlError};
use futures_util::SinkExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use crate::client::{on_connection_setter, open_socket, port_of, Config, Conn, ConnectionEvent};
use crate::socket::{next_message, Reconnect, Reconnecting};

/// Most collections Jetstream accepts in `wantedCollections`.
pub const MAX_WANTED_COLLECTIONS: usize = 100;
/// Most DIDs Jetstream accepts in `wantedDids`.
pub const MAX_WANTED_DIDS: usize = 10_000;
/// Most event fingerprints kept for dropping replays after a reconnect
/// (8 bytes each plus their time). A window with more events than this
/// forgets its oldest, which could then be handed out twice, never lost.
pub const MAX_REMEMBERED: usize = 1 << 18;
/// The default [`JetstreamConfig::rewind`].
pub const DEFAULT_REWIND: Duration = Duration::from_secs(2);

/// The zstd frame magic number, little-endian, as frames start.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

// ---------------------------------------------------------------------------
// Events

/// One Jetstream event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The repository (account) the event is about.
    pub did: String,
    /// When Jetstream received it, in microseconds since the Unix epoch: the
    /// event's cursor.
    pub time_us: i64,
    /// What happened.
    pub body: EventBody,
}

/// The kind-specific part of an [`Event`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventBody {
    /// `kind: "commit"`: one record created, updated or deleted.
    Commit(Commit),
    /// `kind: "identity"`: the DID's handle or document may have changed.
    Identity(Identity),
    /// `kind: "account"`: the account's hosting status changed.
    Account(Account),
    /// A kind this client does not know, passed through: the whole event as
    /// sent.
    Unknown {
        /// The `kind` value.
        kind: String,
        /// The event's JSON.
        raw: Box<RawValue>,
    },
}

impl PartialEq for EventBody {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (EventBody::Commit(a), EventBody::Commit(b)) => a == b,
            (EventBody::Identity(a), EventBody::Identity(b)) => a == b,
            (EventBody::Account(a), EventBody::Account(b)) => a == b,
            (
                EventBody::Unknown { kind: ka, raw: ra },
                EventBody::Unknown { kind: kb, raw: rb },
            ) => ka == kb && ra.get() == rb.get(),
            _ => false,
        }
    }
}

impl Event {
    /// Decodes one event from its JSON text. The error names the line and
    /// column where the JSON is invalid, or the field that does not fit.
    pub fn from_json(text: &[u8]) -> Result<Event, serde_json::Error> {
        #[derive(Deserialize)]
        struct Wire<'a> {
            did: String,
            time_us: i64,
            #[serde(borrow)]
            kind: std::borrow::Cow<'a, str>,
            #[serde(default)]
            commit: Option<Commit>,
            #[serde(default)]
            identity: Option<Identity>,
            #[serde(default)]
            account: Option<Account>,
        }
        let wire: Wire<'_> = serde_json::from_slice(text)?;
        let missing = |field: &str| {
            <serde_json::Error as serde::de::Error>::custom(format_args!(
                "a {} event without its {field:?} object",
                wire.kind
            ))
        };
        let body = match &*wire.kind {
            "commit" => EventBody::Commit(wire.commit.ok_or_else(|| missing("commit"))?),
            "identity" => EventBody::Identity(wire.identity.ok_or_else(|| missing("identity"))?),
            "account" => EventBody::Account(wire.account.ok_or_else(|| missing("account"))?),
            other => EventBody::Unknown {
                kind: other.to_owned(),
                raw: serde_json::from_slice(text)?,
            },
        };
        Ok(Event {
            did: wire.did,
            time_us: wire.time_us,
            body,
        })
    }

    /// The commit, for commit events.
    pub fn commit(&self) -> Option<&Commit> {
        match &self.body {
            EventBody::Commit(c) => Some(c),
            _ => None,
        }
    }

    /// What tells this event from any other with the same `time_us`.
    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.time_us.hash(&mut h);
        self.did.hash(&mut h);
        match &self.body {
            EventBody::Commit(c) => {
                0u8.hash(&mut h);
                c.rev.hash(&mut h);
                c.collection.hash(&mut h);
                c.rkey.hash(&mut h);
                c.operation.as_str().hash(&mut h);
            }
            EventBody::Identity(i) => {
                1u8.hash(&mut h);
                i.seq.hash(&mut h);
            }
            EventBody::Account(a) => {
                2u8.hash(&mut h);
                a.seq.hash(&mut h);
            }
            EventBody::Unknown { kind, raw } => {
                3u8.hash(&mut h);
                kind.hash(&mut h);
                raw.get().hash(&mut h);
            }
        }
        h.finish()
    }
}

/// What a commit did to its record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// A new record.
    Create,
    /// A record replaced.
    Update,
    /// A record removed (the event has no record).
    Delete,
    /// An operation this client does not know.
    Other(String),
}

impl Operation {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Other(s) => s,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(match &*s {
            "create" => Operation::Create,
            "update" => Operation::Update,
            "delete" => Operation::Delete,
            other => Operation::Other(other.to_owned()),
        })
    }
}

impl Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The `commit` object of a commit event.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Commit {
    /// The repository revision (a TID) of the commit.
    pub rev: String,
    /// Create, update or delete.
    pub operation: Operation,
    /// The record's collection NSID.
    pub collection: String,
    /// The record key.
    pub rkey: String,
    /// The record as JSON (absent for deletes). Kept as text, whatever its
    /// collection: decode it with [`Commit::record_as`] or
    /// [`Commit::record_json`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Box<RawValue>>,
    /// The record's CID (absent for deletes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

impl PartialEq for Commit {
    fn eq(&self, other: &Self) -> bool {
        self.rev == other.rev
            && self.operation == other.operation
            && self.collection == other.collection
            && self.rkey == other.rkey
            && self.record.as_ref().map(|r| r.get()) == other.record.as_ref().map(|r| r.get())
            && self.cid == other.cid
    }
}

/// Why [`Commit::record_as`] could not decode a record.
#[derive(Debug)]
pub struct RecordError {
    /// The collection.
    pub collection: String,
    /// The record key.
    pub rkey: String,
    /// What did not fit (with the line and column in the record's JSON).
    pub error: serde_json::Error,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {}/{} does not decode: {}",
            self.collection, self.rkey, self.error
        )
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl Commit {
    /// The record decoded as the generated type `T`, e.g.
    /// `record_as::<atmo_api::app::bsky::feed::post::Post>()`:
    /// `Ok(None)` when the commit is about another collection than
    /// `T::NSID` or carries no record (a delete); an error when it is `T`'s
    /// collection but the record does not fit `T` (its `$type` included).
    pub fn record_as<T: Record>(&self) -> Result<Option<T>, RecordError> {
        if self.collection != T::NSID {
            return Ok(None);
        }
        let Some(raw) = &self.record else {
            return Ok(None);
        };
        serde_json::from_str(raw.get())
            .map(Some)
            .map_err(|error| RecordError {
                collection: self.collection.clone(),
                rkey: self.rkey.clone(),
                error,
            })
    }

    /// The record as a JSON value, for collections without a generated
    /// type (`None` for deletes).
    pub fn record_json(&self) -> Option<serde_json::Value> {
        let raw = self.record.as_ref()?;
        serde_json::from_str(raw.get()).ok()
    }

    /// `at://<did>/<collection>/<rkey>` of the record, given the event's DID.
    pub fn uri(&self, did: &str) -> String {
        format!("at://{did}/{}/{}", self.collection, self.rkey)
    }
}

/// The `identity` object of an identity event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Identity {
    /// The DID.
    pub did: String,
    /// The handle, when the relay sent one (check it before trusting it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// The relay's sequence number of the event.
    pub seq: i64,
    /// When the relay emitted it (RFC 3339).
    pub time: String,
}

/// The `account` object of an account event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Account {
    /// Whether the account is active.
    pub active: bool,
    /// The DID.
    pub did: String,
    /// The relay's sequence number of the event.
    pub seq: i64,
    /// When the relay emitted it (RFC 3339).
    pub time: String,
    /// Why the account is inactive (`takendown`, `suspended`,
    /// `deactivated`, `deleted`, …), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

// ---------------------------------------------------------------------------
// Options and errors

/// The server-side filters, sent in the query string and in
/// `options_update` messages ([`Jetstream::update_options`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Collections to receive commits of (at most
    /// [`MAX_WANTED_COLLECTIONS`]); an NSID or a prefix ending `.*`
    /// (`app.bsky.graph.*`). Empty: all. Identity and account events are
    /// sent whatever this says.
    pub wanted_collections: Vec<String>,
    /// Repositories to receive events of (at most [`MAX_WANTED_DIDS`]).
    /// Empty: all.
    pub wanted_dids: Vec<String>,
    /// Largest event, in bytes, Jetstream should send; larger ones are
    /// skipped by the server. `None`: the client's frame cap
    /// ([`Config::max_frame_size`]).
    pub max_message_size_bytes: Option<u64>,
}

impl Options {
    /// Checks the limits and syntax Jetstream enforces, so a mistake is
    /// reported here rather than as a dropped connection.
    pub fn validate(&self) -> Result<(), JetstreamError> {
        if self.wanted_collections.len() > MAX_WANTED_COLLECTIONS {
            return Err(JetstreamError::TooManyCollections {
                count: self.wanted_collections.len(),
            });
        }
        if self.wanted_dids.len() > MAX_WANTED_DIDS {
            return Err(JetstreamError::TooManyDids {
                count: self.wanted_dids.len(),
            });
        }
        for c in &self.wanted_collections {
            let ok = match c.strip_suffix(".*") {
                Some(prefix) => {
                    !prefix.is_empty()
                        && prefix.split('.').all(|seg| {
                            !seg.is_empty()
                                && seg.len() <= 63
                                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        })
                }
                None => Nsid::check(c).is_ok(),
            };
            if !ok {
                return Err(JetstreamError::InvalidCollection(c.clone()));
            }
        }
        for d in &self.wanted_dids {
            if Did::check(d).is_err() {
                return Err(JetstreamError::InvalidDid(d.clone()));
            }
        }
        Ok(())
    }

    /// The `options_update` message for these filters, with the size cap
    /// `max` when none is set.
    fn update_message(&self, max: usize) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Payload<'a> {
            wanted_collections: &'a [String],
            wanted_dids: &'a [String],
            max_message_size_bytes: u64,
        }
        #[derive(Serialize)]
        struct Msg<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            payload: Payload<'a>,
        }
        let msg = Msg {
            kind: "options_update",
            payload: Payload {
                wanted_collections: &self.wanted_collections,
                wanted_dids: &self.wanted_dids,
                max_message_size_bytes: self.max_size(max),
            },
        };
        // Strings and integers only: serializing cannot fail.
        serde_json::to_string(&msg).unwrap_or_default()
    }

    fn max_size(&self, max: usize) -> u64 {
        self.max_message_size_bytes
            .unwrap_or(u64::try_from(max).unwrap_or(u64::MAX))
    }
}

/// What went wrong with a Jetstream subscription.
#[derive(Debug)]
#[non_exhaustive]
pub enum JetstreamError {
    /// The service URL is invalid, or plain `ws://` to a non-loopback host.
    Url(UrlError),
    /// More than [`MAX_WANTED_COLLECTIONS`] collections.
    TooManyCollections {
        /// How many were given.
        count: usize,
    },
    /// More than [`MAX_WANTED_DIDS`] DIDs.
    TooManyDids {
        /// How many were given.
        count: usize,
    },
    /// A wanted collection that is neither an NSID nor a `prefix.*`.
    InvalidCollection(String),
    /// A wanted DID that is not a DID.
    InvalidDid(String),
    /// Compression asked for without a dictionary, or a compressed frame
    /// arrived and no dictionary is configured: Jetstream's frames cannot
    /// be read without its dictionary. The stream ends.
    MissingDictionary,
    /// The dictionary given is not one zstd can load.
    InvalidDictionary(String),
    /// A frame was compressed with another dictionary than the configured
    /// one (their IDs differ). No frame could be read, so the stream ends.
    WrongDictionary {
        /// The dictionary ID the frame names.
        frame: u32,
        /// The ID of the configured dictionary.
        configured: u32,
    },
    /// A compressed frame did not inflate; it is skipped.
    Decompress(String),
    /// A message over the size cap was refused. When the WebSocket layer
    /// refused it the connection is replaced (the cursor resumes after the
    /// last event handed out); an inflated frame over the cap is skipped.
    TooLarge {
        /// Its size, when known.
        size: Option<u64>,
        /// The cap ([`Config::max_frame_size`]).
        max: usize,
    },
    /// A message is not a valid event (JSON syntax, a missing field, a
    /// wrong type); it is skipped and the stream goes on.
    Decode {
        /// Its length in bytes.
        len: usize,
        /// What and where (line and column).
        error: serde_json::Error,
    },
    /// An `options_update` could not be sent; the connection is replaced
    /// and the new options go in its query string.
    Send(String),
    /// Connecting or reading failed `attempts` times in a row
    /// ([`Config::max_attempts`]); the stream ends.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

impl JetstreamError {
    /// Whether the stream ends after this error (or, from
    /// [`JetstreamConfig::build`], never starts).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            JetstreamError::Decompress(_)
                | JetstreamError::TooLarge { .. }
                | JetstreamError::Decode { .. }
                | JetstreamError::Send(_)
        )
    }
}

impl fmt::Display for JetstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JetstreamError::Url(e) => e.fmt(f),
            JetstreamError::TooManyCollections { count } => write!(
                f,
                "{count} wanted collections: Jetstream accepts at most {MAX_WANTED_COLLECTIONS}"
            ),
            JetstreamError::TooManyDids { count } => write!(
                f,
                "{count} wanted DIDs: Jetstream accepts at most {MAX_WANTED_DIDS}"
            ),
            JetstreamError::InvalidCollection(c) => write!(
                f,
                "wanted collection {c:?} is neither an NSID nor a prefix ending \".*\""
            ),
            JetstreamError::InvalidDid(d) => write!(f, "wanted DID {d:?} is not a DID"),
            JetstreamError::MissingDictionary => f.write_str(
                "Jetstream compresses with its zstd dictionary, and none is configured \
                 (JetstreamConfig::zstd_dictionary; the file is \
                 internal/subscribe/dictionaries/legacy_subscribe.zdict of bluesky-social/jetstream)",
            ),
            JetstreamError::InvalidDictionary(e) => write!(f, "invalid zstd dictionary: {e}"),
            JetstreamError::WrongDictionary { frame, configured } => write!(
                f,
                "a frame is compressed with zstd dictionary {frame}, the configured one is {configured}"
            ),
            JetstreamError::Decompress(e) => write!(f, "a compressed frame does not inflate: {e}"),
            JetstreamError::TooLarge { size: Some(s), max } => {
                write!(f, "a {s}-byte message is over the {max}-byte cap")
            }
            JetstreamError::TooLarge { size: None, max } => {
                write!(f, "a message is over the {max}-byte cap")
            }
            JetstreamError::Decode { len, error } => {
                write!(f, "a {len}-byte message is not a Jetstream event: {error}")
            }
            JetstreamError::Send(e) => write!(f, "sending options_update: {e}"),
            JetstreamError::GaveUp { attempts, last } => {
                write!(f, "gave up after {attempts} failed attempts; last: {last}")
            }
        }
    }
}

impl std::error::Error for JetstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JetstreamError::Url(e) => Some(e),
            JetstreamError::Decode { error, .. } => Some(error),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Configuration

type CursorHook = Box<dyn FnMut(i64) + Send + Sync>;
type ConnectionHook = Box<dyn FnMut(&ConnectionEvent) + Send + Sync>;

/// Builds a [`Jetstream`]: the instance, filters, cursor, compression and
/// tuning.
pub struct JetstreamConfig {
    service: String,
    allow_insecure_http: bool,
    options: Options,
    cursor: Option<i64>,
    compress: bool,
    dictionary: Option<Vec<u8>>,
    require_hello: bool,
    rewind: Duration,
    tuning: Config,
    on_cursor: Option<CursorHook>,
    on_connection: Option<ConnectionHook>,
}

impl fmt::Debug for JetstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetstreamConfig")
            .field("service", &self.service)
            .field("options", &self.options)
            .field("cursor", &self.cursor)
            .field("compress", &self.compress)
            .field("dictionary_len", &self.dictionary.as_ref().map(Vec::len))
            .field("require_hello", &self.require_hello)
            .field("rewind", &self.rewind)
            .field("tuning", &self.tuning)
            .finish()
    }
}

impl JetstreamConfig {
    /// A subscription to the Jetstream instance at `service`
    /// (`wss://host`, `https://host`, or plain `ws`/`http` to loopback; a
    /// path, such as `/subscribe`, is ignored). Live, uncompressed, no
    /// filters.
    pub fn new(service: impl Into<String>) -> Self {
        JetstreamConfig {
            service: service.into(),
            allow_insecure_http: false,
            options: Options::default(),
            cursor: None,
            compress: false,
            dictionary: None,
            require_hello: false,
            rewind: DEFAULT_REWIND,
            tuning: Config::default(),
            on_cursor: None,
            on_connection: None,
        }
    }

    /// Only commits in these collections (NSIDs or `prefix.*`, at most
    /// [`MAX_WANTED_COLLECTIONS`]).
    pub fn wanted_collections<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        collections: I,
    ) -> Self {
        self.options.wanted_collections = collections.into_iter().map(Into::into).collect();
        self
    }

    /// Only events of these repositories (at most [`MAX_WANTED_DIDS`]).
    pub fn wanted_dids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, dids: I) -> Self {
        self.options.wanted_dids = dids.into_iter().map(Into::into).collect();
        self
    }

    /// Ask Jetstream to skip events larger than this many bytes (default:
    /// the frame cap of [`Self::tuning`]).
    pub fn max_message_size_bytes(mut self, max: u64) -> Self {
        self.options.max_message_size_bytes = Some(max);
        self
    }

    /// All filters at once.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Start from this `time_us` (microseconds since the Unix epoch)
    /// rather than live. To resume after a restart, pass the last
    /// [`Jetstream::cursor`] saved (through [`Self::on_cursor`]): it is
    /// already rewound, so nothing is missed, and up to
    /// [`Self::rewind`] of events may come again (the replay filter lives
    /// in memory).
    pub fn cursor(mut self, time_us: Option<i64>) -> Self {
        self.cursor = time_us;
        self
    }

    /// Ask for zstd-compressed frames (`compress=true`), inflated with this
    /// dictionary: Jetstream's published one, the bytes of
    /// `internal/subscribe/dictionaries/legacy_subscribe.zdict` of
    /// `bluesky-social/jetstream`. Turns compression on.
    pub fn zstd_dictionary(mut self, dictionary: impl Into<Vec<u8>>) -> Self {
        self.dictionary = Some(dictionary.into());
        self.compress = true;
        self
    }

    /// Ask for compressed frames or not. On without
    /// [`Self::zstd_dictionary`], [`Self::build`] refuses with
    /// [`JetstreamError::MissingDictionary`].
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Send `requireHello=true`: Jetstream then waits for an
    /// `options_update` before sending anything, which the client sends
    /// first thing on every connection (with the current options).
    pub fn require_hello(mut self, require: bool) -> Self {
        self.require_hello = require;
        self
    }

    /// How far before the newest event handed out a reconnect resumes
    /// (default [`DEFAULT_REWIND`]); replays are dropped.
    pub fn rewind(mut self, rewind: Duration) -> Self {
        self.rewind = rewind;
        self
    }

    /// Timeouts, backoff, attempts and the frame cap, as for
    /// [`crate::Subscriber`].
    pub fn tuning(mut self, config: Config) -> Self {
        self.tuning = config;
        self
    }

    /// Allow plain `ws://`/`http://` to a non-loopback host (default off).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Called with [`Jetstream::cursor`] after each event is handed out:
    /// persist it now and then, and pass it to [`Self::cursor`] after a
    /// restart.
    pub fn on_cursor(mut self, hook: impl FnMut(i64) + Send + Sync + 'static) -> Self {
        self.on_cursor = Some(Box::new(hook));
        self
    }

    on_connection_setter!();

    /// The client (it connects on the first [`Jetstream::next`]). Refuses a
    /// bad URL, filters over Jetstream's limits, compression without a
    /// dictionary and a dictionary zstd cannot load.
    pub fn build(self) -> Result<Jetstream, JetstreamError> {
        self.options.validate()?;
        let text = match self.service.split_once("://") {
            Some(("wss", rest)) => format!("https://{rest}"),
            Some(("ws", rest)) => format!("http://{rest}"),
            _ => self.service.clone(),
        };
        let url = check_url(&text, self.allow_insecure_http).map_err(JetstreamError::Url)?;
        let inflater = match (&self.dictionary, self.compress) {
            (_, false) => None,
            (None, true) => return Err(JetstreamError::MissingDictionary),
            (Some(d), true) => Some(Inflater::new(d)?),
        };
        let port = port_of(&url);
        Ok(Jetstream {
            url,
            port,
            options: self.options,
            require_hello: self.require_hello,
            rewind_us: i64::try_from(self.rewind.as_micros()).unwrap_or(i64::MAX),
            tuning: self.tuning,
            inflater,
            start_cursor: self.cursor,
            newest: None,
            recent: Recent::default(),
            socket: Reconnecting::new(
                self.on_connection,
                "no message and no pong within the read timeout",
            ),
            on_cursor: self.on_cursor,
        })
    }
}

/// zstd decompression with the configured dictionary, loaded once.
struct Inflater {
    ctx: zstd::bulk::Decompressor<'static>,
    dict_id: u32,
    /// Room for frames that do not declare their size.
    scratch: Vec<u8>,
}

impl Inflater {
    fn new(dictionary: &[u8]) -> Result<Inflater, JetstreamError> {
        let ctx = zstd::bulk::Decompressor::with_dictionary(dictionary)
            .map_err(|e| JetstreamError::InvalidDictionary(e.to_string()))?;
        let dict_id = zstd::zstd_safe::get_dict_id_from_dict(dictionary)
            .map(|id| id.get())
            .unwrap_or(0);
        Ok(Inflater {
            ctx,
            dict_id,
            scratch: Vec::new(),
        })
    }

    /// Inflates one frame, refusing output over `max` bytes.
    fn inflate(&mut self, frame: &[u8], max: usize) -> Result<Vec<u8>, JetstreamError> {
        let frame_dict = zstd::zstd_safe::get_dict_id_from_frame(frame)
            .map(|id| id.get())
            .unwrap_or(0);
        if frame_dict != 0 && self.dict_id != 0 && frame_dict != self.dict_id {
            return Err(JetstreamError::WrongDictionary {
                frame: frame_dict,
                configured: self.dict_id,
            });
        }
        let declared = zstd::zstd_safe::get_frame_content_size(frame)
            .ok()
            .flatten();
        match declared {
            Some(n) if n > max as u64 => Err(JetstreamError::TooLarge { size: Some(n), max }),
            // The frame says how large it is: exactly that much room.
            Some(n) => self
                .ctx
                .decompress(frame, n as usize)
                .map_err(|e| JetstreamError::Decompress(e.to_string())),
            // It does not: inflate into a buffer of the cap, allocated once
            // and reused, and copy out what it holds.
            None => {
                self.scratch.clear();
                self.scratch.reserve(max);
                match self.ctx.decompress_to_buffer(frame, &mut self.scratch) {
                    Ok(len) if len <= max => Ok(self.scratch[..len].to_vec()),
                    Ok(len) => Err(JetstreamError::TooLarge {
                        size: Some(len as u64),
                        max,
                    }),
                    Err(e) if e.to_string().contains("too small") => {
                        Err(JetstreamError::TooLarge { size: None, max })
                    }
                    Err(e) => Err(JetstreamError::Decompress(e.to_string())),
                }
            }
        }
    }
}

/// Fingerprints of the events handed out within the rewind window, for
/// dropping what a reconnect replays.
#[derive(Default)]
struct Recent {
    order: VecDeque<(i64, u64)>,
    set: HashSet<u64>,
}

impl Recent {
    fn contains(&self, fp: u64) -> bool {
        self.set.contains(&fp)
    }

    /// Remembers `fp` and forgets what fell out of the window (events older
    /// than `floor`) or over the cap.
    fn insert(&mut self, time_us: i64, fp: u64, floor: i64) {
        if self.set.insert(fp) {
            self.order.push_back((time_us, fp));
        }
        while let Some(&(t, old)) = self.order.front() {
            if t >= floor && self.order.len() <= MAX_REMEMBERED {
                break;
            }
            self.order.pop_front();
            self.set.remove(&old);
        }
    }
}

// ---------------------------------------------------------------------------
// The client

/// A Jetstream subscription, read event by event (see the
/// [module documentation](self) for its guarantees).
pub struct Jetstream {
    url: ServiceUrl,
    port: u16,
    options: Options,
    require_hello: bool,
    rewind_us: i64,
    tuning: Config,
    inflater: Option<Inflater>,
    start_cursor: Option<i64>,
    /// The newest `time_us` handed out.
    newest: Option<i64>,
    recent: Recent,
    socket: Reconnecting,
    on_cursor: Option<CursorHook>,
}

impl fmt::Debug for Jetstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jetstream")
            .field("url", &self.url.as_str())
            .field("options", &self.options)
            .field("cursor", &self.cursor())
            .field("compressed", &self.inflater.is_some())
            .field("connected", &self.socket.is_connected())
            .finish()
    }
}

impl Jetstream {
    /// The cursor a reconnect would send: the newest `time_us` handed out
    /// minus the rewind, or the starting cursor before any event.
    pub fn cursor(&self) -> Option<i64> {
        match self.newest {
            Some(t) => Some(t.saturating_sub(self.rewind_us)),
            None => self.start_cursor,
        }
    }

    /// The current filters.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The WebSocket URL the next connection uses.
    pub fn url(&self) -> String {
        let mut url = self.url.as_str().to_owned();
        url.push_str("subscribe");
        let mut sep = '?';
        let mut push = |k: &str, v: &str| {
            url.push(sep);
            sep = '&';
            url.push_str(k);
            url.push('=');
            percent_encode(v, &mut url);
        };
        for c in &self.options.wanted_collections {
            push("wantedCollections", c);
        }
        for d in &self.options.wanted_dids {
            push("wantedDids", d);
        }
        if let Some(c) = self.cursor() {
            push("cursor", &c.to_string());
        }
        if self.inflater.is_some() {
            push("compress", "true");
        }
        if self.require_hello {
            push("requireHello", "true");
        }
        push(
            "maxMessageSizeBytes",
            &self
                .options
                .max_size(self.tuning.max_frame_size)
                .to_string(),
        );
        match url.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => url,
        }
    }

    /// Changes the filters. On a live connection an `options_update` is
    /// sent at once (Jetstream applies it to what follows); the options are
    /// also used for every later connection. Invalid options are refused
    /// and the current ones kept; when sending fails, the connection is
    /// dropped and the next [`Self::next`] reconnects with the new options
    /// in the query string (the error says so, and is not fatal).
    pub async fn update_options(&mut self, options: Options) -> Result<(), JetstreamError> {
        options.validate()?;
        self.options = options;
        if let Some(ws) = self.socket.conn_mut() {
            let msg = self.options.update_message(self.tuning.max_frame_size);
            if let Err(e) = ws.send(WsMessage::Text(msg.into())).await {
                self.socket.disconnect();
                return Err(JetstreamError::Send(e.to_string()));
            }
        }
        Ok(())
    }

    /// Drops the current connection; the next [`Self::next`] reconnects
    /// from the cursor at once.
    pub fn disconnect(&mut self) {
        self.socket.disconnect();
    }

    /// The next event, or an error (most are reported and the stream goes
    /// on: see [`JetstreamError::is_fatal`]), or `None` once the stream has
    /// ended.
    pub async fn next(&mut self) -> Option<Result<Event, JetstreamError>> {
        loop {
            let msg = match next_message(self).await? {
                Ok(m) => m,
                Err(e) => return Some(Err(e)),
            };
            let decoded = match msg {
                WsMessage::Text(t) => self.decode(t.as_bytes(), false),
                WsMessage::Binary(b) => self.decode(&b, true),
                // Pings are answered by tungstenite; pongs only show
                // liveness.
                _ => continue,
            };
            match decoded {
                Ok(event) => {
                    let fp = event.fingerprint();
                    if self.recent.contains(fp) {
                        continue;
                    }
                    let newest = self.newest.map_or(event.time_us, |n| n.max(event.time_us));
                    self.newest = Some(newest);
                    self.recent
                        .insert(event.time_us, fp, newest.saturating_sub(self.rewind_us));
                    let cursor = self.cursor();
                    if let (Some(hook), Some(c)) = (&mut self.on_cursor, cursor) {
                        hook(c);
                    }
                    return Some(Ok(event));
                }
                Err(e) => {
                    if e.is_fatal() {
                        self.socket.end();
                    }
                    return Some(Err(e));
                }
            }
        }
    }

    /// The client as a `Stream` of the same items.
    pub fn into_stream(
        self,
    ) -> impl futures_core::Stream<Item = Result<Event, JetstreamError>> + Send {
        futures_util::stream::unfold(self, |mut s| async move {
            let item = s.next().await?;
            Some((item, s))
        })
    }

    /// One message into an event: binary frames that start with the zstd
    /// magic are inflated first; anything else is read as JSON.
    fn decode(&mut self, bytes: &[u8], binary: bool) -> Result<Event, JetstreamError> {
        let max = self.tuning.max_frame_size;
        let inflated;
        let text = if binary && bytes.starts_with(&ZSTD_MAGIC) {
            let Some(inflater) = self.inflater.as_mut() else {
                return Err(JetstreamError::MissingDictionary);
            };
            inflated = inflater.inflate(bytes, max)?;
            &inflated[..]
        } else {
            bytes
        };
        Event::from_json(text).map_err(|error| JetstreamError::Decode {
            len: text.len(),
            error,
        })
    }
}

impl Reconnect for Jetstream {
    type Error = JetstreamError;

    fn parts(&mut self) -> (&mut Reconnecting, &Config) {
        (&mut self.socket, &self.tuning)
    }

    fn cursor(&self) -> Option<i64> {
        Jetstream::cursor(self)
    }

    /// Sends the options as the first message when `requireHello` is set.
    async fn connect(&self) -> Result<WebSocketStream<Conn>, String> {
        let url = self.url();
        let mut ws = open_socket(&self.url, self.port, &url, &self.tuning).await?;
        if self.require_hello {
            let hello = self.options.update_message(self.tuning.max_frame_size);
            ws.send(WsMessage::Text(hello.into()))
                .await
                .map_err(|e| format!("sending the hello options_update: {e}"))?;
        }
        Ok(ws)
    }

    fn gave_up(attempts: u32, last: String) -> Self::Error {
        JetstreamError::GaveUp { attempts, last }
    }

    fn too_large(max: usize) -> Self::Error {
        JetstreamError::TooLarge { size: None, max }
    }
}

/// Appends `s` percent-encoded for a query value: ASCII letters, digits and
/// `-._~*` as they are, every other byte as `%XX` (DIDs carry `:`).
fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'*') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_decode_by_kind() {
        let c = br#"{"did":"did:plc:a","time_us":5,"kind":"commit","commit":{"rev":"r","operation":"delete","collection":"app.bsky.feed.like","rkey":"k"}}"#;
        let e = Event::from_json(c).unwrap();
        let commit = e.commit().unwrap();
        assert_eq!(commit.operation, Operation::Delete);
        assert!(commit.record.is_none());
        let u = br#"{"did":"did:plc:a","time_us":6,"kind":"sync","sync":{"x":1}}"#;
        let e = Event::from_json(u).unwrap();
        assert!(matches!(&e.body, EventBody::Unknown { kind, .. } if kind == "sync"));
        let bad = br#"{"did":"did:plc:a","time_us":7,"kind":"commit"}"#;
        let err = Event::from_json(bad).unwrap_err().to_string();
        assert!(err.contains("commit"), "{err}");
    }

    #[test]
    fn options_are_checked() {
        let ok = Options {
            wanted_collections: vec!["app.bsky.feed.post".into(), "app.bsky.graph.*".into()],
            wanted_dids: vec!["did:plc:z72i7hdynmk6r22z27h6tvur".into()],
            max_message_size_bytes: None,
        };
        ok.validate().unwrap();
        for bad in ["app", "app..x.*", ".*", "app.bsky.*x"] {
            let o = Options {
                wanted_collections: vec![bad.into()],
                ..Options::default()
            };
            assert!(
                matches!(o.validate(), Err(JetstreamError::InvalidCollection(_))),
                "{bad}"
            );
        }
        let o = Options {
            wanted_collections: vec!["a.b.c".into(); 101],
            ..Options::default()
        };
        assert!(matches!(
            o.validate(),
            Err(JetstreamError::TooManyCollections { count: 101 })
        ));
        let o = Options {
            wanted_dids: vec!["did:plc:a".into(); 10_001],
            ..Options::default()
        };
        assert!(matches!(
            o.validate(),
            Err(JetstreamError::TooManyDids { count: 10_001 })
        ));
        let o = Options {
            wanted_dids: vec!["alice.test".into()],
            ..Options::default()
        };
        assert!(matches!(o.validate(), Err(JetstreamError::InvalidDid(_))));
    }

    #[test]
    fn recent_window_forgets_old_fingerprints() {
        let mut r = Recent::default();
        r.insert(10, 1, 0);
        r.insert(20, 2, 0);
        assert!(r.contains(1) && r.contains(2));
        r.insert(30, 3, 15);
        assert!(!r.contains(1) && r.contains(2) && r.contains(3));
    }

    #[test]
    fn compression_without_a_dictionary_is_refused() {
        let err = JetstreamConfig::new("ws://127.0.0.1:1")
            .compress(true)
            .build()
            .unwrap_err();
        assert!(matches!(err, JetstreamError::MissingDictionary));
        assert!(err.to_string().contains("legacy_subscribe.zdict"));
    }
}
