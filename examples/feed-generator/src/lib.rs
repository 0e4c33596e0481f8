//! An example feed generator on `atmo-server` and `atmo-stream`.
//!
//! - [`Rule`]: which posts belong in the feed (text containing a term,
//!   case-insensitively; `#rust` matches the hashtag).
//! - [`Index`]: the matching posts, newest first, bounded, with opaque
//!   cursors for paging; deletions on the firehose remove entries.
//! - [`index_firehose`]: `com.atproto.sync.subscribeRepos` read with
//!   atmo-stream's [`Firehose`] (reconnects, each event once), each new
//!   post checked against the rule.
//! - [`router`]: `app.bsky.feed.getFeedSkeleton` (service auth required:
//!   `aud` this generator's DID, `lxm` the method), and
//!   `app.bsky.feed.describeFeedGenerator` on atmo-server's
//!   [`XrpcRouter`], plus the `did:web` document at `/.well-known/did.json`
//!   with its `#bsky_fg` service.
//! - [`generator_record`]: the `app.bsky.feed.generator` record the
//!   `publish` command writes to the owner's repository.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use atmo_api::app::bsky::feed::defs::SkeletonFeedPost;
use atmo_api::app::bsky::feed::generator::Generator;
use atmo_api::app::bsky::feed::post::Post;
use atmo_api::app::bsky::feed::{describe_feed_generator, get_feed_skeleton};
use atmo_server::axum::ServiceAuth;
use atmo_server::xrpc::{XrpcError, XrpcRequest, XrpcRouter};
use atmo_server::ServiceAuthVerifier;
use atmo_stream::{Action, CommitEvent, Firehose, RepoEvent};
use atmo_types::{AtUri, Datetime, Did};
use axum::extract::{FromRef, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

/// The collection of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// Which posts the feed holds: those whose text contains `term`, compared
/// case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    term: String,
}

impl Rule {
    /// A rule for `term` (`"rust"`, or a hashtag `"#rust"`). `None` when
    /// the term is empty or only spaces.
    pub fn contains(term: &str) -> Option<Rule> {
        let term = term.trim().to_lowercase();
        (!term.is_empty()).then_some(Rule { term })
    }

    /// The term, lower-cased.
    pub fn term(&self) -> &str {
        &self.term
    }

    /// Whether a post's text matches.
    pub fn matches(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.term)
    }
}

/// A cursor the index did not hand out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadCursor(pub String);

impl std::fmt::Display for BadCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed cursor {:?}", self.0)
    }
}

impl std::error::Error for BadCursor {}

