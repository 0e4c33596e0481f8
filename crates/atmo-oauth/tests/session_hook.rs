//! An event hook that calls back into its own session: refused with
//! `SessionError::CalledFromHook` instead of deadlocking on the refresh lock
//! the event is delivered under (as the password session does).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use atmo_oauth::{
    ClientConfig, Es256Key, IdentityResolver, OAuthClient, OAuthError, OAuthSession,
    OAuthSessionData, OAuthSessionStore, ResolvedIdentity, Scopes,
};
use atmo_session::{SessionError, SessionEvent, SessionManager};
use atmo_types::xrpc::Method;
use atmo_types::Did;
use atmo_xrpc::{BoxFuture, Secret, XrpcRequest};

/// A resolver that cannot reach anything: every refresh fails transiently
/// (and fires `NetworkError`) before any HTTP call.
struct Unreachable;

impl IdentityResolver for Unreachable {
    fn resolve<'a>(
        &'a self,
        identifier: &'a str,
        _fresh: bool,
    ) -> BoxFuture<'a, Result<ResolvedIdentity, OAuthError>> {
        Box::pin(async move {
            Err(OAuthError::Resolve {
                identifier: identifier.to_owned(),
                message: "offline".into(),
            })
        })
    }
}

fn stored(did: &Did) -> OAuthSessionData {
    OAuthSessionData {
        did: did.clone(),
        issuer: "https://as.example.com".into(),
        pds: "https://pds.example.com".into(),
        scope: "atproto".into(),
        access_token: Secret::new("access"),
        refresh_token: Some(Secret::new("refresh")),
        expires_at: None,
        issued_at: None,
        dpop_key: Es256Key::generate().unwrap(),
        token_endpoint: "https://as.example.com/oauth/token".into(),
        revocation_endpoint: None,
    }
}

#[tokio::test]
async fn a_hook_calling_back_into_its_session_is_refused_not_deadlocked() {
    let did = Did::new("did:plc:alice").unwrap();
    let store = Arc::new(atmo_oauth::MemoryStore::<OAuthSessionData>::new());
    store.save_session(&stored(&did)).await.unwrap();

    let session_slot: Arc<OnceLock<OAuthSession>> = Arc::default();
    let seen: Arc<Mutex<Vec<(SessionEvent, String)>>> = Arc::default();
    let (slot, log) = (session_slot.clone(), seen.clone());
    let config = ClientConfig::loopback(
        vec!["http://127.0.0.1:8080/callback".into()],
        Scopes::generic(),
    );
    let client = OAuthClient::builder(config)
        .identity_resolver(Arc::new(Unreachable))
        .session_store(store)
        .on_session_event_async(move |event, _did, _data| {
            let (slot, log) = (slot.clone(), log.clone());
            async move {
                let Some(session) = slot.get() else { return };
                // Each of these would wait for the refresh lock this event
                // is delivered under.
                let refresh = session.refresh().await.err();
                let send = session
                    .send(XrpcRequest::new("com.example.echo", Method::Query))
                    .await
                    .err();
                let logout = session.logout().await.err();
                for e in [refresh, send, logout] {
                    log.lock()
                        .unwrap()
                        .push((event, e.map(|e| format!("{e:?}")).unwrap_or_default()));
                }
            }
        })
        .build()
        .unwrap();
    let session = client.restore(&did).await.unwrap();
    let _ = session_slot.set(session.clone());

    let outcome = tokio::time::timeout(Duration::from_secs(30), session.refresh())
        .await
        .expect("the refresh deadlocked on its own hook");
    let err = outcome.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        matches!(&err, SessionError::Auth(a) if a.downcast_ref::<OAuthError>().is_some()),
        "{err:?}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (event, e) in seen {
        assert_eq!(event, SessionEvent::NetworkError);
        assert_eq!(e, "CalledFromHook");
    }
    // Outside the hook the session works as before.
    assert!(session.data().is_some());
}

/// `OAuthClientBuilder::refresh_margin` decides when a token is due, like
/// `CredentialSessionBuilder::refresh_margin`.
#[tokio::test]
async fn the_refresh_margin_is_configurable() {
    let did = Did::new("did:plc:alice").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let client = |margin: Option<Duration>| {
        let store = Arc::new(atmo_oauth::MemoryStore::<OAuthSessionData>::new());
        let mut data = stored(&did);
        data.expires_at = Some(now + 120);
        let config = ClientConfig::loopback(
            vec!["http://127.0.0.1:8080/callback".into()],
            Scopes::generic(),
        );
        let mut builder = OAuthClient::builder(config)
            .identity_resolver(Arc::new(Unreachable))
            .session_store(store.clone());
        if let Some(m) = margin {
            builder = builder.refresh_margin(m);
        }
        (builder.build().unwrap(), store, data)
    };
    // Two minutes left: not due with the default margin (30 s)...
    let (default, store, data) = client(None);
    store.save_session(&data).await.unwrap();
    assert!(default.restore(&did).await.is_ok());
    // ...due with a five-minute one: restoring tries to refresh, which
    // cannot reach the (unreachable) authorization server.
    let (wide, store, data) = client(Some(Duration::from_secs(300)));
    store.save_session(&data).await.unwrap();
    let err = wide.restore(&did).await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::Session(SessionError::Auth(_))),
        "{err:?}"
    );
}

