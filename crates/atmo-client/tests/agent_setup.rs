//! Setting up an agent: configuration errors are typed (`Error::Config`),
//! each setting has one name on the builder and on the agent, `login`
//! takes its `Login` by value or by reference, the application's own uses
//! of the library's error types convert with `?`, and a local development
//! setup (`LocalDev`) resolves handles and DIDs of a PDS and PLC directory
//! on loopback.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "hyper")]

mod common;

use atmo_client::atmo_api::com::atproto::repo::create_record;
use atmo_client::atmo_types::{AtIdentifier, Datetime, Did, Handle, Nsid, SyntaxError};
use atmo_client::atmo_xrpc::UrlError;
use atmo_client::{
    AgentBuilder, AnyError, AtpAgent, ConfigError, Error, LocalDev, Login, OtherError,
};
use common::{Fake, Mock, Reply, Req, PASSWORD};
use serde_json::json;

/// A did:plc with valid syntax for the identity lookups.
const PLC_DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
/// A K-256 public key (multibase), the account's `#atproto` key.
const K256: &str = "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";

#[test]
fn a_bad_service_url_is_a_typed_configuration_error() {
    for url in ["ftp://x", "not a url", ""] {
        match AtpAgent::builder(url).build() {
            Err(Error::Config(e)) => {
                assert_eq!(e.setting, "service URL", "{url}");
                assert!(
                    matches!(e.url_error(), Some(UrlError::Invalid(_))),
                    "{url}: {e:?}"
                );
                let text = Error::<atmo_client::NoError>::Config(e).to_string();
                assert!(text.starts_with("bad configuration: service URL"), "{text}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    match AtpAgent::builder("http://bsky.social").build() {
        Err(e) => {
            let config = e.config().expect("a configuration error");
            assert!(matches!(config.url_error(), Some(UrlError::Insecure(_))));
            // Not a transport error, and no empty endpoint name.
            assert!(e.xrpc().is_none());
            assert_eq!(e.nsid(), None);
        }
        Ok(_) => panic!("plain http to a public host must be refused"),
    }
    // The same through `?` into AnyError.
    fn build() -> Result<AtpAgent, AnyError> {
        Ok(AtpAgent::builder("ftp://x").build()?)
    }
    assert!(matches!(build(), Err(Error::Config(_))));
    let made = ConfigError::new("HTTP client", "none");
    assert_eq!(made.to_string(), "bad configuration: HTTP client: none");
}

#[test]
fn a_local_dev_setup_with_bad_urls_is_a_configuration_error() {
    let e = LocalDev::new("http://localhost:2583", "not a url")
        .agent_builder()
        .build()
        .unwrap_err();
    let config = e.config().expect("a configuration error");
    assert_eq!(config.setting, "local development setup");
    assert!(config.reason.contains("not a url"), "{config}");
    assert!(matches!(
        LocalDev::new("http://localhost:2583", "ftp://plc").resolver(),
        Err(Error::Config(_))
    ));
}

/// `?` on the library's own error types in a function returning
/// `AnyError`: syntax errors, JSON errors, validation errors.
#[test]
fn any_error_absorbs_the_librarys_own_errors() {
    fn did(s: &str) -> Result<Did, AnyError> {
        Ok(Did::new(s)?)
    }
    fn handle_and_nsid(h: &str, n: &str) -> Result<(Handle, Nsid), AnyError> {
        Ok((Handle::new(h)?, Nsid::new(n)?))
    }
    fn json(s: &str) -> Result<serde_json::Value, AnyError> {
        Ok(serde_json::from_str(s)?)
    }
    fn valid_post(text: String) -> Result<(), AnyError> {
        use atmo_client::atmo_api::app::bsky::feed::post::Post;
        use atmo_client::atmo_types::validate::Validate;
        let post = Post::new(text, Datetime::now());
        post.validate()?;
        Ok(())
    }
    // Also into an endpoint's own error type.
    fn typed(s: &str) -> Result<AtIdentifier, Error<create_record::Error>> {
        Ok(AtIdentifier::new(s)?)
    }

    assert!(did("did:plc:ewvi7nxzyoun6zhxrhs64oiz").is_ok());
    let e = did("alice").unwrap_err();
    let syntax = e
        .other()
        .and_then(OtherError::downcast_ref::<SyntaxError>)
        .expect("the syntax error, typed");
    assert_eq!(syntax.format, "did");
    assert!(e.to_string().starts_with("invalid did"), "{e}");

    let e = handle_and_nsid("alice.test", "not an nsid").unwrap_err();
    assert_eq!(
        e.other()
            .and_then(OtherError::downcast_ref::<SyntaxError>)
            .map(|s| s.format),
        Some("nsid")
    );

    let e = json("{not json").unwrap_err();
    let other = e.other().expect("carried as Other");
    assert!(other.is::<serde_json::Error>());
    assert!(
        format!("{other:?}").contains("serde_json::error::Error"),
        "{other:?}"
    );

    let e = valid_post("x".repeat(3001)).unwrap_err();
    assert!(e
        .other()
        .is_some_and(OtherError::is::<atmo_client::atmo_types::validate::ValidationError>));
    assert!(e.to_string().contains("text"), "{e}");

    assert!(matches!(typed("@@"), Err(Error::Other(_))));
}

#[tokio::test]
async fn login_takes_its_login_by_value_or_by_reference() {
    let fake = Fake::new();
    let f = fake.clone();
    let mock = Mock::start(move |r| f.handle(r)).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    let login = Login::new("alice.test", PASSWORD);
    agent.login(&login).await.unwrap();
    // The same value again, then by value.
    agent.login(&login).await.unwrap();
    agent.login(login).await.unwrap();
    assert_eq!(mock.count("com.atproto.server.createSession"), 3);
}

#[tokio::test]
#[allow(deprecated)]
async fn each_setting_has_one_name_on_the_builder_and_the_agent() {
    let fake = Fake::new();
    let f = fake.clone();
    let mock = Mock::start(move |r| f.handle(r)).await;
    let agent = AtpAgent::builder(&mock.url)
        .validate_requests(false)
        .accept_labelers(["did:plc:builder"])
        .build()
        .unwrap();
    assert!(!agent.validates_requests());
    assert!(agent.with_validate_requests(true).validates_requests());
    // The former name still works, as a deprecated alias.
    assert!(agent.with_validation(true).validates_requests());

    let labelled = agent.with_accept_labelers(["did:plc:other;redact"]);
    assert_eq!(
        labelled.options().accept_labelers.as_deref(),
        Some(&["did:plc:other;redact".to_owned()][..])
    );
    assert_eq!(
        agent
            .with_labelers(["did:plc:old"])
            .options()
            .accept_labelers,
        Some(vec!["did:plc:old".to_owned()])
    );
    // The clone asks for its labelers on the wire.
    labelled
        .login(Login::new("alice.test", PASSWORD))
        .await
        .unwrap();
    labelled
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap();
    let sent = mock.of("com.atproto.server.getSession");
    assert_eq!(
        sent.last().unwrap().header("atproto-accept-labelers"),
        Some("did:plc:other;redact")
    );
}

/// A mock local PDS that is also its PLC directory: `resolveHandle` for
/// `alice.test`, and her DID document naming this server as her PDS.
async fn local_pds() -> (Mock, std::sync::Arc<Fake>) {
    let fake = Fake::new();
    *fake.did.lock().unwrap() = PLC_DID.into();
    let f = fake.clone();
    let url = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let u = url.clone();
    let mock = Mock::start(move |r: &Req| match r.nsid.as_str() {
        "com.atproto.identity.resolveHandle" => {
            if r.query
                .iter()
                .any(|(k, v)| k == "handle" && v == "alice.test")
            {
                Reply::ok(json!({ "did": PLC_DID }))
            } else {
                Reply::err(400, "InvalidRequest", "Unable to resolve handle")
            }
        }
        path if path == format!("/{PLC_DID}") => Reply::ok(json!({
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": PLC_DID,
            "alsoKnownAs": ["at://alice.test"],
            "verificationMethod": [{
                "id": format!("{PLC_DID}#atproto"),
                "type": "Multikey",
                "controller": PLC_DID,
                "publicKeyMultibase": K256
            }],
            "service": [{
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": *u.lock().unwrap()
            }]
        })),
        _ => f.handle(r),
    })
    .await;
    *url.lock().unwrap() = mock.url.clone();
    (mock, fake)
}

/// `LocalDev` resolves a `.test` handle through the PDS, the DID document
/// through the local PLC, accepts the loopback PDS it names, and logs in
/// there with nothing but the handle.
#[tokio::test]
async fn local_dev_logs_in_with_a_test_handle_and_resolves_identities() {
    let (mock, _fake) = local_pds().await;
    let dev = LocalDev::new(&mock.url, &mock.url);
    assert_eq!(dev.pds_url(), mock.url);
    assert_eq!(dev.plc_url(), mock.url);

    let agent = dev
        .agent_builder()
        .login_with_handle("alice.test", PASSWORD)
        .await
        .unwrap();
    assert_eq!(agent.did().unwrap().as_str(), PLC_DID);
    assert_eq!(agent.service_url().as_str().trim_end_matches('/'), mock.url);
    let alice = agent.resolve_identity("alice.test").await.unwrap();
    assert_eq!(alice.did.as_str(), PLC_DID);
    assert_eq!(
        alice.handle.verified().map(Handle::as_str),
        Some("alice.test")
    );
    assert_eq!(alice.pds.as_str().trim_end_matches('/'), mock.url);
    assert!(mock.count("com.atproto.identity.resolveHandle") >= 1);
    assert!(mock.count(&format!("/{PLC_DID}")) >= 1);

    // An agent built (not logged in) with the setup resolves too, and its
    // service is the PDS.
    let built = AgentBuilder::new().local_dev(dev.clone()).build().unwrap();
    assert_eq!(built.service_url().as_str().trim_end_matches('/'), mock.url);
    let again = built.resolve_identity(PLC_DID).await.unwrap();
    assert_eq!(
        again.handle.verified().map(Handle::as_str),
        Some("alice.test")
    );

    // The resolver alone, for OAuth clients and firehose verifiers.
    let resolver = dev.resolver().unwrap();
    assert_eq!(
        resolver
            .resolve_identity("alice.test")
            .await
            .unwrap()
            .did
            .as_str(),
        PLC_DID
    );
}
