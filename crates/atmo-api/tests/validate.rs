//! Generated `Validate` impls (paths in lexicon names) and redacted `Debug`.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_api::app::bsky::embed::images::{Image, Images};
use atmo_api::app::bsky::feed::post::{Post, PostEmbed};
use atmo_api::com::atproto::server::{create_session, refresh_session};
use atmo_types::validate::Validate;
use atmo_types::{Blob, Cid, Datetime, Did, Extra, Handle};

fn image(alt: String) -> Image {
    Image {
        image: Blob::new(
            Cid::new("bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy").unwrap(),
            "image/png",
            1000,
        ),
        alt,
        aspect_ratio: None,
        extra: Extra::new(),
    }
}

fn post(text: &str, embed: Option<PostEmbed>) -> Post {
    Post {
        text: text.into(),
        entities: None,
        facets: None,
        reply: None,
        embed,
        langs: None,
        labels: None,
        tags: None,
        created_at: Datetime::new("2024-01-01T00:00:00.000Z").unwrap(),
        extra: Extra::new(),
    }
}

#[test]
fn violations_carry_lexicon_paths() {
    use atmo_api::app::bsky::embed::defs::AspectRatio;
    let mut images = vec![image("a".into()), image("b".into()), image("c".into())];
    images[0].aspect_ratio = Some(AspectRatio {
        width: 0,
        height: 3,
        extra: Extra::new(),
    });
    images[2].image = Blob::new(images[2].image.cid().clone(), "video/mp4", 3_000_000);
    let p = post(
        &"é".repeat(301),
        Some(PostEmbed::Images(Box::new(Images {
            images,
            extra: Extra::new(),
        }))),
    );
    let e = p.validate().unwrap_err();
    let lines: Vec<String> = e.0.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        lines,
        [
            "text: 301 graphemes > maxGraphemes 300",
            "embed.images[0].aspectRatio.width: 0 < minimum 1",
            r#"embed.images[2].image: MIME type "video/mp4" is not accepted (["image/*"])"#,
            "embed.images[2].image: 3000000 bytes > maxSize 2000000",
        ]
    );
    assert!(post("hello", None).validate().is_ok());
    // 300 graphemes of 2 bytes each: 600 bytes, within maxLength 3000.
    assert!(post(&"é".repeat(300), None).validate().is_ok());
    // Records expose it for the client.
    use atmo_types::object::Record;
    assert!(p.validate_record().is_err());
}

#[test]
fn debug_never_prints_secrets() {
    let input = create_session::Input {
        identifier: "alice.test".into(),
        password: "hunter2-plaintext".into(),
        auth_factor_token: Some("2FA-123456".into()),
        allow_takendown: None,
        extra: Extra::new(),
    };
    let shown = format!("{input:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("2FA-123456"), "{shown}");
    assert!(
        shown.contains("alice.test") && shown.contains("***"),
        "{shown}"
    );

    let out = refresh_session::Output {
        access_jwt: "eyJhbGciOi.access.secret".into(),
        refresh_jwt: "eyJhbGciOi.refresh.secret".into(),
        handle: Handle::new("alice.test").unwrap(),
        did: Did::new("did:plc:alice").unwrap(),
        did_doc: None,
        email: None,
        email_confirmed: None,
        email_auth_factor: None,
        active: Some(true),
        status: None,
        extra: Extra::new(),
    };
    let shown = format!("{out:?}");
    assert!(
        !shown.contains("secret") && !shown.contains("eyJ"),
        "{shown}"
    );
    assert!(shown.contains("did:plc:alice"), "{shown}");
}
