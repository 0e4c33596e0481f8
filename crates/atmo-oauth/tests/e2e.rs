//! End-to-end tests against the reference PDS and its built-in
//! authorization server, started by `atproto_tests::Pds` (skipped with a
//! notice when the PDS is not installed, failed under
//! `ATPROTO_E2E=required`). The sign-in page is driven headlessly.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use atmo_client::session::SessionError;
use atmo_client::{Agent, AtpAgent, SessionEvent};
use atmo_oauth::{
    headless, AuthorizeOptions, ClientConfig, DirStore, IdentityResolver, MemoryStore, OAuthClient,
    OAuthError, OAuthSession, OAuthSessionData, OAuthSessionStore, Scopes,
};
use atmo_types::Did;
use atmo_xrpc::{BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse, HyperClient};
use atproto_tests::{unique_handle, Pds};

const PASSWORD: &str = "correct-horse-battery";
const REDIRECT: &str = "http://127.0.0.1/callback";

/// One exchange: URL, status, `WWW-Authenticate`.
type Exchange = (String, u16, Option<String>);

/// An HTTP client that records every exchange (URL, status, the DPoP
/// challenge if any) and counts the refresh-token grants the server carried
/// out; shared between clients, it counts for all of them.
#[derive(Clone)]
struct Recording {
    inner: Arc<dyn HttpClient>,
    log: Arc<Mutex<Vec<Exchange>>>,
    refreshes: Arc<AtomicUsize>,
    /// Every refresh token presented to the server (nonce retries repeat one).
    presented: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl Recording {
    fn new() -> Self {
        Recording {
            inner: Arc::new(HyperClient::new().unwrap()),
            log: Arc::default(),
            refreshes: Arc::default(),
            presented: Arc::default(),
        }
    }
    fn log(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }
}

impl HttpClient for Recording {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let url = request.url.clone();
            let body =
                String::from_utf8_lossy(request.body.as_deref().unwrap_or_default()).into_owned();
            let is_refresh = body.contains("grant_type=refresh_token");
            if let Some(token) = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("refresh_token="))
            {
                self.presented.lock().unwrap().insert(token.to_owned());
            }
            let r = self.inner.send(request).await?;
            // A refresh the server carried out (a nonce challenge answered
            // 400 is not one: the retry that follows is).
            if is_refresh && r.status == 200 {
                self.refreshes.fetch_add(1, Ordering::SeqCst);
            }
            let challenge = r.header("www-authenticate").map(str::to_owned);
            self.log.lock().unwrap().push((url, r.status, challenge));
            Ok(r)
        })
    }
}

fn resolver(pds: &Pds, http: Arc<dyn HttpClient>) -> Arc<dyn IdentityResolver> {
    Arc::new(pds.resolver_with(http).no_cache().build().unwrap())
}

type EventLog = Arc<Mutex<Vec<SessionEvent>>>;

fn client(
    pds: &Pds,
    http: &Recording,
    store: Arc<dyn OAuthSessionStore>,
) -> (OAuthClient, EventLog) {
    let events: EventLog = Arc::default();
    let ev = events.clone();
    let config = ClientConfig::loopback(vec![REDIRECT.into()], Scopes::generic());
    let http: Arc<dyn HttpClient> = Arc::new(http.clone());
    let client = OAuthClient::builder(config)
        .http_client(http.clone())
        .identity_resolver(resolver(pds, http))
        .session_store(store)
        .on_session_event_async(move |event, _did, _data| {
            let ev = ev.clone();
            async move { ev.lock().unwrap().push(event) }
        })
        .build()
        .unwrap();
    (client, events)
}

async fn new_account(pds: &Pds) -> (String, Did) {
    let agent = AtpAgent::builder(&pds.url).build().unwrap();
    let handle = unique_handle("oa");
    let session = agent
        .create_account(atproto_tests::new_account_input(&handle, PASSWORD))
        .await
        .unwrap();
    (handle, session.did)
}