/// The posts of the feed, newest first, at most `capacity` of them (the
/// oldest go first). Each entry has a sequence number; a cursor is the
/// sequence number of the last post of a page, so paging is stable while
/// new posts arrive.
#[derive(Debug)]
pub struct Index {
    inner: Mutex<Entries>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Entries {
    by_seq: BTreeMap<u64, String>,
    by_uri: HashMap<String, u64>,
    next: u64,
}

impl Index {
    /// An empty index keeping at most `capacity` posts (at least 1).
    pub fn new(capacity: usize) -> Index {
        Index {
            inner: Mutex::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map is consistent after every statement: a panic elsewhere
        // leaves nothing half-done.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a post by its AT-URI (again: no change).
    pub fn insert(&self, uri: &str) {
        let mut e = self.entries();
        if e.by_uri.contains_key(uri) {
            return;
        }
        e.next += 1;
        let seq = e.next;
        e.by_seq.insert(seq, uri.to_owned());
        e.by_uri.insert(uri.to_owned(), seq);
        while e.by_seq.len() > self.capacity {
            if let Some((_, old)) = e.by_seq.pop_first() {
                e.by_uri.remove(&old);
            }
        }
    }

    /// Removes a post (deleted by its author).
    pub fn remove(&self, uri: &str) {
        let mut e = self.entries();
        if let Some(seq) = e.by_uri.remove(uri) {
            e.by_seq.remove(&seq);
        }
    }

    /// How many posts the index holds.
    pub fn len(&self) -> usize {
        self.entries().by_seq.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A page of at most `limit` posts, newest first, after `cursor` (from
    /// a previous page), and the cursor of the next page when there may be
    /// one.
    pub fn page(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), BadCursor> {
        let before = match cursor {
            None => u64::MAX,
            Some(c) => c.parse::<u64>().map_err(|_| BadCursor(c.to_owned()))?,
        };
        let e = self.entries();
        let page: Vec<(u64, String)> = e
            .by_seq
            .range(..before)
            .rev()
            .take(limit)
            .map(|(s, u)| (*s, u.clone()))
            .collect();
        let next = match page.last() {
            Some((seq, _)) if page.len() == limit && e.by_seq.range(..seq).next().is_some() => {
                Some(seq.to_string())
            }
            _ => None,
        };
        Ok((page.into_iter().map(|(_, u)| u).collect(), next))
    }

    /// Applies one commit: created posts matching `rule` are added,
    /// deleted posts removed. Returns how many posts were added.
    pub fn apply_commit(&self, commit: &CommitEvent, rule: &Rule) -> usize {
        let mut added = 0;
        for op in &commit.ops {
            if op.collection != POST_COLLECTION {
                continue;
            }
            let uri = format!("at://{}/{}/{}", commit.repo(), op.collection, op.rkey);
            match op.action {
                Action::Create => {
                    if let Some(Ok(post)) = op.decode::<Post>() {
                        if rule.matches(&post.text) {
                            self.insert(&uri);
                            added += 1;
                        }
                    }
                }
                Action::Delete => self.remove(&uri),
                _ => {}
            }
        }
        added
    }
}

/// Reads the firehose at `service` (`wss://bsky.network`, or a PDS's
/// `ws://localhost:PORT` when `allow_insecure` is set) into `index` until
/// the stream ends for good. Events that do not decode are skipped; the
/// client reconnects on its own and resumes after the last event.
pub async fn index_firehose(
    service: &str,
    allow_insecure: bool,
    rule: Rule,
    index: Arc<Index>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let sub = Firehose::builder(service)
        .allow_insecure_http(allow_insecure)
        .build()?;
    let mut firehose = Firehose::new(sub);
    while let Some(item) = firehose.next().await {
        match item {
            Ok(RepoEvent::Commit(commit)) => {
                index.apply_commit(&commit, &rule);
            }
            Ok(_) => {}
            Err(e) if e.is_fatal() => return Err(e.to_string().into()),
            Err(_) => {}
        }
    }
    Ok(())
}

/// The `did:web` of a host (`feed.example.com`, or `localhost:3000`, whose
/// port is percent-encoded: `did:web:localhost%3A3000`).
pub fn did_web(host: &str) -> String {
    format!("did:web:{}", host.replace(':', "%3A"))
}

/// The service endpoint for a host: `http://` for `localhost` (how
/// atproto's did:web resolvers reach a local service), `https://`
/// otherwise.
pub fn endpoint_of(host: &str) -> String {
    let name = host.split(':').next().unwrap_or(host);
    if name == "localhost" {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    }
}

/// The DID document of a feed generator: its DID and the `#bsky_fg`
/// service (type `BskyFeedGenerator`) at `endpoint`.
pub fn did_document(did: &str, endpoint: &str) -> serde_json::Value {
    serde_json::json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "service": [{
            "id": "#bsky_fg",
            "type": "BskyFeedGenerator",
            "serviceEndpoint": endpoint,
        }],
    })
}

/// The `app.bsky.feed.generator` record that announces a feed served by
/// `service_did`.
pub fn generator_record(
    service_did: &str,
    display_name: &str,
    description: Option<&str>,
) -> Result<Generator, String> {
    let did: Did = service_did
        .parse()
        .map_err(|e| format!("the feed generator DID {service_did:?}: {e}"))?;
    let now =
        Datetime::new(atmo_types::time::now_rfc3339()).map_err(|e| format!("the clock: {e}"))?;
    let mut record = Generator::new(did, display_name.to_owned(), now);
    record.description = description.map(str::to_owned);
    Ok(record)
}

/// What the handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The posts served.
    pub index: Arc<Index>,
    /// Service auth for this generator's DID.
    pub verifier: ServiceAuthVerifier,
    /// The one feed served (`at://<owner>/app.bsky.feed.generator/<rkey>`).
    pub feed: AtUri,
    /// The generator's DID document, served at `/.well-known/did.json`.
    pub did_document: Arc<serde_json::Value>,
}

impl FromRef<AppState> for ServiceAuthVerifier {
    fn from_ref(state: &AppState) -> ServiceAuthVerifier {
        state.verifier.clone()
    }
}

async fn feed_skeleton(
    mut req: XrpcRequest<get_feed_skeleton::GetFeedSkeleton, AppState>,
) -> Result<get_feed_skeleton::Output, XrpcError> {
    // aud = this generator, lxm = the route's NSID, signed by the caller's
    // current key: refused with 401 and the reason's error name otherwise.
    let ServiceAuth(_caller) = req.extract::<ServiceAuth>().await?;
    if req.params.feed != req.state.feed {
        return Err(get_feed_skeleton::Error::UnknownFeed(Some(format!(
            "this generator serves {} only",
            req.state.feed
        )))
        .into());
    }
    let limit = usize::try_from(req.params.limit).unwrap_or(0);
    let (uris, cursor) = req
        .state
        .index
        .page(req.params.cursor.as_deref(), limit)
        .map_err(|e| XrpcError::invalid_request(e.to_string()))?;
    let feed = uris
        .iter()
        .map(|u| {
            u.parse::<AtUri>()
                .map(SkeletonFeedPost::new)
                .map_err(|e| XrpcError::internal(format!("an indexed URI {u}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = get_feed_skeleton::Output::new(feed);
    out.cursor = cursor;
    Ok(out)
}

async fn describe(
    req: XrpcRequest<describe_feed_generator::DescribeFeedGenerator, AppState>,
) -> Result<describe_feed_generator::Output, XrpcError> {
    let did = req.state.verifier.service_did().clone();
    Ok(describe_feed_generator::Output::new(
        did,
        vec![describe_feed_generator::Feed::new(req.state.feed.clone())],
    ))
}

async fn did_json(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        state.did_document.to_string(),
    )
}

/// The feed generator's routes: the two XRPC methods (501 for any other),
/// and `/.well-known/did.json`.
pub fn router(state: AppState) -> axum::Router {
    XrpcRouter::new()
        .handler(feed_skeleton)
        .handler(describe)
        .into_router()
        .route("/.well-known/did.json", get(did_json))
        .with_state(state)
}
