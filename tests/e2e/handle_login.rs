//! Logging in with nothing but a handle, and identity lookups through the
//! agent, against the harness's PDS and PLC directory.

use atmo_client::atmo_identity::HandleStatus;
use atmo_client::{AgentBuilder, AtpAgent, Error};
use atmo_types::Handle;
use atproto_tests::Pds;

use crate::{agent, new_account, PASSWORD};

/// The handle alone finds the PDS (handle → DID → PLC document →
/// `#atproto_pds`), the agent is built for it and logs in there.
#[tokio::test(flavor = "multi_thread")]
async fn login_with_only_a_handle_finds_the_pds() {
    let Some(pds) = Pds::shared() else { return };
    let (creator, _) = agent(&pds.url);
    let (handle, session) = new_account(&creator, "hlogin").await;

    let agent = AgentBuilder::new()
        .identity_resolver(pds.resolver())
        .login_with_handle(&handle.to_uppercase(), PASSWORD)
        .await
        .expect("login with the handle alone");
    let pds_url = format!("{}/", pds.url);
    assert_eq!(agent.service_url().as_str(), pds_url);
    assert_eq!(
        agent.pds_url().expect("PDS from the session").as_str(),
        pds_url
    );
    assert_eq!(agent.did(), Some(session.did.clone()));
    agent
        .post("found by handle")
        .await
        .expect("post after handle login");

    // Identity lookups through the agent.
    let h = Handle::new(handle.clone()).unwrap();
    assert_eq!(
        agent.resolve_handle(&h).await.expect("resolveHandle"),
        session.did
    );
    let id = agent
        .resolve_identity(&handle)
        .await
        .expect("resolve identity");
    assert_eq!(id.did, session.did);
    assert_eq!(id.handle, HandleStatus::Verified(h));
    assert_eq!(id.pds.as_str(), pds_url);

    // A wrong password is still the server's typed answer.
    let wrong = AgentBuilder::new()
        .identity_resolver(pds.resolver())
        .login_with_handle(&handle, "not-the-password")
        .await;
    assert!(
        matches!(&wrong, Err(e) if e.status() == Some(401)),
        "{:?}",
        wrong.as_ref().map(|_| ())
    );
}

/// A handle that does not resolve fails before any login, naming the step.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_handle_is_an_identity_error() {
    let Some(pds) = Pds::shared() else { return };
    let r = AgentBuilder::new()
        .identity_resolver(pds.resolver())
        .login_with_handle("nobody-here.test", PASSWORD)
        .await;
    match r {
        Err(Error::Identity(e)) => assert!(e.to_string().contains("nobody-here.test"), "{e}"),
        Err(e) => panic!("expected an identity error, got {e:?}"),
        Ok(_) => panic!("an unknown handle must not log in"),
    }
    // The one-call form uses the public defaults, which refuse a `.test`
    // handle on loopback: still a typed identity error, not a panic.
    assert!(matches!(
        AtpAgent::login_with_handle("nobody-here.test", PASSWORD).await,
        Err(Error::Identity(_))
    ));
}

/// The public local development setup (`LocalDev`, what `Pds::resolver`
/// is built on): a `.test` handle logs in with nothing else, and identity
/// lookups resolve through the harness's PDS and PLC directory.
#[tokio::test(flavor = "multi_thread")]
async fn local_dev_setup_logs_in_with_a_test_handle() {
    let Some(pds) = Pds::shared() else { return };
    let (creator, _) = agent(&pds.url);
    let (handle, session) = new_account(&creator, "ldev").await;

    let agent = pds
        .local_dev()
        .agent_builder()
        .login_with_handle(&handle, PASSWORD)
        .await
        .expect("login with a .test handle through LocalDev");
    assert_eq!(agent.did(), Some(session.did.clone()));
    let me = agent.resolve_identity(&handle).await.expect("resolve");
    assert_eq!(me.did, session.did);
    assert_eq!(me.pds.as_str().trim_end_matches('/'), pds.url);
}
