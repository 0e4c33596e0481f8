//! The app.bsky helpers against an in-process server: AppView reads
//! (profiles, timeline pages) answered with the shapes the real AppView
//! sends, pagination, the profile upsert's retry on a swap conflict, and the
//! exact requests the post and interaction helpers make.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use atmo_client::atmo_api::app::bsky::feed::get_timeline::{GetTimeline, Parameters};
use atmo_client::atmo_api::com::atproto::repo::put_record;
use atmo_client::atmo_types::{AtIdentifier, AtUri, Cid, Did, Handle, Language, Uri};
use atmo_client::bsky::PostBuilder;
use atmo_client::richtext::{Facet, Feature, RichText};
use atmo_client::{AtpAgent, Error, Login, RecordRef};
use common::{Fake, Mock, Reply, Req, DID, PASSWORD};
use futures_core::Stream;
use serde_json::{json, Value};

const CID1: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const CID2: &str = "bafyreidfcd7mdwcqedkxtkj4unfgxjvqe5vz3hh4jbgy7nxnqzkvzumjyu";
const BOB: &str = "did:plc:bob00000000000000000000";
const BLOB_CID: &str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";

/// A mock PDS: the fake's sessions, plus `routes` for everything else.
async fn logged_in(
    routes: impl Fn(&Req) -> Option<Reply> + Send + Sync + 'static,
) -> (Mock, AtpAgent) {
    let fake = Fake::new();
    let f = fake.clone();
    let mock = Mock::start(move |r| routes(r).unwrap_or_else(|| f.handle(r))).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    agent.login(Login::new(DID, PASSWORD)).await.unwrap();
    (mock, agent)
}

fn param<'a>(r: &'a Req, name: &str) -> Option<&'a str> {
    r.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A profile view as the AppView answers `getProfile`.
fn profile_view(did: &str, handle: &str, name: &str) -> Value {
    json!({
        "did": did,
        "handle": handle,
        "displayName": name,
        "description": "Building things on atproto",
        "avatar": format!("https://cdn.bsky.app/img/avatar/plain/{did}/{BLOB_CID}@jpeg"),
        "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": false, "chat": {"allowIncoming": "following"}},
        "followersCount": 1204,
        "followsCount": 311,
        "postsCount": 5120,
        "indexedAt": "2024-01-20T05:32:13.947Z",
        "createdAt": "2023-04-12T04:53:57.057Z",
        "viewer": {"muted": false, "blockedBy": false, "following": format!("at://{DID}/app.bsky.graph.follow/3kfrq2ytjxy2f")},
        "labels": [],
        "pinnedPost": {"uri": format!("at://{did}/app.bsky.feed.post/3l6oveex3ii2l"), "cid": CID1}
    })
}

/// A timeline entry as the AppView answers `getTimeline`.
fn feed_item(rkey: &str) -> Value {
    json!({
        "post": {
            "uri": format!("at://{BOB}/app.bsky.feed.post/{rkey}"),
            "cid": CID1,
            "author": {
                "did": BOB, "handle": "bob.test", "displayName": "Bob",
                "avatar": "https://cdn.bsky.app/img/avatar/plain/x@jpeg",
                "associated": {"chat": {"allowIncoming": "all"}},
                "viewer": {"muted": false, "blockedBy": false},
                "labels": [], "createdAt": "2023-05-01T00:00:00.000Z"
            },
            "record": {"$type": "app.bsky.feed.post", "text": format!("post {rkey}"), "langs": ["en"], "createdAt": "2024-06-01T12:00:00.000Z"},
            "replyCount": 0, "repostCount": 1, "likeCount": 3, "quoteCount": 0,
            "indexedAt": "2024-06-01T12:00:01.123Z",
            "viewer": {"threadMuted": false, "embeddingDisabled": false},
            "labels": []
        }
    })
}

#[tokio::test]
async fn get_profile_decodes_an_appview_profile() {
    let (mock, agent) = logged_in(|r| match r.nsid.as_str() {
        "app.bsky.actor.getProfile" => Some(Reply::ok(profile_view(BOB, "bob.test", "Bob"))),
        _ => None,
    })
    .await;
    let p = agent
        .get_profile(Handle::new("bob.test").unwrap())
        .await
        .unwrap();
    assert_eq!(p.did.as_str(), BOB);
    assert_eq!(p.display_name.as_deref(), Some("Bob"));
    assert_eq!(p.followers_count, Some(1204));
    let req = mock.of("app.bsky.actor.getProfile").pop().unwrap();
    assert_eq!(param(&req, "actor"), Some("bob.test"));
    assert!(req.bearer().is_some(), "sent with the session");
}

