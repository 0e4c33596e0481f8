//! An example labeler on `atmo-server` and `atmo-stream`.
//!
//! - [`Labeler::emit`]: a label signed with the labeler's `#atproto_label`
//!   key (a K-256 [`SigningKey`]) over the label's DAG-CBOR without `sig`
//!   (atmo-sync's encoder, through atmo-stream's
//!   [`label_signing_bytes`]), kept with a sequence number and sent to
//!   live subscribers.
//! - [`router`]: `com.atproto.label.queryLabels` (URI patterns, exact or
//!   `prefix*`, sources, cursor paging) and
//!   `com.atproto.label.subscribeLabels` (WebSocket, DAG-CBOR `#labels`
//!   frames, a cursor replays what came after it, a cursor ahead of the
//!   stream is `FutureCursor`) on atmo-server's [`XrpcRouter`], and the
//!   `did:web` document with `#atproto_label` and `#atproto_labeler` at
//!   `/.well-known/did.json`.
//! - [`service_record`]: the `app.bsky.labeler.service` record with custom
//!   label definitions, written by the `publish` command.
//! - [`label_firehose`]: the rule the binary runs: posts whose text
//!   contains a term get a label.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use atmo_api::app::bsky::feed::post::Post;
use atmo_api::app::bsky::labeler::service::Service;
use atmo_api::com::atproto::label::defs::Label;
use atmo_api::com::atproto::label::{query_labels, subscribe_labels};
use atmo_server::xrpc::{
    Broadcaster, SubscriptionOptions, SubscriptionRequest, XrpcError, XrpcRequest, XrpcRouter,
};
use atmo_server::SigningKey;
use atmo_stream::labels::label_signing_bytes;
use atmo_stream::{Action, Firehose, RepoEvent};
use atmo_types::{Bytes, Cid, Datetime, Did, Uri};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::StreamExt;

/// How many live messages a subscriber may fall behind before it is
/// disconnected with `ConsumerTooSlow`.
pub const LIVE_BUFFER: usize = 1024;

/// Why a label could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelError(pub String);

impl std::fmt::Display for LabelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LabelError {}

/// Signs `label` in place: `ver` 1, `src` as given, and `sig` over the
/// DAG-CBOR of the label without `sig`.
pub fn sign_label(key: &SigningKey, label: &mut Label) -> Result<(), LabelError> {
    label.ver = Some(1);
    label.sig = None;
    let bytes = label_signing_bytes(label).map_err(|e| LabelError(e.to_string()))?;
    label.sig = Some(Bytes(key.sign(&bytes).to_vec()));
    Ok(())
}

/// A labeler: its DID, its signing key and the labels it issued, in order.
/// Cheap to clone (shared state).
#[derive(Clone)]
pub struct Labeler {
    did: Did,
    key: Arc<SigningKey>,
    log: Arc<Mutex<Vec<(i64, Label)>>>,
    live: Broadcaster<subscribe_labels::Message>,
    did_document: Arc<serde_json::Value>,
}

