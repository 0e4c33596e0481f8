//! PDS discovery behind an entryway stand-in.

use atmo_client::SessionEvent;
use atproto_tests::proxy::Proxy;
use atproto_tests::Pds;

use crate::{agent, login, new_account};

/// The agent logs in through a loopback proxy on another port (standing in
/// for an entryway such as bsky.social). The didDoc names the PDS itself as
/// `#atproto_pds`, so data calls go there while session calls stay on the
/// service URL.
#[tokio::test(flavor = "multi_thread")]
async fn data_calls_go_to_the_pds_session_calls_to_the_service() {
    let Some(pds) = Pds::shared() else { return };
    let entryway = Proxy::start(&pds.url).await;
    let (agent, events) = agent(&entryway.url);
    let (handle, _) = new_account(&agent, "mona").await;

    let pds_url = agent.pds_url().expect("the didDoc names a PDS");
    assert_eq!(pds_url.as_str().trim_end_matches('/'), pds.url);
    assert_eq!(
        agent.service_url().as_str().trim_end_matches('/'),
        entryway.url
    );

    agent.post("routed to the PDS").await.expect("post");
    login(&agent, &handle).await;
    agent.refresh_session().await.expect("refresh");

    let through: Vec<String> = entryway.seen().into_iter().map(|s| s.nsid).collect();
    assert_eq!(
        through,
        [
            "com.atproto.server.createAccount",
            "com.atproto.server.createSession",
            "com.atproto.server.refreshSession",
        ],
        "only session calls pass the entryway"
    );
    assert_eq!(
        events.names(),
        vec![
            SessionEvent::Create,
            SessionEvent::Create,
            SessionEvent::Update
        ]
    );
}
