//! The `reqwest` feature's client drives the same session as the default
//! one: login, calls, refresh after expiry, a streamed body and the size cap.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use atmo_client::atmo_xrpc::{self, NoAuth, Transport, TransportConfig};
use atmo_client::{AtpAgent, Error, Login, ReqwestClient};
use common::ep::{Echo, EchoParams};
use common::{fake_server, Fake, Mock, Reply, PASSWORD};

#[tokio::test]
async fn a_session_over_reqwest_logs_in_calls_and_refreshes() {
    let fake = Fake::new();
    let mock = fake_server(&fake).await;
    let agent = AtpAgent::builder(&mock.url)
        .http_client(ReqwestClient::new().unwrap())
        .build()
        .unwrap();
    agent
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    agent.call::<Echo>(EchoParams::default(), ()).await.unwrap();
    fake.expire_access();
    agent.call::<Echo>(EchoParams::default(), ()).await.unwrap();
    assert_eq!(mock.count("com.atproto.server.refreshSession"), 1);
    agent.logout().await.unwrap();
    assert!(matches!(
        agent.call::<Echo>(EchoParams::default(), ()).await,
        Err(Error::Xrpc(_) | Error::Api { .. })
    ));
}

#[tokio::test]
async fn reqwest_streams_bodies_within_the_cap() {
    let body = vec![1u8; 200_000];
    let served = body.clone();
    let mock = Mock::start(move |_| Reply::Raw {
        status: 200,
        content_type: "application/vnd.ipld.car",
        body: served.clone(),
        headers: vec![],
    })
    .await;
    let base = atmo_xrpc::check_url(&mock.url, false).unwrap();
    let req = atmo_xrpc::XrpcRequest::new("com.example.car", atmo_client::Method::Query);
    let client = Arc::new(ReqwestClient::new().unwrap());
    let transport = Transport::new(client.clone(), TransportConfig::default());
    let mut answer = transport
        .send_streaming(&base, &req, &NoAuth)
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = answer.body.next_chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, body);
    let capped = Transport::new(
        client,
        TransportConfig {
            max_response_size: 1000,
            ..TransportConfig::default()
        },
    );
    match capped.send(&base, &req, &NoAuth).await {
        Err(atmo_xrpc::Error::ResponseTooLarge { limit: 1000, .. }) => {}
        other => panic!("{:?}", other.map(|a| a.status)),
    }
}
