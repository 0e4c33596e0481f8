//! The agent with the generated endpoints: login, accounts, records, api().
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use atmo_client::atmo_api::app::bsky::feed::{get_timeline, post::Post};
use atmo_client::atmo_api::com::atproto::server::{confirm_email, create_account, create_session};
use atmo_client::atmo_types::{AtIdentifier, Extra, Handle, RecordKey};
use atmo_client::{AtpAgent, Error, Login, NewAccount};
use common::{fake_server, Events, Fake, Mock, Reply, CODE, DID, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn login_with_two_factor_prompt() {
    let fake = Fake::with_2fa();
    let mock = fake_server(&fake).await;
    let events = Events::default();
    let agent = AtpAgent::builder(&mock.url)
        .on_session_event(events.hook())
        .build()
        .unwrap();
    let login = Login::new("alice.test", PASSWORD);
    assert!(!format!("{login:?}").contains(PASSWORD));
    match agent.login(login.clone()).await {
        Err(Error::Api {
            error: create_session::Error::AuthFactorTokenRequired(_),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let body = mock.of("com.atproto.server.createSession")[0].json();
    assert_eq!(
        body,
        json!({"identifier": "alice.test", "password": PASSWORD})
    );
    let s = agent.login(login.auth_factor_token(CODE)).await.unwrap();
    assert_eq!(s.did.as_str(), DID);
    assert_eq!(agent.did().unwrap().as_str(), DID);
    assert_eq!(
        mock.of("com.atproto.server.createSession")[1].json()["authFactorToken"],
        CODE
    );
    use atmo_client::SessionEvent::*;
    assert_eq!(events.take(), vec![CreateFailed, Create]);
}

#[tokio::test]
async fn takedown_is_typed() {
    let mock =
        Mock::start(|_| Reply::err(401, "AccountTakedown", "Account has been taken down")).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    let r = agent.login(Login::new("alice.test", PASSWORD)).await;
    assert!(
        matches!(
            r,
            Err(Error::Api {
                error: create_session::Error::AccountTakedown(_),
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn create_account_starts_a_session() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    let s = agent
        .create_account(
            NewAccount::new(Handle::new("alice.test").unwrap())
                .email("alice@example.test")
                .password(PASSWORD)
                .invite_code("invite-1"),
        )
        .await
        .unwrap();
    assert_eq!(s.did.as_str(), DID);
    assert!(agent.has_session());
    let body = mock.of("com.atproto.server.createAccount")[0].json();
    assert_eq!(
        body,
        json!({"email": "alice@example.test", "handle": "alice.test", "inviteCode": "invite-1", "password": PASSWORD})
    );
    let fail = Mock::start(|_| Reply::err(400, "InvalidInviteCode", "bad code")).await;
    let agent = AtpAgent::builder(&fail.url).build().unwrap();
    let r = agent
        .create_account(NewAccount::new(Handle::new("bob.test").unwrap()))
        .await;
    assert!(matches!(
        r,
        Err(Error::Api {
            error: create_account::Error::InvalidInviteCode(_),
            ..
        })
    ));
}

async fn logged_in(fake: &std::sync::Arc<Fake>) -> (Mock, AtpAgent) {
    let f = fake.clone();
    let mock = Mock::start(move |r| match r.nsid.as_str() {
        "com.atproto.repo.createRecord" | "com.atproto.repo.putRecord" => Reply::ok(json!({
            "uri": format!("at://{DID}/app.bsky.feed.post/3jzfcijpj2z2a"),
            "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
        })),
        "com.atproto.repo.getRecord" => Reply::ok(json!({
            "uri": format!("at://{DID}/app.bsky.feed.post/3jzfcijpj2z2a"),
            "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
            "value": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-01-01T00:00:00.000Z", "future": 1}
        })),
        "com.atproto.repo.deleteRecord" => Reply::ok(json!({})),
        "app.bsky.feed.getTimeline" => Reply::ok(json!({"feed": [], "cursor": "c1"})),
        _ => f.handle(r),
    })
    .await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    agent.login(Login::new(DID, PASSWORD)).await.unwrap();
    (mock, agent)
}

#[tokio::test]
async fn post_and_record_helpers() {
    let fake = Fake::new();
    let (mock, agent) = logged_in(&fake).await;
    let r = agent.post("Hello from Rust").await.unwrap();
    assert_eq!(
        r.uri.as_str(),
        format!("at://{DID}/app.bsky.feed.post/3jzfcijpj2z2a")
    );
    let req = mock.of("com.atproto.repo.createRecord").pop().unwrap();
    assert_eq!(req.method, "POST");
    let body = req.json();
    assert_eq!(body["repo"], DID);
    assert_eq!(body["collection"], "app.bsky.feed.post");
    assert_eq!(body["record"]["$type"], "app.bsky.feed.post");
    assert_eq!(body["record"]["text"], "Hello from Rust");
    let created = body["record"]["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    assert!(body.get("rkey").is_none());

    let post = Post {
        text: "pinned".into(),
        entities: None,
        facets: None,
        reply: None,
        embed: None,
        langs: None,
        labels: None,
        tags: None,
        created_at: atmo_client::atmo_types::Datetime::new("2024-01-01T00:00:00.000Z").unwrap(),
        extra: Extra::new(),
    };
    let rkey = RecordKey::new("self").unwrap();
    agent.put_record(rkey.clone(), &post).await.unwrap();
    let body = mock.of("com.atproto.repo.putRecord").pop().unwrap().json();
    assert_eq!(body["rkey"], "self");
    assert_eq!(body["record"]["text"], "pinned");

    let got = agent
        .get_record::<Post>(AtIdentifier::new(DID).unwrap(), rkey.clone())
        .await
        .unwrap();
    assert_eq!(got.value.text, "hi");
    assert_eq!(got.value.extra.get("future"), Some(&json!(1)));
    let q = mock.of("com.atproto.repo.getRecord").pop().unwrap().query;
    assert!(q.contains(&("collection".into(), "app.bsky.feed.post".into())));

    agent.delete_record::<Post>(rkey).await.unwrap();
    let body = mock
        .of("com.atproto.repo.deleteRecord")
        .pop()
        .unwrap()
        .json();
    assert_eq!(
        body,
        json!({"repo": DID, "collection": "app.bsky.feed.post", "rkey": "self"})
    );

    // Without a session the helpers refuse before sending.
    agent.logout().await.unwrap();
    assert!(matches!(
        agent.post("x").await,
        Err(Error::Session(atmo_client::SessionError::NoSession))
    ));
}

#[tokio::test]
async fn generated_namespace_tree() {
    let fake = Fake::new();
    let (mock, agent) = logged_in(&fake).await;
    let params = get_timeline::Parameters {
        algorithm: None,
        limit: 30,
        cursor: None,
    };
    let out = agent
        .api()
        .app
        .bsky
        .feed
        .get_timeline(params)
        .await
        .unwrap();
    assert_eq!(out.cursor.as_deref(), Some("c1"));
    let req = mock.of("app.bsky.feed.getTimeline").pop().unwrap();
    assert!(req.query.contains(&("limit".into(), "30".into())));
    assert_eq!(req.bearer(), fake.current_access().as_deref());
}

#[tokio::test]
async fn generated_confirm_email_expired_token_is_typed_not_refreshed() {
    let fake = Fake::new();
    let f = fake.clone();
    let mock = Mock::start(move |r| {
        if r.nsid == "com.atproto.server.confirmEmail" {
            return Reply::err(400, "ExpiredToken", "Token is expired");
        }
        f.handle(r)
    })
    .await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    let input = confirm_email::Input {
        email: "alice@example.test".into(),
        token: "ABCDE".into(),
        extra: Extra::new(),
    };
    let r = agent.api().com.atproto.server.confirm_email(input).await;
    assert!(
        matches!(
            r,
            Err(Error::Api {
                error: confirm_email::Error::ExpiredToken(_),
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(mock.count("com.atproto.server.refreshSession"), 0);
}