#[tokio::test]
async fn get_profiles_asks_25_actors_per_call() {
    let (mock, agent) = logged_in(|r| match r.nsid.as_str() {
        "app.bsky.actor.getProfiles" => {
            let profiles: Vec<Value> = r
                .query
                .iter()
                .filter(|(k, _)| k == "actors")
                .map(|(_, did)| profile_view(did, "someone.test", "Someone"))
                .collect();
            Some(Reply::ok(json!({ "profiles": profiles })))
        }
        _ => None,
    })
    .await;
    let actors: Vec<Did> = (0..30)
        .map(|i| Did::new(format!("did:plc:actor{i:019}")).unwrap())
        .collect();
    let got = agent.get_profiles(actors.clone()).await.unwrap();
    let dids: Vec<&str> = got.iter().map(|p| p.did.as_str()).collect();
    let want: Vec<&str> = actors.iter().map(Did::as_str).collect();
    assert_eq!(dids, want);
    let sizes: Vec<usize> = mock
        .of("app.bsky.actor.getProfiles")
        .iter()
        .map(|r| r.query.iter().filter(|(k, _)| k == "actors").count())
        .collect();
    assert_eq!(sizes, [25, 5]);
    assert!(agent
        .get_profiles(Vec::<AtIdentifier>::new())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(mock.count("app.bsky.actor.getProfiles"), 2, "nothing asked");
}

/// Pages by cursor: `None` → a, b (c1) → c (c2) → nothing (c3) → d (end).
fn timeline_pages(r: &Req) -> Option<Reply> {
    if r.nsid != "app.bsky.feed.getTimeline" {
        return None;
    }
    let (items, cursor): (&[&str], Option<&str>) = match param(r, "cursor") {
        None => (&["a", "b"], Some("c1")),
        Some("c1") => (&["c"], Some("c2")),
        Some("c2") => (&[], Some("c3")),
        Some("c3") => (&["d"], None),
        Some(other) => panic!("unexpected cursor {other}"),
    };
    let feed: Vec<Value> = items.iter().map(|k| feed_item(k)).collect();
    let mut page = json!({ "feed": feed });
    if let Some(c) = cursor {
        page["cursor"] = json!(c);
    }
    Some(Reply::ok(page))
}

fn rkeys(texts: &[String]) -> Vec<&str> {
    texts.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn paginate_follows_cursors_skips_empty_pages_and_stops_at_the_last() {
    let (mock, agent) = logged_in(timeline_pages).await;
    let mut items = agent
        .paginate::<GetTimeline>(Parameters {
            limit: 2,
            ..Parameters::default()
        })
        .items();
    let mut got = Vec::new();
    while let Some(item) = items.next().await {
        got.push(item.unwrap().post.uri.rkey().unwrap().to_owned());
    }
    assert_eq!(rkeys(&got), ["a", "b", "c", "d"]);
    assert_eq!(items.pages_received(), 4);
    assert!(items.next().await.is_none(), "ended for good");
    let sent: Vec<(Option<String>, Option<String>)> = mock
        .of("app.bsky.feed.getTimeline")
        .iter()
        .map(|r| {
            (
                param(r, "cursor").map(str::to_owned),
                param(r, "limit").map(str::to_owned),
            )
        })
        .collect();
    let c = |s: &str| Some(s.to_owned());
    assert_eq!(
        sent,
        [
            (None, c("2")),
            (c("c1"), c("2")),
            (c("c2"), c("2")),
            (c("c3"), c("2"))
        ]
    );
}

#[tokio::test]
async fn paginate_is_a_stream_fetching_only_what_is_asked_for() {
    let (mock, agent) = logged_in(timeline_pages).await;
    let mut pages = agent.paginate::<GetTimeline>(Parameters::default());
    assert_eq!(mock.count("app.bsky.feed.getTimeline"), 0, "lazy");
    // Through the `Stream` trait, as StreamExt would poll it.
    let first = std::future::poll_fn(|cx| Pin::new(&mut pages).poll_next(cx))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.feed.len(), 2);
    assert_eq!(pages.cursor(), Some("c1"));
    assert_eq!(mock.count("app.bsky.feed.getTimeline"), 1);
    // A later walk can start where this one stopped.
    let mut rest = agent
        .paginate::<GetTimeline>(Parameters::default())
        .from_cursor("c3");
    let last = rest.next().await.unwrap().unwrap();
    assert_eq!(last.feed.len(), 1);
    assert!(rest.next().await.is_none());
    assert_eq!(
        param(&mock.of("app.bsky.feed.getTimeline")[1], "cursor"),
        Some("c3")
    );
}

#[tokio::test]
async fn paginate_stops_when_the_server_repeats_its_cursor() {
    let (mock, agent) = logged_in(|r| match r.nsid.as_str() {
        "app.bsky.feed.getTimeline" => Some(Reply::ok(
            json!({"feed": [feed_item("x")], "cursor": "same"}),
        )),
        _ => None,
    })
    .await;
    let mut pages = agent.paginate::<GetTimeline>(Parameters::default());
    let mut n = 0;
    while let Some(page) = pages.next().await {
        page.unwrap();
        n += 1;
        assert!(n <= 2, "a repeated cursor must not loop");
    }
    assert_eq!(n, 2);
    assert_eq!(mock.count("app.bsky.feed.getTimeline"), 2);
}

#[tokio::test]
async fn paginate_yields_an_error_once_then_ends() {
    let (mock, agent) = logged_in(|r| match (r.nsid.as_str(), param(r, "cursor")) {
        ("app.bsky.feed.getTimeline", None) => {
            Some(Reply::ok(json!({"feed": [feed_item("a")], "cursor": "c1"})))
        }
        ("app.bsky.feed.getTimeline", Some(_)) => {
            Some(Reply::err(400, "InvalidRequest", "malformed cursor"))
        }
        _ => None,
    })
    .await;
    let mut items = agent.paginate::<GetTimeline>(Parameters::default()).items();
    assert!(items.next().await.unwrap().is_ok());
    match items.next().await {
        Some(Err(e)) => {
            assert_eq!(e.status(), Some(400));
            assert_eq!(e.error_name(), Some("InvalidRequest"));
            assert!(e.to_string().contains("malformed cursor"), "{e}");
        }
        other => panic!("expected the error: {other:?}"),
    }
    assert!(items.next().await.is_none());
    assert_eq!(mock.count("app.bsky.feed.getTimeline"), 2);
}

/// The profile record a mock repository holds: its CID and value.
type Stored = Arc<Mutex<Option<(String, Value)>>>;

/// A repository holding one profile record whose CID changes on each write;
/// `conflicts` writes fail with InvalidSwap as if someone wrote in between.
fn profile_repo(
    conflicts: usize,
    exists: bool,
) -> (
    Stored,
    impl Fn(&Req) -> Option<Reply> + Send + Sync + 'static,
) {
    let state: Stored = Arc::new(Mutex::new(exists.then(|| {
        (
            CID1.to_owned(),
            json!({"$type": "app.bsky.actor.profile", "description": "kept as it was"}),
        )
    })));
    let left = AtomicUsize::new(conflicts);
    let st = state.clone();
    let routes = move |r: &Req| match r.nsid.as_str() {
        "com.atproto.repo.getRecord" => {
            assert_eq!(param(r, "collection"), Some("app.bsky.actor.profile"));
            assert_eq!(param(r, "rkey"), Some("self"));
            Some(match &*st.lock().unwrap() {
                Some((cid, value)) => Reply::ok(json!({
                    "uri": format!("at://{DID}/app.bsky.actor.profile/self"),
                    "cid": cid,
                    "value": value
                })),
                None => Reply::err(400, "RecordNotFound", "Could not locate record"),
            })
        }
        "com.atproto.repo.putRecord" => {
            if left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                // Someone else wrote first: the record changed.
                let mut s = st.lock().unwrap();
                let value =
                    json!({"$type": "app.bsky.actor.profile", "description": "changed elsewhere"});
                *s = Some((CID2.to_owned(), value));
                return Some(Reply::err(400, "InvalidSwap", "Record was at another CID"));
            }
            let body = r.json();
            *st.lock().unwrap() = Some((CID2.to_owned(), body["record"].clone()));
            Some(Reply::ok(json!({
                "uri": format!("at://{DID}/app.bsky.actor.profile/self"),
                "cid": CID2
            })))
        }
        _ => None,
    };
    (state, routes)
}

