//! Real JSON shapes decode into the generated types and encode back to equal
//! JSON. (Hand-written: this folder is not generated.)
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_api::app::bsky::embed;
use atmo_api::app::bsky::feed::{get_timeline, post};
use atmo_api::com::atproto::server::create_session;
use atmo_types::object::{Open, Record};
use atmo_types::xrpc::{Endpoint, EndpointError, Method, QueryParams, QueryWriter};
use serde_json::{json, Value};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &Value) -> T {
    let decoded: T = serde_json::from_value(v.clone()).expect("decodes");
    let again = serde_json::to_value(&decoded).unwrap();
    assert_eq!(&again, v, "re-encoded JSON differs");
    // And from text, as a client reads it (borrowed keys).
    let from_text: T = serde_json::from_str(&v.to_string()).unwrap();
    assert_eq!(serde_json::to_value(&from_text).unwrap(), *v);
    decoded
}

#[test]
fn create_session_output_with_did_doc() {
    let v = json!({
        "accessJwt": "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ.e30.sig",
        "refreshJwt": "eyJ0eXAiOiJyZWZyZXNoK2p3dCJ9.e30.sig",
        "handle": "alice.test",
        "did": "did:plc:z72i7hdynmk6r22z27h6tvur",
        "didDoc": {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": "did:plc:z72i7hdynmk6r22z27h6tvur",
            "alsoKnownAs": ["at://alice.test"],
            "verificationMethod": [{
                "id": "did:plc:z72i7hdynmk6r22z27h6tvur#atproto",
                "type": "Multikey",
                "controller": "did:plc:z72i7hdynmk6r22z27h6tvur",
                "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"
            }],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example"}]
        },
        "email": "alice@example.com",
        "emailConfirmed": true,
        "active": true,
        "status": "takendown",
        "somethingNew": {"kept": [1, 2]}
    });
    let out: create_session::Output = round_trip(&v);
    assert_eq!(out.did.as_str(), "did:plc:z72i7hdynmk6r22z27h6tvur");
    assert_eq!(out.handle.as_str(), "alice.test");
    assert_eq!(
        out.did_doc.as_ref().unwrap().to_value().unwrap()["id"],
        "did:plc:z72i7hdynmk6r22z27h6tvur"
    );
    assert_eq!(
        out.status,
        Some(Open::Known(create_session::OutputStatus::Takendown))
    );
    assert_eq!(
        out.extra.get("somethingNew"),
        Some(&json!({"kept": [1, 2]}))
    );

    // An unknown status value is kept as Other.
    let mut v2 = v.clone();
    v2["status"] = json!("napping");
    let out: create_session::Output = round_trip(&v2);
    assert_eq!(out.status, Some(Open::Other("napping".into())));

    // Required fields are required.
    let mut v3 = v.clone();
    v3.as_object_mut().unwrap().remove("did");
    let err = serde_json::from_value::<create_session::Output>(v3).unwrap_err();
    assert!(err.to_string().contains("missing field `did`"), "{err}");
}

#[test]
fn create_session_endpoint_and_errors() {
    assert_eq!(
        create_session::CreateSession::NSID,
        "com.atproto.server.createSession"
    );
    assert_eq!(create_session::CreateSession::METHOD, Method::Procedure);
    let e = create_session::Error::from_xrpc("AccountTakedown", Some("gone".into())).unwrap();
    assert_eq!(
        e,
        create_session::Error::AccountTakedown(Some("gone".into()))
    );
    assert_eq!(e.name(), "AccountTakedown");
    assert_eq!(e.to_string(), "AccountTakedown: gone");
    assert!(create_session::Error::from_xrpc("SomethingElse", None).is_none());
    let input = create_session::Input {
        identifier: "alice.test".into(),
        password: "hunter2".into(),
        auth_factor_token: None,
        allow_takendown: None,
        extra: Default::default(),
    };
    let body = create_session::CreateSession::encode_input(&input)
        .unwrap()
        .unwrap();
    assert_eq!(body.content_type, "application/json");
    assert_eq!(
        serde_json::from_slice::<Value>(&body.bytes).unwrap(),
        json!({"identifier": "alice.test", "password": "hunter2"})
    );
}

fn post_json(embed: Value) -> Value {
    json!({
        "$type": "app.bsky.feed.post",
        "text": "hello @bob.test see https://example.com #rust",
        "facets": [
            {
                "index": {"byteStart": 6, "byteEnd": 15},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bobbobbobbobbobbobbobbob"}]
            },
            {
                "index": {"byteStart": 20, "byteEnd": 39},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com"}]
            },
            {
                "index": {"byteStart": 40, "byteEnd": 45},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "rust"}]
            }
        ],
        "embed": embed,
        "langs": ["en"],
        "createdAt": "2024-05-01T12:34:56.789Z"
    })
}

fn image(cid: &str) -> Value {
    json!({
        "alt": "a cat",
        "image": {"$type": "blob", "ref": {"$link": cid}, "mimeType": "image/jpeg", "size": 123456},
        "aspectRatio": {"width": 1200, "height": 800}
    })
}

const CID: &str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";

