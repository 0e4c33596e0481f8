//! createAccount errors, and accounts that are taken down or deactivated.

use atmo_api::com::atproto::admin::{defs, update_subject_status};
use atmo_api::com::atproto::server::{
    create_account, create_invite_code, create_session, deactivate_account,
};
use atmo_client::{CallOptions, Error, Login, NewAccount, SessionEvent};
use atmo_types::{Did, Extra, Handle};
use atproto_tests::{unique_handle, Pds, PdsOptions};

use crate::{agent, logged_in, login, new_account, PASSWORD};

fn account(handle: &str) -> NewAccount {
    NewAccount::new(Handle::new(handle).expect("syntactically valid handle"))
        .email(format!("{}@example.test", handle.replace('.', "-")))
        .password(PASSWORD)
}

/// A taken handle and a handle the server refuses come back as
/// createAccount's declared, typed errors, and fire `CreateFailed`.
#[tokio::test(flavor = "multi_thread")]
async fn create_account_errors_are_typed() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, events) = agent(&pds.url);
    let (taken, _) = new_account(&agent, "erin").await;
    events.clear();

    let (fresh, fresh_events) = crate::agent(&pds.url);
    // The lexicon declares `HandleNotAvailable`, but the reference PDS
    // answers a taken handle with 400 `InvalidRequest`: an undeclared name,
    // so it comes back as `Error::Xrpc` with status, name and message.
    match fresh.create_account(account(&taken)).await {
        Err(Error::Api {
            error: create_account::Error::HandleNotAvailable(_),
            ..
        }) => {}
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
            atmo_client::atmo_xrpc::XrpcError {
                status: 400,
                error,
                message: Some(message),
                ..
            },
        ))) if error == "InvalidRequest" && message.contains("Handle already taken") => {}
        other => panic!("taken handle gave {other:?}"),
    }
    // Too short before the domain (the PDS wants 3 to 18 characters): valid
    // handle syntax, refused by the server.
    match fresh.create_account(account("ab.test")).await {
        Err(Error::Api {
            error: create_account::Error::InvalidHandle(_),
            ..
        }) => {}
        other => panic!("short handle gave {other:?}"),
    }
    // A domain the server does not serve.
    match fresh
        .create_account(account(
            &unique_handle("frank").replace(".test", ".example"),
        ))
        .await
    {
        Err(Error::Api {
            error: create_account::Error::UnsupportedDomain(_),
            ..
        })
        | Err(Error::Api {
            error: create_account::Error::InvalidHandle(_),
            ..
        }) => {}
        other => panic!("foreign domain gave {other:?}"),
    }
    assert!(!fresh.has_session());
    assert_eq!(
        fresh_events.names(),
        vec![SessionEvent::CreateFailed; 3],
        "one CreateFailed per failed createAccount"
    );
}

/// With invites required, a missing or unknown invite code is
/// the typed `InvalidInviteCode`; a code made through the admin API works.
#[tokio::test(flavor = "multi_thread")]
async fn invite_codes_when_the_server_requires_them() {
    let Some(pds) = Pds::start_or_skip(&PdsOptions {
        invites: true,
        ..Default::default()
    }) else {
        return;
    };
    let (agent, _) = agent(&pds.url);
    let handle = unique_handle("gina");
    match agent.create_account(account(&handle)).await {
        Err(Error::Api {
            error: create_account::Error::InvalidInviteCode(_),
            ..
        }) => {}
        other => panic!("no invite code gave {other:?}"),
    }
    match agent
        .create_account(account(&handle).invite_code("localhost-nope-nope"))
        .await
    {
        Err(Error::Api {
            error: create_account::Error::InvalidInviteCode(_),
            ..
        }) => {}
        other => panic!("unknown invite code gave {other:?}"),
    }
    let code = agent
        .call_with::<create_invite_code::CreateInviteCode>(
            &(),
            &create_invite_code::Input {
                use_count: 1,
                for_account: None,
                extra: Extra::new(),
            },
            &CallOptions::new().header("authorization", pds.admin_auth()),
        )
        .await
        .expect("admin createInviteCode")
        .code;
    let session = agent
        .create_account(account(&handle).invite_code(code))
        .await
        .expect("createAccount with a fresh invite code");
    assert_eq!(session.handle, handle);
}

async fn set_takedown(pds: &Pds, agent: &atmo_client::AtpAgent, did: &Did, applied: bool) {
    agent
        .call_with::<update_subject_status::UpdateSubjectStatus>(
            &(),
            &update_subject_status::Input {
                subject: update_subject_status::InputSubject::RepoRef(Box::new(defs::RepoRef {
                    did: did.clone(),
                    extra: Extra::new(),
                })),
                takedown: Some(defs::StatusAttr {
                    applied,
                    r#ref: Some("e2e-test".into()),
                    extra: Extra::new(),
                }),
                deactivated: None,
                extra: Extra::new(),
            },
            &CallOptions::new().header("authorization", pds.admin_auth()),
        )
        .await
        .expect("admin updateSubjectStatus");
}

/// After a takedown through the admin API, login is the typed
/// `AccountTakedown`; a live session's next refresh is refused and the
/// session ends with `Expired`.
#[tokio::test(flavor = "multi_thread")]
async fn takedown_refuses_login_and_ends_a_live_session() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, events, handle) = logged_in(pds, "hank").await;
    let did = agent.did().unwrap();

    set_takedown(pds, &agent, &did, true).await;

    let (other, other_events) = crate::agent(&pds.url);
    match other.login(Login::new(handle.as_str(), PASSWORD)).await {
        Err(Error::Api {
            error: create_session::Error::AccountTakedown(message),
            ..
        }) => {
            assert!(message.is_some());
        }
        other => panic!("login after takedown gave {other:?}"),
    }
    assert_eq!(other_events.names(), vec![SessionEvent::CreateFailed]);

    // The live session: its refresh token is no longer honoured.
    let refreshed = agent.refresh_session().await;
    match &refreshed {
        Err(Error::Session(atmo_client::SessionError::Expired { error, .. })) => {
            assert_eq!(error, "AccountTakedown")
        }
        other => panic!("refresh after takedown gave {other:?}"),
    }
    assert!(!agent.has_session(), "the session ends");
    assert_eq!(events.names(), vec![SessionEvent::Expired]);

    // Reversing the takedown lets the account log in again.
    set_takedown(pds, &other, &did, false).await;
    login(&other, &handle).await;
}

/// A deactivated account can still log in; the session says
/// `active: false` and `status: "deactivated"`.
#[tokio::test(flavor = "multi_thread")]
async fn deactivated_account_logs_in_with_status() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _, handle) = logged_in(pds, "iris").await;
    agent
        .call::<deactivate_account::DeactivateAccount>(
            (),
            deactivate_account::Input {
                delete_after: None,
                extra: Extra::new(),
            },
        )
        .await
        .expect("deactivateAccount");
    let (again, _) = crate::agent(&pds.url);
    let session = login(&again, &handle).await;
    assert!(!session.active);
    assert_eq!(session.status.as_deref(), Some("deactivated"));
    assert_eq!(
        again.session().unwrap().status.as_deref(),
        Some("deactivated")
    );
}
