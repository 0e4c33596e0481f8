//! Which PDS a DID document may send the password session's requests to:
//! identity's parser and host policy, with the development allowance.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use atmo_client::session::SessionManager;
use atmo_client::{CredentialSession, Login, Method, XrpcRequest};
use common::*;

async fn signed_in(service: &Mock, allow_private: Option<bool>) -> CredentialSession {
    let mut builder = CredentialSession::builder(&service.url);
    if let Some(allow) = allow_private {
        builder = builder.allow_private_hosts(allow);
    }
    let session = builder.build().unwrap();
    session.login(&Login::new(DID, PASSWORD)).await.unwrap();
    session
}

#[tokio::test]
async fn a_private_pds_is_followed_only_with_the_development_allowance() {
    let fake = Fake::new();
    let pds_fake = fake.clone();
    let pds = Mock::start(move |r| pds_fake.handle(r)).await;
    *fake.pds_url.lock().unwrap() = Some(pds.url.clone());
    let service = fake_server(&fake).await;
    let echo = || XrpcRequest::new("com.example.echo", Method::Query);

    // Refused: the DID document names a loopback host.
    let strict = signed_in(&service, Some(false)).await;
    assert_eq!(strict.pds_url(), None);
    strict.send(echo()).await.unwrap();
    assert_eq!(service.count("com.example.echo"), 1);
    assert_eq!(pds.count("com.example.echo"), 0);

    // The service is itself local (development): followed by default.
    let dev = signed_in(&service, None).await;
    assert_eq!(dev.pds_url().unwrap().as_str(), format!("{}/", pds.url));
    dev.send(echo()).await.unwrap();
    assert_eq!(pds.count("com.example.echo"), 1);
}

#[tokio::test]
async fn a_plain_http_pds_is_not_followed() {
    let fake = Fake::new();
    *fake.pds_url.lock().unwrap() = Some("http://pds.example.com".into());
    let service = fake_server(&fake).await;
    let session = signed_in(&service, Some(true)).await;
    assert_eq!(session.pds_url(), None);
}