impl std::fmt::Debug for Labeler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key's Debug shows its curve only.
        f.debug_struct("Labeler")
            .field("did", &self.did)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Labeler {
    /// A labeler `did` signing with `key`, reachable at `endpoint` (for its
    /// DID document).
    pub fn new(did: Did, key: SigningKey, endpoint: &str) -> Labeler {
        let did_document = Arc::new(did_document(did.as_str(), &key, endpoint));
        Labeler {
            did,
            key: Arc::new(key),
            log: Arc::new(Mutex::new(Vec::new())),
            live: Broadcaster::new(LIVE_BUFFER),
            did_document,
        }
    }

    /// The labeler's DID (every label's `src`).
    pub fn did(&self) -> &Did {
        &self.did
    }

    fn log(&self) -> MutexGuard<'_, Vec<(i64, Label)>> {
        // Each push is one statement: a poisoned lock holds a whole log.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues a label (or its negation, `neg`) on `uri` (an AT-URI, or a
    /// DID for an account), optionally pinned to a record version `cid`:
    /// signed, stored under the next sequence number and sent to live
    /// subscribers. Returns the label and its sequence number.
    pub fn emit(
        &self,
        uri: &str,
        cid: Option<Cid>,
        val: &str,
        neg: bool,
    ) -> Result<(i64, Label), LabelError> {
        let uri: Uri = uri
            .parse()
            .map_err(|e| LabelError(format!("label subject {uri:?}: {e}")))?;
        let cts = Datetime::new(atmo_types::time::now_rfc3339())
            .map_err(|e| LabelError(format!("the clock: {e}")))?;
        let mut label = Label::new(self.did.clone(), uri, val.to_owned(), cts);
        label.cid = cid;
        label.neg = neg.then_some(true);
        sign_label(&self.key, &mut label)?;
        let mut log = self.log();
        let seq = log.last().map_or(1, |(s, _)| s + 1);
        log.push((seq, label.clone()));
        // Sent under the lock, so live subscribers see sequence order.
        self.live.send(subscribe_labels::Message::Labels(Box::new(
            subscribe_labels::Labels::new(seq, vec![label.clone()]),
        )));
        Ok((seq, label))
    }

    /// The highest sequence number issued (0 before the first label).
    pub fn head(&self) -> i64 {
        self.log().last().map_or(0, |(s, _)| *s)
    }

    /// The labels matching a queryLabels request: subjects equal to a
    /// pattern, or starting with it when it ends in `*`; from one of
    /// `sources` when given; after `cursor`; at most `limit`.
    pub fn query(
        &self,
        patterns: &[String],
        sources: Option<&[Did]>,
        cursor: Option<i64>,
        limit: usize,
    ) -> (Vec<Label>, Option<String>) {
        if sources.is_some_and(|s| !s.contains(&self.did)) {
            return (Vec::new(), None);
        }
        let matches = |uri: &str| {
            patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => uri.starts_with(prefix),
                None => uri == p,
            })
        };
        let after = cursor.unwrap_or(0);
        let log = self.log();
        let found: Vec<(i64, Label)> = log
            .iter()
            .filter(|(s, l)| *s > after && matches(l.uri.as_str()))
            .take(limit)
            .cloned()
            .collect();
        let cursor = found
            .last()
            .filter(|_| found.len() == limit)
            .map(|(s, _)| s.to_string());
        (found.into_iter().map(|(_, l)| l).collect(), cursor)
    }

    /// The stored label messages after `cursor`, and the head when read.
    fn backfill(&self, cursor: i64) -> (Vec<subscribe_labels::Message>, i64) {
        let log = self.log();
        let head = log.last().map_or(0, |(s, _)| *s);
        let items = log
            .iter()
            .filter(|(s, _)| *s > cursor)
            .map(|(s, l)| {
                subscribe_labels::Message::Labels(Box::new(subscribe_labels::Labels::new(
                    *s,
                    vec![l.clone()],
                )))
            })
            .collect();
        (items, head)
    }
}

/// The DID document of a labeler: `#atproto_label` (its signing key as a
/// Multikey) and the `#atproto_labeler` service (type `AtprotoLabeler`) at
/// `endpoint`.
pub fn did_document(did: &str, key: &SigningKey, endpoint: &str) -> serde_json::Value {
    let did_key = key.public_key().to_did_key();
    let multibase = did_key.strip_prefix("did:key:").unwrap_or(&did_key);
    serde_json::json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1"
        ],
        "id": did,
        "verificationMethod": [{
            "id": format!("{did}#atproto_label"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": multibase,
        }],
        "service": [{
            "id": "#atproto_labeler",
            "type": "AtprotoLabeler",
            "serviceEndpoint": endpoint,
        }],
    })
}

/// One custom label value and how clients should treat it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelDefinition {
    /// The value (`[a-z-]`, at most 100 characters).
    pub identifier: String,
    /// `inform`, `alert` or `none`.
    pub severity: String,
    /// `content`, `media` or `none`.
    pub blurs: String,
    /// `ignore`, `warn` or `hide`.
    pub default_setting: String,
    /// The English name shown to users.
    pub name: String,
    /// The English description shown to users.
    pub description: String,
}