#[tokio::test]
async fn upsert_profile_rereads_and_retries_after_a_swap_conflict() {
    let (state, routes) = profile_repo(1, true);
    let (mock, agent) = logged_in(routes).await;
    let mut seen = Vec::new();
    let written = agent
        .upsert_profile(|p| {
            seen.push(p.description.clone());
            p.display_name = Some("Alice".into());
        })
        .await
        .unwrap();
    assert_eq!(written.cid.as_str(), CID2);
    // The second attempt edited what the other writer left.
    assert_eq!(
        seen,
        [
            Some("kept as it was".to_owned()),
            Some("changed elsewhere".to_owned())
        ]
    );
    let puts = mock.of("com.atproto.repo.putRecord");
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0].json()["swapRecord"], CID1);
    assert_eq!(puts[1].json()["swapRecord"], CID2);
    let (_, stored) = state.lock().unwrap().clone().unwrap();
    assert_eq!(stored["displayName"], "Alice");
    assert_eq!(stored["description"], "changed elsewhere");
    assert_eq!(stored["$type"], "app.bsky.actor.profile");
}

#[tokio::test]
async fn upsert_profile_creates_a_missing_profile_only_if_still_missing() {
    let (_, routes) = profile_repo(0, false);
    let (mock, agent) = logged_in(routes).await;
    agent
        .upsert_profile(|p| {
            assert_eq!(p.display_name, None, "starts from an empty profile");
            p.display_name = Some("New".into());
        })
        .await
        .unwrap();
    let put = mock.of("com.atproto.repo.putRecord").pop().unwrap().json();
    assert!(
        put.get("swapRecord").is_some_and(Value::is_null),
        "swapRecord: null means 'must not exist yet': {put}"
    );
    assert_eq!(put["record"]["displayName"], "New");
}

