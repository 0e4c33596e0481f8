//! Identity resolution against the harness's real PDS and PLC directory:
//! a new account's handle through `resolveHandle`, its `did:plc` document
//! from the local PLC server (PDS and signing key), the handle checked both
//! ways; and a `did:web` document served on loopback.

use std::convert::Infallible;

use atmo_client::atmo_identity::{Curve, ErrorKind, HandleStatus, Step};
use atproto_tests::Pds;
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::json;

use crate::{agent, new_account};

#[tokio::test(flavor = "multi_thread")]
async fn new_account_resolves_through_resolve_handle_and_plc() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _) = agent(&pds.url);
    let (handle, session) = new_account(&agent, "ida").await;
    let did = session.did.as_str().to_owned();
    assert!(did.starts_with("did:plc:"), "{did}");
    let r = pds.resolver();

    // Handle → DID through com.atproto.identity.resolveHandle, case folded.
    let found = r
        .resolve_handle(&handle.to_uppercase())
        .await
        .expect("resolveHandle");
    assert_eq!(found.as_str(), did);

    // DID → document from the local PLC directory.
    let doc = r.resolve_did(&did).await.expect("PLC document");
    assert_eq!(doc.id().as_str(), did);
    assert_eq!(
        doc.handle().expect("alsoKnownAs has the handle").as_str(),
        handle
    );
    assert_eq!(
        doc.pds()
            .expect("#atproto_pds")
            .as_str()
            .trim_end_matches('/'),
        pds.url
    );

    // The whole identity, from the handle and from the DID.
    let id = r
        .resolve_identity(&handle)
        .await
        .expect("identity from the handle");
    assert_eq!(id.did.as_str(), did);
    assert_eq!(id.handle, HandleStatus::Verified(handle.parse().unwrap()));
    assert_eq!(id.pds.as_str().trim_end_matches('/'), pds.url);
    // The reference PDS gives new accounts a K-256 signing key.
    assert_eq!(id.signing_key.curve(), Curve::K256);
    assert!(id.signing_key.to_did_key().starts_with("did:key:zQ3s"));
    let from_did = r
        .fresh()
        .resolve_identity(&did)
        .await
        .expect("identity from the DID");
    assert_eq!(from_did.handle, id.handle);
    assert_eq!(from_did.signing_key, id.signing_key);

    // Unknown handle and DID: typed "not found" from the step that knows.
    let e = r.resolve_handle("nobody-here.test").await.unwrap_err();
    assert_eq!(e.step(), Step::ResolveHandle, "{e}");
    assert!(e.is_not_found(), "{e}");
    let e = r
        .resolve_did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .unwrap_err();
    assert_eq!(
        (e.step(), e.kind()),
        (Step::Plc, &ErrorKind::NotFound),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn did_web_document_on_loopback_names_the_pds() {
    let Some(pds) = Pds::shared() else { return };
    // A did:web account whose document points at the harness's PDS, served
    // by a tiny server on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let did = format!("did:web:localhost%3A{port}");
    let doc = serde_json::to_vec(&json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": ["at://web-ida.test"],
        "verificationMethod": [{
            "id": format!("{did}#atproto"), "type": "Multikey", "controller": did,
            "publicKeyMultibase": "zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo"
        }],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds.url}]
    }))
    .unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let doc = doc.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let body = if req.uri().path() == "/.well-known/did.json" {
                            doc.clone()
                        } else {
                            Vec::new()
                        };
                        let status = if body.is_empty() { 404 } else { 200 };
                        async move {
                            Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });

    let id = pds
        .resolver()
        .resolve_identity(&did)
        .await
        .expect("did:web identity");
    assert_eq!(id.did.as_str(), did);
    assert_eq!(id.pds.as_str().trim_end_matches('/'), pds.url);
    assert_eq!(id.signing_key.curve(), Curve::P256);
    // web-ida.test is not registered on the PDS: claimed, not verified.
    assert_eq!(
        id.handle,
        HandleStatus::Unverified("web-ida.test".parse().unwrap())
    );
    assert_eq!(id.handle.display(), "handle.invalid");
}