#[test]
fn post_with_facets_and_images_embed() {
    let v = post_json(json!({"$type": "app.bsky.embed.images", "images": [image(CID)]}));
    let p: post::Post = round_trip(&v);
    assert_eq!(p.facets.as_ref().unwrap().len(), 3);
    match p.embed.as_ref().unwrap() {
        post::PostEmbed::Images(i) => assert_eq!(i.images[0].alt, "a cat"),
        other => panic!("not images: {other:?}"),
    }
    assert_eq!(<post::Post as Record>::NSID, "app.bsky.feed.post");
    // $type is written first, once.
    let text = serde_json::to_string(&p).unwrap();
    assert!(
        text.starts_with(r#"{"$type":"app.bsky.feed.post","#),
        "{text}"
    );
    assert_eq!(text.matches("\"app.bsky.feed.post\"").count(), 1);
}

#[test]
fn post_with_record_with_media_embed() {
    let v = post_json(json!({
        "$type": "app.bsky.embed.recordWithMedia",
        "record": {
            "$type": "app.bsky.embed.record",
            "record": {"uri": "at://did:plc:bobbobbobbobbobbobbobbob/app.bsky.feed.post/3k2akqkxvc22z", "cid": CID}
        },
        "media": {"$type": "app.bsky.embed.images", "images": [image(CID), image(CID)]}
    }));
    let p: post::Post = round_trip(&v);
    let Some(post::PostEmbed::RecordWithMedia(rwm)) = &p.embed else {
        panic!("not recordWithMedia: {:?}", p.embed);
    };
    assert!(matches!(
        rwm.media,
        embed::record_with_media::RecordWithMediaMedia::Images(_)
    ));
}

#[test]
fn unknown_union_member_round_trips_verbatim() {
    let v = post_json(json!({
        "$type": "com.example.embed.poll",
        "question": "tabs or spaces?",
        "options": [{"text": "tabs"}, {"text": "spaces"}],
        "closesAt": null
    }));
    let p: post::Post = round_trip(&v);
    match p.embed.as_ref().unwrap() {
        post::PostEmbed::Unknown(u) => assert_eq!(u.type_name, "com.example.embed.poll"),
        other => panic!("not unknown: {other:?}"),
    }
}

#[test]
fn malformed_known_union_member_is_an_error_not_unknown() {
    // `images` is required in app.bsky.embed.images.
    let v = post_json(json!({"$type": "app.bsky.embed.images", "imagez": []}));
    let err = serde_json::from_value::<post::Post>(v).unwrap_err();
    assert!(err.to_string().contains("missing field `images`"), "{err}");
}

#[test]
fn record_type_must_match() {
    let mut v = post_json(json!({"$type": "app.bsky.embed.images", "images": []}));
    v["$type"] = json!("app.bsky.feed.like");
    let err = serde_json::from_value::<post::Post>(v.clone()).unwrap_err();
    assert!(
        err.to_string().contains("expected \"app.bsky.feed.post\""),
        "{err}"
    );
    // Without $type it decodes, and encoding adds it.
    v.as_object_mut().unwrap().remove("$type");
    let p: post::Post = serde_json::from_value(v).unwrap();
    assert_eq!(
        serde_json::to_value(&p).unwrap()["$type"],
        "app.bsky.feed.post"
    );
}

#[test]
fn query_parameters_with_defaults() {
    let p: get_timeline::Parameters = Default::default();
    assert_eq!(p.limit, 50, "lexicon default applied");
    let mut q = QueryWriter::new();
    get_timeline::Parameters {
        algorithm: Some("reverse-chronological".into()),
        cursor: None,
        limit: 30,
    }
    .write_query(&mut q);
    assert_eq!(
        q.pairs(),
        [
            ("algorithm", "reverse-chronological".to_owned()),
            ("limit", "30".to_owned())
        ]
    );
    assert_eq!(get_timeline::GetTimeline::METHOD, Method::Query);
}

/// A caller that answers every call with an error naming what was sent.
struct Mock;

impl atmo_types::XrpcCaller for Mock {
    type Error<E: EndpointError> = String;
    fn call<E: Endpoint>(
        &self,
        params: E::Params,
        _input: E::Input,
    ) -> impl std::future::Future<Output = Result<E::Output, String>> + Send {
        let mut q = QueryWriter::new();
        params.write_query(&mut q);
        let sent = format!("{} {:?} {:?}", E::NSID, E::METHOD, q.pairs());
        async move { Err(sent) }
    }
}

fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("mock futures are ready at once"),
    }
}

#[test]
fn api_tree_dispatches_to_the_caller() {
    let caller = Mock;
    let api = atmo_api::Api::new(&caller);
    let r = ready(api.app.bsky.feed.get_timeline(get_timeline::Parameters {
        limit: 5,
        ..Default::default()
    }));
    assert_eq!(
        r.unwrap_err(),
        r#"app.bsky.feed.getTimeline Query [("limit", "5")]"#
    );
    let r = ready(
        api.com
            .atproto
            .server
            .create_session(create_session::Input {
                identifier: "alice.test".into(),
                password: "pw".into(),
                auth_factor_token: None,
                allow_takendown: None,
                extra: Default::default(),
            }),
    );
    assert_eq!(
        r.unwrap_err(),
        "com.atproto.server.createSession Procedure []"
    );
    let r = ready(api.com.atproto.server.get_session());
    assert_eq!(r.unwrap_err(), "com.atproto.server.getSession Query []");
}