#[tokio::test]
async fn upsert_profile_gives_up_after_a_bounded_number_of_conflicts() {
    let (_, routes) = profile_repo(usize::MAX, true);
    let (mock, agent) = logged_in(routes).await;
    let mut calls = 0;
    let e = agent
        .upsert_profile(|_| calls += 1)
        .await
        .expect_err("every write conflicts");
    assert_eq!(calls, atmo_client::bsky::UPSERT_ATTEMPTS);
    assert_eq!(
        mock.count("com.atproto.repo.putRecord"),
        atmo_client::bsky::UPSERT_ATTEMPTS
    );
    match &e {
        Error::Api { error, status, .. } => {
            assert_eq!(*status, 400);
            assert!(matches!(
                error.downcast_ref::<put_record::Error>(),
                Some(put_record::Error::InvalidSwap(_))
            ));
        }
        other => panic!("expected InvalidSwap: {other:?}"),
    }
}

/// Record writes answered with a URI in the collection written to.
fn writes(r: &Req) -> Option<Reply> {
    match r.nsid.as_str() {
        "com.atproto.repo.createRecord" => {
            let collection = r.json()["collection"].as_str().unwrap_or("").to_owned();
            Some(Reply::ok(json!({
                "uri": format!("at://{DID}/{collection}/3kabcdefghi2a"),
                "cid": CID2
            })))
        }
        "com.atproto.repo.deleteRecord" => Some(Reply::ok(json!({}))),
        "com.atproto.identity.resolveHandle" => Some(match param(r, "handle") {
            Some("bob.test") => Reply::ok(json!({ "did": BOB })),
            _ => Reply::err(400, "InvalidRequest", "Unable to resolve handle"),
        }),
        "com.atproto.repo.getRecord" => Some(Reply::ok(json!({
            "uri": format!("at://{BOB}/app.bsky.feed.post/3parent"),
            "cid": CID1,
            "value": {
                "$type": "app.bsky.feed.post",
                "text": "a reply in a thread",
                "createdAt": "2024-06-01T12:00:00.000Z",
                "reply": {
                    "root": {"uri": format!("at://{BOB}/app.bsky.feed.post/3root"), "cid": CID2},
                    "parent": {"uri": format!("at://{BOB}/app.bsky.feed.post/3root"), "cid": CID2}
                }
            }
        }))),
        "com.atproto.repo.uploadBlob" => Some(Reply::ok(json!({
            "blob": {
                "$type": "blob",
                "ref": {"$link": BLOB_CID},
                "mimeType": r.header("content-type").unwrap_or(""),
                "size": r.body.len()
            }
        }))),
        _ => None,
    }
}

fn created(mock: &Mock) -> Value {
    mock.of("com.atproto.repo.createRecord")
        .pop()
        .expect("a createRecord was sent")
        .json()
}

#[tokio::test]
async fn post_with_detects_facets_and_drops_mentions_that_do_not_resolve() {
    let (mock, agent) = logged_in(writes).await;
    let text = "hé @bob.test and @nobody.test, see example.com #rust";
    let r = agent
        .post_with(PostBuilder::new(text).lang(Language::new("fr").unwrap()))
        .await
        .unwrap();
    assert_eq!(r.uri.collection(), Some("app.bsky.feed.post"));
    let body = created(&mock);
    assert_eq!(body["collection"], "app.bsky.feed.post");
    let record = &body["record"];
    assert_eq!(record["text"], text);
    assert_eq!(record["langs"], json!(["fr"]));
    let facets = record["facets"].as_array().unwrap();
    let spans: Vec<(u64, u64, &str)> = facets
        .iter()
        .map(|f| {
            (
                f["index"]["byteStart"].as_u64().unwrap(),
                f["index"]["byteEnd"].as_u64().unwrap(),
                f["features"][0]["$type"].as_str().unwrap(),
            )
        })
        .collect();
    // Byte offsets: "hé " is 4 bytes.
    assert_eq!(&text[4..13], "@bob.test");
    assert_eq!(&text[36..47], "example.com");
    assert_eq!(&text[48..53], "#rust");
    assert_eq!(
        spans,
        [
            (4, 13, "app.bsky.richtext.facet#mention"),
            (36, 47, "app.bsky.richtext.facet#link"),
            (48, 53, "app.bsky.richtext.facet#tag"),
        ]
    );
    assert_eq!(facets[0]["features"][0]["did"], BOB);
    assert_eq!(facets[1]["features"][0]["uri"], "https://example.com");
    assert_eq!(facets[2]["features"][0]["tag"], "rust");
    let asked: Vec<String> = mock
        .of("com.atproto.identity.resolveHandle")
        .iter()
        .map(|r| param(r, "handle").unwrap().to_owned())
        .collect();
    assert_eq!(asked.len(), 2);
    assert!(asked.contains(&"bob.test".to_owned()) && asked.contains(&"nobody.test".to_owned()));
}

