//! Account creation, records, logins by
//! handle/DID/email, persistence across agents, logout.

use atmo_api::app::bsky::actor::profile::Profile;
use atmo_api::app::bsky::feed::post::Post;
use atmo_client::{Error, FileStore, Login, SessionEvent};
use atmo_types::{AtIdentifier, RecordKey};
use atproto_tests::proxy::Proxy;
use atproto_tests::Pds;

use crate::{agent, login, new_account, PASSWORD};

/// createAccount starts a session and fires `Create`; a profile
/// record and a post written with `agent.post` read back equal.
#[tokio::test(flavor = "multi_thread")]
async fn create_account_then_profile_and_post_round_trip() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, events) = agent(&pds.url);
    let (handle, session) = new_account(&agent, "alice").await;
    assert_eq!(session.handle, handle);
    assert!(session.active);
    assert_eq!(events.all(), vec![(SessionEvent::Create, true)]);
    assert_eq!(agent.did().as_ref(), Some(&session.did));
    assert!(agent.has_session());

    let profile = Profile {
        display_name: Some("Alice Test".into()),
        description: Some("Made by the end-to-end suite.".into()),
        ..Default::default()
    };
    let self_key = RecordKey::new("self").unwrap();
    agent
        .put_record(self_key.clone(), &profile)
        .await
        .expect("put profile");
    let me = AtIdentifier::from(session.did.clone());
    let fetched = agent
        .get_record::<Profile>(me.clone(), self_key)
        .await
        .expect("get profile");
    assert_eq!(fetched.value.display_name.as_deref(), Some("Alice Test"));
    assert_eq!(fetched.value.description, profile.description);

    let posted = agent.post("Hello from Rust").await.expect("post");
    assert_eq!(posted.uri.collection(), Some("app.bsky.feed.post"));
    let rkey = RecordKey::new(posted.uri.rkey().expect("post uri has an rkey")).unwrap();
    let post = agent.get_record::<Post>(me, rkey).await.expect("get post");
    assert_eq!(post.value.text, "Hello from Rust");
    assert_eq!(post.cid.as_ref(), Some(&posted.cid));
    // Only the creation event: no refresh was needed along the way.
    assert_eq!(events.names(), vec![SessionEvent::Create]);
}

/// Login by handle, by DID and by email; a wrong password is the
/// server's 401 `AuthenticationRequired`, reported with status and name, and
/// fires `CreateFailed`.
#[tokio::test(flavor = "multi_thread")]
async fn login_by_handle_did_and_email_and_wrong_password() {
    let Some(pds) = Pds::shared() else { return };
    let (creator, _) = agent(&pds.url);
    let (handle, created) = new_account(&creator, "bob").await;
    let email = created
        .email
        .clone()
        .expect("createAccount returns the email");

    for identifier in [handle.clone(), created.did.to_string(), email] {
        let (agent, events) = agent(&pds.url);
        let session = login(&agent, &identifier).await;
        assert_eq!(session.did, created.did, "login as {identifier}");
        assert_eq!(session.handle, handle);
        assert_eq!(events.names(), vec![SessionEvent::Create]);
    }

    let (agent, events) = agent(&pds.url);
    match agent
        .login(Login::new(handle.as_str(), "not-the-password"))
        .await
    {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
            atmo_client::atmo_xrpc::XrpcError { status, error, .. },
        ))) => {
            assert_eq!(status, 401);
            assert_eq!(error, "AuthenticationRequired");
        }
        other => panic!("wrong password gave {other:?}"),
    }
    assert!(!agent.has_session());
    assert_eq!(events.names(), vec![SessionEvent::CreateFailed]);
}

/// An agent saving its session to `path`, recording its events.
fn file_agent(
    service: &str,
    path: &std::path::Path,
) -> (atmo_client::AtpAgent, atproto_tests::Events) {
    let events = atproto_tests::Events::default();
    let agent = atmo_client::AtpAgent::builder(service)
        .session_store(FileStore::new(path))
        .on_session_event(events.hook())
        .build()
        .unwrap();
    (agent, events)
}

/// Persist to the file store, drop the agent, build a new one on
/// the same file, resume: the session works, `Update` fires, same DID.
#[tokio::test(flavor = "multi_thread")]
async fn file_store_persist_and_resume_in_a_new_agent() {
    let Some(pds) = Pds::shared() else { return };
    let dir = std::env::temp_dir().join(format!("atproto-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session-resume.json");
    let _ = std::fs::remove_file(&path);

    let did = {
        let (agent, events) = file_agent(&pds.url, &path);
        let (_, session) = new_account(&agent, "carol").await;
        assert_eq!(events.names(), vec![SessionEvent::Create]);
        session.did
    };
    let saved = std::fs::read_to_string(&path).expect("the session file exists");
    let json: serde_json::Value = serde_json::from_str(&saved).expect("the file is JSON");
    assert_eq!(json["did"], did.as_str());
    assert!(json["accessJwt"].is_string() && json["refreshJwt"].is_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "session file mode");
    }

    // "Restart": a new agent on the same file.
    let (agent, events) = file_agent(&pds.url, &path);
    assert!(!agent.has_session());
    let resumed = agent
        .resume_from_store()
        .await
        .expect("resume")
        .expect("a saved session");
    assert_eq!(resumed.did, did);
    assert_eq!(events.names(), vec![SessionEvent::Update]);
    // And it is usable.
    let me = agent.did().unwrap();
    let out = agent
        .api()
        .com
        .atproto
        .repo
        .describe_repo(atmo_api::com::atproto::repo::describe_repo::Parameters {
            repo: me.clone().into(),
        })
        .await
        .expect("describeRepo with the resumed session");
    assert_eq!(out.did, me);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Logout sends deleteSession with the refresh token; afterwards
/// that refresh token is refused by the server (400 `ExpiredToken`, "Token
/// has been revoked"); `Expired` fires and the agent has no session.
#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_refresh_token() {
    let Some(pds) = Pds::shared() else { return };
    let proxy = Proxy::start(&pds.url).await;
    let (agent, events) = agent(&proxy.url);
    let (handle, _) = new_account(&agent, "dave").await;
    let session = login(&agent, &handle).await;
    let refresh = session.refresh_jwt.expose().to_owned();
    events.clear();

    agent.logout().await.expect("logout");
    assert!(!agent.has_session());
    assert_eq!(agent.session(), None);
    assert_eq!(events.all(), vec![(SessionEvent::Expired, false)]);
    let deletes: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.nsid == "com.atproto.server.deleteSession")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        deletes[0].authorization.as_deref(),
        Some(format!("Bearer {refresh}").as_str())
    );
    assert_eq!(deletes[0].status, 200);

    // The revoked refresh token no longer refreshes.
    // Not `reqwest::Client::new()`: this build of reqwest has no default
    // crypto provider, and the library no longer installs one.
    let resp = atmo_client::ReqwestClient::new()
        .unwrap()
        .inner()
        .clone()
        .post(format!(
            "{}/xrpc/com.atproto.server.refreshSession",
            pds.url
        ))
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "ExpiredToken");
    assert_eq!(body["message"], "Token has been revoked");

    // A call now needs a session.
    assert!(matches!(
        agent.post("after logout").await,
        Err(Error::Session(atmo_client::SessionError::NoSession))
    ));
    let _ = PASSWORD;
}
