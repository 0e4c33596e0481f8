//! Property tests: generated values of generated types survive
//! encode → decode → equal, and values built within the lexicon's
//! constraints pass `validate()` (values past a limit do not).
//! Strategies are written by hand for: `app.bsky.feed.post` (facets, an
//! embed union), `com.atproto.repo.strongRef`, `com.atproto.repo.putRecord`
//! input (`Option<Option<Cid>>`) and `com.atproto.server.createSession`
//! output (`knownValues` → `Open<_>`).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_api::app::bsky::embed::defs::AspectRatio;
use atmo_api::app::bsky::embed::external::{External, ExternalDef};
use atmo_api::app::bsky::embed::images::{Image, Images};
use atmo_api::app::bsky::feed::post::{Post, PostEmbed};
use atmo_api::app::bsky::richtext::facet::{
    ByteSlice, Facet, FacetFeaturesItem, Link, Mention, Tag,
};
use atmo_api::com::atproto::repo::{put_record, strong_ref::StrongRef};
use atmo_api::com::atproto::server::create_session;
use atmo_types::object::Open;
use atmo_types::validate::Validate;
use atmo_types::{
    AtIdentifier, AtUri, Blob, Cid, Datetime, Did, Extra, Handle, Language, Nsid, RecordKey, Uri,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

const CASES: u32 = 256;

const CIDS: &[&str] = &[
    "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a",
    "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy",
];
const DIDS: &[&str] = &["did:plc:z72i7hdynmk6r22z27h6tvur", "did:web:example.com"];
/// Single-grapheme pieces of different byte lengths (1 to 25 bytes).
const PIECES: &[&str] = &[
    "a",
    "Z",
    " ",
    "é",
    "e\u{301}",
    "ß",
    "中",
    "👍",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "\n",
];

fn text(max_graphemes: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(select(PIECES), 0..=max_graphemes).prop_map(|v| v.concat())
}

fn cid() -> impl Strategy<Value = Cid> {
    select(CIDS).prop_map(|c| Cid::new(c).unwrap())
}

fn did() -> impl Strategy<Value = Did> {
    select(DIDS).prop_map(|d| Did::new(d).unwrap())
}

fn datetime() -> impl Strategy<Value = Datetime> {
    (0i64..4_000_000_000_000_000).prop_map(Datetime::from_unix_micros)
}

fn facet() -> impl Strategy<Value = Facet> {
    let feature = prop_oneof![
        did().prop_map(|did| FacetFeaturesItem::Mention(Box::new(Mention {
            did,
            extra: Extra::new()
        }))),
        select(&["https://example.com", "https://bsky.app/profile/x"][..]).prop_map(|u| {
            FacetFeaturesItem::Link(Box::new(Link {
                uri: Uri::new(u).unwrap(),
                extra: Extra::new(),
            }))
        }),
        text(64).prop_map(|tag| FacetFeaturesItem::Tag(Box::new(Tag {
            tag,
            extra: Extra::new()
        }))),
    ];
    (0i64..1000, 0i64..1000, prop::collection::vec(feature, 1..3)).prop_map(|(a, b, features)| {
        Facet {
            index: ByteSlice {
                byte_start: a.min(b),
                byte_end: a.max(b),
                extra: Extra::new(),
            },
            features,
            extra: Extra::new(),
        }
    })
}

fn image() -> impl Strategy<Value = Image> {
    (
        cid(),
        select(&["image/png", "image/jpeg", "image/webp"][..]),
        0u64..=2_000_000,
        text(100),
        prop::option::of((1i64..5000, 1i64..5000)),
    )
        .prop_map(|(cid, mime, size, alt, ratio)| Image {
            image: Blob::new(cid, mime, size),
            alt,
            aspect_ratio: ratio.map(|(width, height)| AspectRatio {
                width,
                height,
                extra: Extra::new(),
            }),
            extra: Extra::new(),
        })
}

fn embed() -> impl Strategy<Value = PostEmbed> {
    prop_oneof![
        prop::collection::vec(image(), 0..=4).prop_map(|images| PostEmbed::Images(Box::new(
            Images {
                images,
                extra: Extra::new()
            }
        ))),
        (text(20), text(40)).prop_map(|(title, description)| PostEmbed::External(Box::new(
            External {
                external: ExternalDef {
                    uri: Uri::new("https://example.com/a").unwrap(),
                    title,
                    description,
                    thumb: None,
                    associated_refs: None,
                    extra: Extra::new(),
                },
                extra: Extra::new(),
            }
        ))),
    ]
}

fn post() -> impl Strategy<Value = Post> {
    (
        text(300),
        prop::option::of(prop::collection::vec(facet(), 0..4)),
        prop::option::of(embed()),
        prop::option::of(prop::collection::vec(
            select(&["en", "pt-BR", "ja"][..]).prop_map(|l| Language::new(l).unwrap()),
            0..=3,
        )),
        prop::option::of(prop::collection::vec(text(64), 0..=8)),
        datetime(),
    )
        .prop_map(|(text, facets, embed, langs, tags, created_at)| Post {
            text,
            entities: None,
            facets,
            reply: None,
            embed,
            langs,
            labels: None,
            tags,
            created_at,
            extra: Extra::new(),
        })
}

fn strong_ref() -> impl Strategy<Value = StrongRef> {
    (did(), "[a-z0-9]{1,13}", cid()).prop_map(|(did, rkey, cid)| StrongRef {
        uri: AtUri::new(format!("at://{did}/app.bsky.feed.post/{rkey}")).unwrap(),
        cid,
        extra: Extra::new(),
    })
}

fn put_record_input() -> impl Strategy<Value = put_record::Input> {
    (
        did(),
        prop::option::of(prop::option::of(cid())),
        prop::option::of(cid()),
        prop::option::of(any::<bool>()),
        "[a-z0-9]{1,13}",
    )
        .prop_map(
            |(did, swap_record, swap_commit, validate, rkey)| put_record::Input {
                repo: AtIdentifier::new(did.as_str()).unwrap(),
                collection: Nsid::new("app.bsky.feed.post").unwrap(),
                rkey: RecordKey::new(rkey).unwrap(),
                validate,
                record: serde_json::json!({"$type": "app.bsky.feed.post", "text": "hi"}).into(),
                swap_record,
                swap_commit,
                extra: Extra::new(),
            },
        )
}

fn session_output() -> impl Strategy<Value = create_session::Output> {
    let status = prop_oneof![
        Just(None),
        select(&["takendown", "suspended", "deactivated", "somethingNew"][..])
            .prop_map(|s| Some(Open::from(s))),
    ];
    (
        did(),
        status,
        prop::option::of(any::<bool>()),
        prop::option::of(text(30)),
    )
        .prop_map(|(did, status, active, email)| create_session::Output {
            access_jwt: "a.b.c".into(),
            refresh_jwt: "d.e.f".into(),
            handle: Handle::new("alice.test").unwrap(),
            did,
            did_doc: None,
            email,
            email_confirmed: None,
            email_auth_factor: None,
            active,
            status,
            extra: Extra::new(),
        })
}

/// Encode → decode → equal, and valid.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug + Validate>(
    v: &T,
) -> Result<(), TestCaseError> {
    let json = serde_json::to_string(v).unwrap();
    let back: T =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, v);
    prop_assert_eq!(v.validate(), Ok(()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn post_round_trips_and_validates(p in post()) {
        round_trip(&p)?;
    }

    #[test]
    fn strong_ref_round_trips_and_validates(r in strong_ref()) {
        round_trip(&r)?;
    }

    #[test]
    fn put_record_input_keeps_null_apart_from_absent(i in put_record_input()) {
        round_trip(&i)?;
        let json = serde_json::to_value(&i).unwrap();
        match &i.swap_record {
            None => prop_assert!(json.get("swapRecord").is_none()),
            Some(None) => prop_assert!(json["swapRecord"].is_null()),
            Some(Some(c)) => prop_assert_eq!(json["swapRecord"].as_str(), Some(c.as_str())),
        }
    }

    #[test]
    fn known_values_round_trip(o in session_output()) {
        round_trip(&o)?;
    }

    #[test]
    fn past_the_limit_is_refused_with_the_path(extra in 1usize..50, p in post()) {
        let mut p = p;
        p.text = "e\u{301}".repeat(300 + extra);
        let e = p.validate().unwrap_err();
        prop_assert_eq!(&e.0[0].path, "text");
    }
}

#[test]
fn zz_print_counts() {
    println!(
        "proptest: 5 properties x {CASES} cases = {} generated cases",
        5 * CASES
    );
}