#[tokio::test]
async fn plain_text_without_detection_and_rich_text_as_given() {
    let (mock, agent) = logged_in(writes).await;
    let at = atmo_client::atmo_types::Datetime::new("2024-02-03T04:05:06.789Z").unwrap();
    agent
        .post_with(
            PostBuilder::new("see example.com")
                .detect_facets(false)
                .created_at(at),
        )
        .await
        .unwrap();
    let record = created(&mock)["record"].clone();
    assert!(record.get("facets").is_none());
    assert_eq!(record["createdAt"], "2024-02-03T04:05:06.789Z");
    assert_eq!(record["$type"], "app.bsky.feed.post");

    let link = Uri::new("https://atproto.com").unwrap();
    let rich = RichText::with_facets("the protocol", vec![Facet::new(4..12, Feature::Link(link))])
        .unwrap();
    agent.post_with(rich).await.unwrap();
    let facets = created(&mock)["record"]["facets"].clone();
    assert_eq!(facets[0]["index"], json!({"byteStart": 4, "byteEnd": 12}));
    assert_eq!(facets[0]["features"][0]["uri"], "https://atproto.com");
    assert_eq!(
        mock.count("com.atproto.identity.resolveHandle"),
        0,
        "nothing to resolve"
    );
}

fn blob(mime: &str) -> atmo_client::atmo_types::Blob {
    atmo_client::atmo_types::Blob::new(Cid::new(BLOB_CID).unwrap(), mime, 1234)
}

#[tokio::test]
async fn post_embeds_images_link_cards_quotes_and_quotes_with_media() {
    let (mock, agent) = logged_in(writes).await;
    let quoted = RecordRef {
        uri: AtUri::new(format!("at://{BOB}/app.bsky.feed.post/3quoted")).unwrap(),
        cid: Cid::new(CID1).unwrap(),
    };

    agent
        .post_with(
            PostBuilder::new("two pictures")
                .image_with_aspect_ratio(blob("image/png"), "a cat", 1200, 800)
                .image(blob("image/jpeg"), "a dog"),
        )
        .await
        .unwrap();
    let embed = created(&mock)["record"]["embed"].clone();
    assert_eq!(embed["$type"], "app.bsky.embed.images");
    assert_eq!(embed["images"][0]["alt"], "a cat");
    assert_eq!(
        embed["images"][0]["aspectRatio"],
        json!({"width": 1200, "height": 800})
    );
    assert_eq!(embed["images"][0]["image"]["ref"]["$link"], BLOB_CID);
    assert_eq!(embed["images"][0]["image"]["mimeType"], "image/png");
    assert!(embed["images"][1].get("aspectRatio").is_none());

    agent
        .post_with(
            PostBuilder::new("read this")
                .external(
                    Uri::new("https://atproto.com/guides").unwrap(),
                    "Guides",
                    "How the protocol works",
                )
                .external_thumb(blob("image/jpeg")),
        )
        .await
        .unwrap();
    let embed = created(&mock)["record"]["embed"].clone();
    assert_eq!(embed["$type"], "app.bsky.embed.external");
    assert_eq!(embed["external"]["uri"], "https://atproto.com/guides");
    assert_eq!(embed["external"]["title"], "Guides");
    assert_eq!(embed["external"]["thumb"]["mimeType"], "image/jpeg");

    agent
        .post_with(
            PostBuilder::new("a clip")
                .video(blob("video/mp4"), Some("waves on a beach".into()))
                .tag("sea"),
        )
        .await
        .unwrap();
    let record = created(&mock)["record"].clone();
    assert_eq!(record["embed"]["$type"], "app.bsky.embed.video");
    assert_eq!(record["embed"]["alt"], "waves on a beach");
    assert_eq!(record["embed"]["video"]["mimeType"], "video/mp4");
    assert_eq!(record["tags"], json!(["sea"]));

    agent
        .post_with(PostBuilder::new("this").quote(&quoted))
        .await
        .unwrap();
    let embed = created(&mock)["record"]["embed"].clone();
    assert_eq!(embed["$type"], "app.bsky.embed.record");
    assert_eq!(embed["record"]["uri"], quoted.uri.as_str());
    assert_eq!(embed["record"]["cid"], CID1);

    agent
        .post_with(
            PostBuilder::new("this, and a picture")
                .quote(&quoted)
                .image(blob("image/png"), "a chart"),
        )
        .await
        .unwrap();
    let embed = created(&mock)["record"]["embed"].clone();
    assert_eq!(embed["$type"], "app.bsky.embed.recordWithMedia");
    // A plain ref in the lexicon (not a union): no `$type` needed.
    assert_eq!(embed["record"]["record"]["uri"], quoted.uri.as_str());
    assert_eq!(embed["media"]["$type"], "app.bsky.embed.images");
    assert_eq!(embed["media"]["images"][0]["alt"], "a chart");
}

