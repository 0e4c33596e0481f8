//! The `todo-service` binary's routes: the custom lexicon's query and
//! procedure served with atmo-server's [`XrpcRouter`] from the types
//! `build.rs` generates with `Builder::server(true)`.
//!
//! - `com.example.todo.addItem` (procedure, service auth): adds an item to
//!   the caller's list. The caller is the verified token's issuer; the
//!   token's `aud` must be this service's DID and its `lxm` this route.
//! - `com.example.todo.listItems` (query, public): an account's items,
//!   oldest first, filtered by `match` and cut at `limit`.
//!
//! Items live in memory ([`Store`]): a restart forgets them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use atmo_server::axum::ServiceAuth;
use atmo_server::xrpc::{XrpcError, XrpcRequest, XrpcRouter};
use atmo_server::ServiceAuthVerifier;
use atmo_types::Datetime;
use axum::extract::FromRef;

use crate::lexicons::com::example::todo::{add_item, item, list_items};

/// How many items one account may keep; more is refused with `ListFull`.
pub const MAX_ITEMS_PER_ACCOUNT: usize = 1000;

/// The items, by owner DID, in the order they were added.
#[derive(Debug, Default)]
pub struct Store {
    items: Mutex<HashMap<String, Vec<item::Item>>>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `item` to `did`'s list and returns the list's new length, or
    /// `None` when the list is full.
    pub fn add(&self, did: &str, item: item::Item) -> Option<usize> {
        // A poisoned lock only means another handler panicked mid-push;
        // the map itself is still consistent.
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let list = items.entry(did.to_owned()).or_default();
        if list.len() >= MAX_ITEMS_PER_ACCOUNT {
            return None;
        }
        list.push(item);
        Some(list.len())
    }

    /// `did`'s items whose title contains one of `matches` (all of them
    /// when `matches` is empty), at most `limit`, oldest first.
    pub fn list(&self, did: &str, matches: &[String], limit: usize) -> Vec<item::Item> {
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items
            .get(did)
            .map(|list| {
                list.iter()
                    .filter(|i| matches.is_empty() || matches.iter().any(|m| i.title.contains(m)))
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What the handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The items.
    pub store: Arc<Store>,
    /// Service auth for this service's DID.
    pub verifier: ServiceAuthVerifier,
}

impl FromRef<AppState> for ServiceAuthVerifier {
    fn from_ref(state: &AppState) -> ServiceAuthVerifier {
        state.verifier.clone()
    }
}

async fn add(
    mut req: XrpcRequest<add_item::AddItem, AppState>,
) -> Result<add_item::Output, XrpcError> {
    // aud = this service, lxm = com.example.todo.addItem, signed with the
    // issuer's current key: refused with 401 and the reason's name otherwise.
    let ServiceAuth(caller) = req.extract::<ServiceAuth>().await?;
    let now = Datetime::new(atmo_types::time::now_rfc3339())
        .map_err(|e| XrpcError::internal(format!("the clock: {e}")))?;
    let mut todo = item::Item::new(req.input.title, now);
    todo.priority = req.input.priority;
    let count = req
        .state
        .store
        .add(caller.did.as_str(), todo)
        .ok_or_else(|| {
            add_item::Error::ListFull(Some(format!(
                "an account keeps at most {MAX_ITEMS_PER_ACCOUNT} items"
            )))
        })?;
    let count = i64::try_from(count).map_err(|_| XrpcError::internal("item count overflow"))?;
    Ok(add_item::Output::new(count))
}

async fn list(
    req: XrpcRequest<list_items::ListItems, AppState>,
) -> Result<list_items::Output, XrpcError> {
    // The store knows accounts by the DID their tokens carry; resolving a
    // handle would need a network round trip this example leaves out.
    if !req.params.actor.is_did() {
        return Err(list_items::Error::UnknownActor(Some(format!(
            "{} is a handle: this service knows accounts by DID",
            req.params.actor
        )))
        .into());
    }
    // `limit` is checked against the lexicon (1 to 100) before this runs.
    let limit = usize::try_from(req.params.limit).unwrap_or(0);
    let matches = req.params.r#match.unwrap_or_default();
    let items = req
        .state
        .store
        .list(req.params.actor.as_str(), &matches, limit);
    Ok(list_items::Output::new(items))
}

/// The service's routes: the two XRPC methods, and 501
/// `MethodNotImplemented` for any other NSID.
pub fn router(state: AppState) -> axum::Router {
    XrpcRouter::new()
        .handler(add)
        .handler(list)
        .into_router()
        .with_state(state)
}