async fn sign_in(client: &OAuthClient, http: &Recording, handle: &str) -> OAuthSession {
    let url = client
        .authorize(
            handle,
            AuthorizeOptions {
                state: Some("app-state-1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let http: Arc<dyn HttpClient> = Arc::new(http.clone());
    let query = headless::sign_in(&http, &url, handle, PASSWORD)
        .await
        .unwrap();
    let (session, app_state) = client.callback(&query).await.unwrap();
    assert_eq!(app_state.as_deref(), Some("app-state-1"));
    session
}

/// Loopback client: authorize from a handle, sign in and consent headlessly,
/// call back; an Agent over the session posts, reads the post back and
/// calls a query. The first PDS call meets the DPoP nonce challenge.
#[tokio::test(flavor = "multi_thread")]
async fn loopback_client_signs_in_and_uses_the_agent() {
    let Some(pds) = Pds::shared() else { return };
    let (handle, did) = new_account(pds).await;
    let http = Recording::new();
    let (client, events) = client(pds, &http, Arc::new(MemoryStore::<OAuthSessionData>::new()));
    let url = client
        .authorize(&handle, AuthorizeOptions::default())
        .await
        .unwrap();
    assert!(
        url.contains("/oauth/authorize?client_id=http%3A%2F%2Flocalhost"),
        "{url}"
    );
    assert!(url.contains("request_uri="), "{url}");
    // The PAR request met the authorization server's nonce demand.
    assert!(
        http.log()
            .iter()
            .any(|(u, s, _)| u.ends_with("/oauth/par") && *s == 400),
        "PAR should first be answered use_dpop_nonce: {:?}",
        http.log()
    );
    let dyn_http: Arc<dyn HttpClient> = Arc::new(http.clone());
    let query = headless::sign_in(&dyn_http, &url, &handle, PASSWORD)
        .await
        .unwrap();
    let (session, app_state) = client.callback(&query).await.unwrap();
    assert_eq!(app_state, None);
    assert_eq!(session.account(), &did);
    assert_eq!(*events.lock().unwrap(), [SessionEvent::Create]);
    let data = session.data().unwrap();
    assert!(data.scope.contains("atproto"));
    assert!(!format!("{data:?}").contains(data.access_token.expose()));

    // This PDS and its authorization server share one origin, so the nonce
    // learnt at the token endpoint is already cached for the PDS.
    let agent = Agent::new(session.clone());
    assert_eq!(agent.did(), Some(did.clone()));
    let created = agent.post("hello over OAuth").await.unwrap();

    // A client that has never talked to this origin (an app restart:
    // restored from the store) meets the PDS's nonce challenge on its first
    // call, and the retry with the nonce succeeds.
    let fresh_http = Recording::new();
    let store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    store.save_session(&session.data().unwrap()).await.unwrap();
    let (fresh, _) = client_with(pds, &fresh_http, store);
    let restored = fresh.restore(&did).await.unwrap();
    let me = Agent::new(restored)
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap();
    assert_eq!(me["did"], did.as_str());
    let calls = fresh_http.log();
    let xrpc: Vec<_> = calls
        .iter()
        .filter(|(u, _, _)| u.contains("/xrpc/"))
        .collect();
    assert_eq!(xrpc.len(), 2, "{calls:?}");
    assert_eq!(xrpc[0].1, 401, "first PDS call is challenged: {calls:?}");
    assert!(xrpc[0]
        .2
        .as_deref()
        .unwrap_or_default()
        .contains("use_dpop_nonce"));
    assert_eq!(
        xrpc[1].1, 200,
        "the retry with the nonce succeeds: {calls:?}"
    );

    let uri = created.uri.to_string();
    let rkey = uri.rsplit('/').next().unwrap();
    let record = agent
        .query_json(
            "com.atproto.repo.getRecord",
            &[
                ("repo", did.as_str()),
                ("collection", "app.bsky.feed.post"),
                ("rkey", rkey),
            ],
        )
        .await
        .unwrap();
    assert_eq!(record["value"]["text"], "hello over OAuth");
    let me = agent
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap();
    assert_eq!(me["did"], did.as_str());
    assert_eq!(me["handle"], handle.as_str());
}

/// Refresh: a forced refresh rotates both tokens, the agent keeps working,
/// and the old refresh token is dead afterwards (using it ends that copy of
/// the session with a clear error and clears its store).
#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_tokens_and_kills_the_old_refresh_token() {
    let Some(pds) = Pds::shared() else { return };
    let (handle, did) = new_account(pds).await;
    let http = Recording::new();
    let (client, events) = client(pds, &http, Arc::new(MemoryStore::<OAuthSessionData>::new()));
    let session = sign_in(&client, &http, &handle).await;
    let old = session.data().unwrap();
    session.refresh().await.unwrap();
    let new = session.data().unwrap();
    assert_ne!(new.access_token, old.access_token);
    assert_ne!(new.refresh_token, old.refresh_token);
    assert_eq!(http.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(
        *events.lock().unwrap(),
        [SessionEvent::Create, SessionEvent::Update]
    );
    let agent = Agent::new(session.clone());
    let me = agent
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap();
    assert_eq!(me["did"], did.as_str());

    // Another client holding the old tokens, forced to refresh.
    let stale_store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    stale_store
        .save_session(&OAuthSessionData {
            expires_at: Some(0),
            ..old
        })
        .await
        .unwrap();
    let (stale_client, stale_events) = client_with(pds, &http, stale_store.clone());
    let err = stale_client.restore(&did).await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::Session(SessionError::Expired { error, .. }) if error == "invalid_grant"),
        "{err:?}"
    );
    assert!(
        stale_store.load_session(&did).await.unwrap().is_none(),
        "the dead session is cleared"
    );
    assert_eq!(*stale_events.lock().unwrap(), [SessionEvent::Expired]);
}

fn client_with(
    pds: &Pds,
    http: &Recording,
    store: Arc<dyn OAuthSessionStore>,
) -> (OAuthClient, EventLog) {
    client(pds, http, store)
}

/// Two clients (as two processes would be) sharing one directory store
/// refresh the same session at the same moment: exactly one refresh request
/// reaches the server, the other adopts its tokens, both keep working.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_refresh_through_a_shared_dir_store_sends_one_request() {
    let Some(pds) = Pds::shared() else { return };
    let (handle, did) = new_account(pds).await;
    let dir = std::env::temp_dir().join(format!(
        "atmo-oauth-e2e-{}-{}",
        std::process::id(),
        did.as_str().replace(':', "_")
    ));
    let http = Recording::new();
    let (a, _) = client(pds, &http, Arc::new(DirStore::new(&dir)));
    let (b, _) = client(pds, &http, Arc::new(DirStore::new(&dir)));
    let session_a = sign_in(&a, &http, &handle).await;
    let session_b = b.restore(&did).await.unwrap();
    assert_eq!(session_b.data(), session_a.data());
    let (ra, rb) = tokio::join!(session_a.refresh(), session_b.refresh());
    ra.unwrap();
    rb.unwrap();
    assert_eq!(
        http.refreshes.load(Ordering::SeqCst),
        1,
        "exactly one refresh request"
    );
    assert_eq!(
        http.presented.lock().unwrap().len(),
        1,
        "one refresh token presented"
    );
    assert_eq!(
        session_a.data(),
        session_b.data(),
        "both hold the new tokens"
    );
    for s in [session_a, session_b] {
        let me = Agent::new(s)
            .query_json("com.atproto.server.getSession", &[])
            .await
            .unwrap();
        assert_eq!(me["did"], did.as_str());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// logout revokes at the server and clears the store; the session then
/// reports NoSession, and the revoked refresh token no longer works.
#[tokio::test(flavor = "multi_thread")]
async fn sign_out_revokes_the_session() {
    let Some(pds) = Pds::shared() else { return };
    let (handle, did) = new_account(pds).await;
    let http = Recording::new();
    let store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    let (client, events) = client(pds, &http, store.clone());
    let session = sign_in(&client, &http, &handle).await;
    let old = session.data().unwrap();
    session.logout().await.unwrap();
    assert!(store.load_session(&did).await.unwrap().is_none());
    assert_eq!(
        *events.lock().unwrap(),
        [SessionEvent::Create, SessionEvent::Expired]
    );
    let agent = Agent::new(session.clone());
    assert_eq!(agent.did(), None);
    let err = agent
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, atmo_client::Error::Session(SessionError::NoSession)),
        "{err:?}"
    );

    // The old access token, used by a client that still has it: refused,
    // and the refresh that follows is refused too, ending that copy.
    let copy_store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    copy_store.save_session(&old).await.unwrap();
    let (copy, copy_events) = client_with(pds, &http, copy_store.clone());
    let copy_session = copy.restore(&did).await.unwrap();
    let err = Agent::new(copy_session)
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            atmo_client::Error::Session(SessionError::Expired { .. })
        ),
        "{err:?}"
    );
    assert!(copy_store.load_session(&did).await.unwrap().is_none());
    assert_eq!(*copy_events.lock().unwrap(), [SessionEvent::Expired]);

    // The old refresh token, tried directly.
    let stale_store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    stale_store
        .save_session(&OAuthSessionData {
            expires_at: Some(0),
            ..old
        })
        .await
        .unwrap();
    let (stale, _) = client_with(pds, &http, stale_store);
    let err = stale.restore(&did).await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::Session(SessionError::Expired { error, .. }) if error == "invalid_grant"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("invalid_grant") || err.to_string().contains("ended"),
        "{err}"
    );
}