#[tokio::test]
async fn impossible_embeds_and_invalid_posts_are_refused_before_sending() {
    let (mock, agent) = logged_in(writes).await;
    let both = PostBuilder::new("x")
        .image(blob("image/png"), "a")
        .external(Uri::new("https://example.com").unwrap(), "t", "d");
    match agent.post_with(both).await {
        Err(Error::Invalid(m)) => assert!(m.contains("one kind of media"), "{m}"),
        other => panic!("expected Invalid: {other:?}"),
    }
    let five = (0..5).fold(PostBuilder::new("x"), |b, i| {
        b.image(blob("image/png"), format!("{i}"))
    });
    match agent.post_with(five).await {
        Err(Error::Validation { error, .. }) => {
            assert!(error.to_string().contains("embed"), "{error}")
        }
        other => panic!("five images break the lexicon: {other:?}"),
    }
    assert_eq!(mock.count("com.atproto.repo.createRecord"), 0);
}

#[tokio::test]
async fn a_reply_by_uri_keeps_the_thread_root() {
    let (mock, agent) = logged_in(writes).await;
    let parent = AtUri::new(format!("at://{BOB}/app.bsky.feed.post/3parent")).unwrap();
    let refs = agent.reply_ref(&parent).await.unwrap();
    assert_eq!(refs.parent.uri, parent);
    assert_eq!(refs.parent.cid.as_str(), CID1);
    assert_eq!(refs.root.uri.rkey(), Some("3root"));

    agent
        .post_with(PostBuilder::new("agreed").reply_to(parent.clone()))
        .await
        .unwrap();
    let reply = created(&mock)["record"]["reply"].clone();
    assert_eq!(reply["parent"]["uri"], parent.as_str());
    assert_eq!(
        reply["root"]["uri"],
        format!("at://{BOB}/app.bsky.feed.post/3root")
    );
    let get = mock.of("com.atproto.repo.getRecord").pop().unwrap();
    assert_eq!(param(&get, "repo"), Some(BOB));
    assert_eq!(param(&get, "rkey"), Some("3parent"));

    let not_a_post = AtUri::new(format!("at://{BOB}/app.bsky.feed.like/3x")).unwrap();
    assert!(matches!(
        agent.reply_ref(&not_a_post).await,
        Err(Error::Invalid(_))
    ));
}