/// The `app.bsky.labeler.service` record declaring `definitions` (their
/// identifiers as `labelValues` as well).
pub fn service_record(definitions: &[LabelDefinition]) -> Result<Service, LabelError> {
    let now = atmo_types::time::now_rfc3339();
    let defs: Vec<serde_json::Value> = definitions
        .iter()
        .map(|d| {
            serde_json::json!({
                "identifier": d.identifier,
                "severity": d.severity,
                "blurs": d.blurs,
                "defaultSetting": d.default_setting,
                "adultOnly": false,
                "locales": [{"lang": "en", "name": d.name, "description": d.description}],
            })
        })
        .collect();
    let values: Vec<&str> = definitions.iter().map(|d| d.identifier.as_str()).collect();
    let json = serde_json::json!({
        "$type": "app.bsky.labeler.service",
        "policies": {"labelValues": values, "labelValueDefinitions": defs},
        "createdAt": now,
    });
    serde_json::from_value(json).map_err(|e| LabelError(format!("the service record: {e}")))
}

async fn query(
    req: XrpcRequest<query_labels::QueryLabels, Labeler>,
) -> Result<query_labels::Output, XrpcError> {
    let p = &req.params;
    let cursor = match p.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| XrpcError::invalid_request(format!("malformed cursor {c:?}")))?,
        ),
    };
    let limit = usize::try_from(p.limit).unwrap_or(0);
    let (labels, cursor) = req
        .state
        .query(&p.uri_patterns, p.sources.as_deref(), cursor, limit);
    let mut out = query_labels::Output::new(labels);
    out.cursor = cursor;
    Ok(out)
}

async fn did_json(State(labeler): State<Labeler>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        labeler.did_document.to_string(),
    )
}

/// The labeler's routes: queryLabels, subscribeLabels (any other XRPC
/// method is 501) and `/.well-known/did.json`.
pub fn router(labeler: Labeler) -> axum::Router {
    XrpcRouter::new()
        .handler(query)
        .subscription(
            subscribe_labels::NSID,
            SubscriptionOptions::default(),
            |req: SubscriptionRequest<subscribe_labels::Parameters, Labeler>| async move {
                let labeler = req.state;
                // Subscribe before reading the log, then skip the live
                // messages the backfill already holds: nothing falls in
                // between.
                let live = labeler.live.subscribe();
                let (backfill, head) = match req.params.cursor {
                    None => (Vec::new(), labeler.head()),
                    Some(c) => {
                        if c > labeler.head() {
                            return Err(subscribe_labels::Error::FutureCursor(Some(format!(
                                "cursor {c} is ahead of the stream"
                            )))
                            .into());
                        }
                        labeler.backfill(c)
                    }
                };
                let live = live.filter(move |m| {
                    let keep = match m {
                        Ok(subscribe_labels::Message::Labels(l)) => l.seq > head,
                        _ => true,
                    };
                    std::future::ready(keep)
                });
                Ok(futures_util::stream::iter(backfill.into_iter().map(Ok)).chain(live))
            },
        )
        .into_router()
        .route("/.well-known/did.json", get(did_json))
        .with_state(labeler)
}

/// Reads the firehose at `service` and labels each new post whose text
/// contains `term` (case-insensitively) with `value`, pinned to the post's
/// CID. Returns when the stream ends for good.
pub async fn label_firehose(
    service: &str,
    allow_insecure: bool,
    term: &str,
    value: &str,
    labeler: Labeler,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let term = term.to_lowercase();
    let sub = Firehose::builder(service)
        .allow_insecure_http(allow_insecure)
        .build()?;
    let mut firehose = Firehose::new(sub);
    while let Some(item) = firehose.next().await {
        let commit = match item {
            Ok(RepoEvent::Commit(c)) => c,
            Ok(_) => continue,
            Err(e) if e.is_fatal() => return Err(e.to_string().into()),
            Err(_) => continue,
        };
        for op in &commit.ops {
            if op.action != Action::Create || op.collection != "app.bsky.feed.post" {
                continue;
            }
            let Some(Ok(post)) = op.decode::<Post>() else {
                continue;
            };
            if post.text.to_lowercase().contains(&term) {
                let uri = format!("at://{}/{}/{}", commit.repo(), op.collection, op.rkey);
                let cid = op
                    .cid
                    .as_ref()
                    .and_then(|c| c.to_string().parse::<Cid>().ok());
                labeler.emit(&uri, cid, value, false)?;
            }
        }
    }
    Ok(())
}