#[cfg(feature = "redis")]
#[path = "support/redis_server.rs"]
mod redis_server;

/// Two clients (as on two machines) sharing one Redis store refresh the
/// same session at the same moment: exactly one refresh request reaches the
/// server, the other adopts its tokens under the distributed lock, both
/// keep working.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_refresh_through_a_shared_redis_store_sends_one_request() {
    let Some(pds) = Pds::shared() else { return };
    let Some(redis) = redis_server::RedisServer::start().await else {
        return;
    };
    let (handle, did) = new_account(pds).await;
    let http = Recording::new();
    let store_a = atmo_oauth::RedisStore::connect(&redis.url).await.unwrap();
    let store_b = atmo_oauth::RedisStore::connect(&redis.url).await.unwrap();
    let (a, _) = client(pds, &http, Arc::new(store_a));
    let (b, _) = client(pds, &http, Arc::new(store_b));
    let session_a = sign_in(&a, &http, &handle).await;
    let session_b = b.restore(&did).await.unwrap();
    let (ra, rb) = tokio::join!(session_a.refresh(), session_b.refresh());
    ra.unwrap();
    rb.unwrap();
    assert_eq!(
        http.refreshes.load(Ordering::SeqCst),
        1,
        "exactly one refresh request"
    );
    assert_eq!(
        http.presented.lock().unwrap().len(),
        1,
        "one refresh token presented"
    );
    assert_eq!(session_a.data(), session_b.data());
    for s in [session_a, session_b] {
        let me = Agent::new(s)
            .query_json("com.atproto.server.getSession", &[])
            .await
            .unwrap();
        assert_eq!(me["did"], did.as_str());
    }
}