#[tokio::test]
async fn interactions_write_and_undo_their_records() {
    let (mock, agent) = logged_in(writes).await;
    let post = RecordRef {
        uri: AtUri::new(format!("at://{BOB}/app.bsky.feed.post/3post")).unwrap(),
        cid: Cid::new(CID1).unwrap(),
    };
    let bob = Did::new(BOB).unwrap();
    let like = agent.like(&post).await.unwrap();
    let body = created(&mock);
    assert_eq!(body["collection"], "app.bsky.feed.like");
    assert_eq!(body["repo"], DID);
    assert_eq!(
        body["record"]["subject"],
        json!({"uri": post.uri.as_str(), "cid": CID1})
    );
    agent.unlike(&like.uri).await.unwrap();
    let del = mock
        .of("com.atproto.repo.deleteRecord")
        .pop()
        .unwrap()
        .json();
    assert_eq!(del["collection"], "app.bsky.feed.like");
    assert_eq!(del["rkey"], "3kabcdefghi2a");

    let repost = agent.repost(&post).await.unwrap();
    assert_eq!(created(&mock)["collection"], "app.bsky.feed.repost");
    agent.unrepost(&repost.uri).await.unwrap();
    let follow = agent.follow(&bob).await.unwrap();
    assert_eq!(created(&mock)["record"]["subject"], BOB);
    assert_eq!(created(&mock)["collection"], "app.bsky.graph.follow");
    agent.unfollow(&follow.uri).await.unwrap();
    let block = agent.block(&bob).await.unwrap();
    assert_eq!(created(&mock)["collection"], "app.bsky.graph.block");
    agent.unblock(&block.uri).await.unwrap();
    let collections: Vec<String> = mock
        .of("com.atproto.repo.deleteRecord")
        .iter()
        .map(|r| r.json()["collection"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        collections,
        [
            "app.bsky.feed.like",
            "app.bsky.feed.repost",
            "app.bsky.graph.follow",
            "app.bsky.graph.block"
        ]
    );

    // An undo of someone else's record, or of the wrong kind, sends nothing.
    assert!(matches!(
        agent.unlike(&post.uri).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        agent.unfollow(&like.uri).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        agent.delete_post(&like.uri).await,
        Err(Error::Invalid(_))
    ));
    assert_eq!(mock.count("com.atproto.repo.deleteRecord"), 4);
}

#[tokio::test]
async fn upload_blob_sends_the_type_its_bytes_show() {
    let (mock, agent) = logged_in(writes).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRrest-of-it".to_vec();
    let blob = agent.upload_blob(png.clone()).await.unwrap();
    assert_eq!(blob.mime_type(), "image/png");
    assert_eq!(blob.cid().as_str(), BLOB_CID);
    let req = mock.of("com.atproto.repo.uploadBlob").pop().unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("image/png"));
    assert_eq!(req.body, png);

    let unknown = agent.upload_blob(b"just text".to_vec()).await.unwrap();
    assert_eq!(unknown.mime_type(), "application/octet-stream");
    let given = agent
        .upload_blob_as(b"<svg/>".to_vec(), "image/svg+xml")
        .await
        .unwrap();
    assert_eq!(given.mime_type(), "image/svg+xml");

    let dir = std::env::temp_dir().join(format!("atproto-helpers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("picture.bin");
    std::fs::write(&path, b"GIF89a\x01\x00\x01\x00").unwrap();
    let gif = agent.upload_file(&path).await.unwrap();
    assert_eq!(gif.mime_type(), "image/gif", "from the bytes, not the name");
    std::fs::remove_dir_all(&dir).unwrap();
    match agent.upload_file(&path).await {
        Err(Error::Invalid(m)) => assert!(m.contains("picture.bin"), "{m}"),
        other => panic!("a missing file is Invalid naming it: {other:?}"),
    }
    assert_eq!(mock.count("com.atproto.repo.uploadBlob"), 4);
}

#[tokio::test]
async fn helper_futures_can_be_spawned() {
    let (mock, agent) = logged_in(writes).await;
    let a = agent.clone();
    let post = tokio::spawn(async move { a.post_with("hi @bob.test").await })
        .await
        .unwrap()
        .unwrap();
    let a = agent.clone();
    tokio::spawn(async move { a.delete_post(&post.uri).await })
        .await
        .unwrap()
        .unwrap();
    let a = agent.clone();
    let first = tokio::spawn(async move {
        let mut p = a.paginate::<GetTimeline>(Parameters::default());
        p.next().await.map(|r| r.map(|page| page.feed.len()))
    })
    .await
    .unwrap();
    assert!(matches!(first, Some(Err(_))), "this mock has no timeline");
    assert_eq!(mock.count("com.atproto.repo.deleteRecord"), 1);
}

#[tokio::test]
async fn helpers_without_a_session_say_so() {
    let fake = Fake::new();
    let f = fake.clone();
    let mock = Mock::start(move |r| f.handle(r)).await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    let bob = Did::new(BOB).unwrap();
    assert!(matches!(
        agent.follow(&bob).await,
        Err(Error::Session(atmo_client::SessionError::NoSession))
    ));
    assert!(matches!(
        agent.upsert_profile(|_| {}).await,
        Err(Error::Session(atmo_client::SessionError::NoSession))
    ));
    assert!(mock.requests().is_empty());
}

/// A repository's `app.bsky.feed.post` collection over three pages of two:
/// posts, a record of another type and a post that does not decode.
fn post_collection(r: &Req) -> Option<Reply> {
    if r.nsid != "com.atproto.repo.listRecords" {
        return None;
    }
    assert_eq!(param(r, "collection"), Some("app.bsky.feed.post"));
    assert_eq!(param(r, "repo"), Some(DID));
    let post = |rkey: &str, text: &str| {
        json!({
            "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"),
            "cid": CID1,
            "value": {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-01-01T00:00:00.000Z"}
        })
    };
    let (records, cursor) = match param(r, "cursor") {
        None => (vec![post("p1", "one"), post("p2", "two")], Some("k1")),
        Some("k1") => (
            vec![
                json!({
                    "uri": format!("at://{DID}/app.bsky.feed.post/odd"),
                    "cid": CID2,
                    "value": {"$type": "app.bsky.feed.like", "createdAt": "2024-01-01T00:00:00.000Z"}
                }),
                json!({
                    "uri": format!("at://{DID}/app.bsky.feed.post/bad"),
                    "cid": CID2,
                    "value": {"$type": "app.bsky.feed.post", "text": 42, "createdAt": "2024-01-01T00:00:00.000Z"}
                }),
            ],
            Some("k2"),
        ),
        Some("k2") => (vec![post("p3", "three")], None),
        Some(other) => panic!("unexpected cursor {other}"),
    };
    let mut page = json!({ "records": records });
    if let Some(c) = cursor {
        page["cursor"] = json!(c);
    }
    Some(Reply::ok(page))
}

#[tokio::test]
async fn list_records_reads_one_page_as_typed_records() {
    use atmo_client::atmo_api::app::bsky::feed::post::Post;
    use atmo_client::ListOptions;

    let (mock, agent) = logged_in(post_collection).await;
    let repo = AtIdentifier::new(DID).unwrap();
    let page = agent
        .list_records::<Post>(repo.clone(), ListOptions::new().limit(2).reverse(true))
        .await
        .unwrap();
    let texts: Vec<&str> = page.records.iter().map(|r| r.value.text.as_str()).collect();
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(page.records[0].uri.rkey(), Some("p1"));
    assert_eq!(page.records[0].cid.as_ref().map(Cid::as_str), Some(CID1));
    assert!(page.invalid.is_empty());
    assert_eq!(page.cursor.as_deref(), Some("k1"));
    let sent = &mock.of("com.atproto.repo.listRecords")[0];
    assert_eq!(param(sent, "limit"), Some("2"));
    assert_eq!(param(sent, "reverse"), Some("true"));
    assert_eq!(param(sent, "cursor"), None);

    // The next page by its cursor: neither record is a valid post, and
    // both are kept, with the reason.
    let page = agent
        .list_records::<Post>(repo, ListOptions::new().cursor("k1"))
        .await
        .unwrap();
    assert!(page.records.is_empty());
    assert_eq!(page.invalid.len(), 2);
    assert!(matches!(page.invalid[0].error, Error::Invalid(_)));
    assert!(
        page.invalid[0]
            .error
            .to_string()
            .contains("is a app.bsky.feed.like"),
        "{}",
        page.invalid[0].error
    );
    match &page.invalid[1].error {
        Error::Decode(d) => {
            assert_eq!(d.path, "text");
            assert!(d.message.contains("/bad"), "{d}");
        }
        other => panic!("expected a decode error: {other:?}"),
    }
    assert_eq!(
        page.invalid[1].value.type_name(),
        Some("app.bsky.feed.post")
    );
    let sent = &mock.of("com.atproto.repo.listRecords")[1];
    assert_eq!(param(sent, "cursor"), Some("k1"));
    assert_eq!(param(sent, "reverse"), None);
}

#[tokio::test]
async fn paginate_records_walks_every_page_as_typed_records() {
    use atmo_client::atmo_api::app::bsky::feed::post::Post;
    use atmo_client::ListOptions;

    let (mock, agent) = logged_in(post_collection).await;
    let repo = AtIdentifier::new(DID).unwrap();
    let mut items = agent
        .paginate_records::<Post>(repo.clone(), ListOptions::new().limit(2))
        .items();
    let mut got = Vec::new();
    while let Some(item) = items.next().await {
        got.push(match item {
            Ok(r) => r.value.text,
            // Invalid records come as errors in their place; the walk goes on.
            Err(e) => format!("error: {}", e.nsid().unwrap_or("-")),
        });
    }
    assert_eq!(
        got,
        [
            "one",
            "two",
            "error: -",
            "error: com.atproto.repo.listRecords",
            "three"
        ]
    );
    assert_eq!(items.pages_received(), 3);
    let limits: Vec<Option<String>> = mock
        .of("com.atproto.repo.listRecords")
        .iter()
        .map(|r| param(r, "limit").map(str::to_owned))
        .collect();
    assert_eq!(limits, vec![Some("2".to_owned()); 3]);

    // Page by page from a cursor, through the `Stream` trait.
    let mut pages = agent.paginate_records::<Post>(repo, ListOptions::new().cursor("k2"));
    assert_eq!(pages.cursor(), Some("k2"));
    let last = std::future::poll_fn(|cx| Pin::new(&mut pages).poll_next(cx))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.records.len(), 1);
    assert_eq!(last.cursor, None);
    assert!(pages.next().await.is_none());
}

#[tokio::test]
async fn paginate_records_ends_after_a_failed_page() {
    use atmo_client::atmo_api::app::bsky::feed::post::Post;
    use atmo_client::ListOptions;

    let (mock, agent) = logged_in(|r| match r.nsid.as_str() {
        "com.atproto.repo.listRecords" => {
            Some(Reply::err(400, "InvalidRequest", "Could not find repo"))
        }
        _ => None,
    })
    .await;
    let mut items = agent
        .paginate_records::<Post>(AtIdentifier::new(DID).unwrap(), ListOptions::new())
        .items();
    let e = items.next().await.unwrap().unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(items.next().await.is_none());
    assert_eq!(mock.count("com.atproto.repo.listRecords"), 1);
}