fn loopback_config() -> ClientConfig {
    ClientConfig::loopback(
        vec!["http://127.0.0.1:8080/callback".into()],
        Scopes::generic(),
    )
}

/// `OAuthClientBuilder::timeout` bounds the session's calls to the PDS too,
/// not only those to the authorization server: a PDS that accepts the
/// connection and never answers ends the call with a typed timeout.
#[tokio::test(flavor = "multi_thread")]
async fn the_timeout_reaches_the_pds_calls() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    // Accepts and holds every connection, reading nothing, answering nothing.
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });
    let did = Did::new("did:plc:alice").unwrap();
    let mut data = stored(&did);
    data.pds = format!("http://{addr}");
    let store = Arc::new(atmo_oauth::MemoryStore::<OAuthSessionData>::new());
    store.save_session(&data).await.unwrap();
    let client = OAuthClient::builder(loopback_config())
        .identity_resolver(Unreachable)
        .session_store(store)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let session = client.restore(&did).await.unwrap();
    // A guard against a hang only: the default timeout (60 s) would pass it.
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        session.send(XrpcRequest::new("com.example.echo", Method::Query)),
    )
    .await
    .expect("the PDS call outlived the client's timeout");
    let err = outcome.unwrap_err();
    assert!(
        matches!(
            &err,
            SessionError::Xrpc(atmo_xrpc::Error::Transport(t))
                if t.kind == atmo_xrpc::TransportErrorKind::Timeout
        ),
        "{err:?}"
    );
    assert!(err.is_transient(), "{err:?}");
    assert!(session.data().is_some(), "a timeout keeps the session");
    held.abort();
}

type Seen = Arc<Mutex<Vec<(SessionEvent, Option<Did>, bool)>>>;

/// The hook has the password session's shape, `(event, did, session)`, in
/// both forms; `Expired` names the account whose session ended. The
/// builder takes stores, resolvers and HTTP clients by value or shared, as
/// the agent's builder does.
#[tokio::test]
async fn the_event_hook_has_the_password_sessions_shape() {
    let did = Did::new("did:plc:alice").unwrap();
    for asynchronous in [false, true] {
        let store = Arc::new(atmo_oauth::MemoryStore::<OAuthSessionData>::new());
        store.save_session(&stored(&did)).await.unwrap();
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let builder = OAuthClient::builder(loopback_config())
            .identity_resolver_arc(Arc::new(Unreachable))
            .state_store(atmo_oauth::MemoryStore::<atmo_oauth::AuthState>::new())
            .session_store_arc(store.clone())
            .http_client_arc(Arc::new(atmo_xrpc::HyperClient::new().unwrap()));
        let builder = if asynchronous {
            builder.on_session_event_async(move |event, did, data| {
                let log = log.clone();
                async move { log.lock().unwrap().push((event, did, data.is_some())) }
            })
        } else {
            builder.on_session_event(move |event, did, data| {
                log.lock()
                    .unwrap()
                    .push((event, did.cloned(), data.is_some()))
            })
        };
        let client = builder.build().unwrap();
        let session = client.restore(&did).await.unwrap();
        // A refresh that cannot reach the server, then the end.
        assert!(session.refresh().await.unwrap_err().is_transient());
        session.logout().await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (SessionEvent::NetworkError, Some(did.clone()), true),
                (SessionEvent::Expired, Some(did.clone()), false),
            ],
            "async: {asynchronous}"
        );
        assert!(store.load_session(&did).await.unwrap().is_none());
    }
}

/// The names before the unified surface still compile and work.
#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_names_still_work() {
    let did = Did::new("did:plc:alice").unwrap();
    let store = Arc::new(atmo_oauth::MemoryStore::<OAuthSessionData>::new());
    store.save_session(&stored(&did)).await.unwrap();
    let seen: Arc<Mutex<Vec<(SessionEvent, Did)>>> = Arc::default();
    let log = seen.clone();
    let client = OAuthClient::builder(loopback_config())
        .resolver(Arc::new(Unreachable))
        .session_store(store)
        .on_event(move |event, did, _data| {
            let log = log.clone();
            async move { log.lock().unwrap().push((event, did)) }
        })
        .build()
        .unwrap();
    let session = client.restore(&did).await.unwrap();
    session.sign_out().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [(SessionEvent::Expired, did)]);
}
