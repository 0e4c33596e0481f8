//! The preference helpers against an in-process PDS that stores the list
//! as the reference PDS does (`putPreferences` replaces it, every item needs
//! a `$type` in `app.bsky`): the typed read and its defaults, the v1 → v2
//! saved feeds migration, each write helper changing only its own items
//! (unknown and malformed items written back as they were), muted words,
//! legacy label names, and the agent's lock.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(feature = "hyper", feature = "app-bsky"))]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_client::atmo_api::app::bsky::actor::defs::{
    BskyAppProgressGuide, ContentLabelPrefVisibility, MutedWord, MutedWordActorTarget,
    MutedWordTarget, Nux, PostInteractionSettingsPref,
    PostInteractionSettingsPrefPostgateEmbeddingRulesItem,
    PostInteractionSettingsPrefThreadgateAllowRulesItem, SavedFeed, SavedFeedType,
    ThreadViewPrefSort, VerificationPrefs,
};
use atmo_client::atmo_types::object::Open;
use atmo_client::atmo_types::{AtUri, Datetime, Did};
use atmo_client::bsky::{
    muted_word_is_active, BskyPreferences, FeedViewPrefsUpdate, LiveEventAction, NewMutedWord,
    NewSavedFeed, PreferenceList,
};
use atmo_client::{AtpAgent, Error, Login};
use common::{Fake, Mock, Reply, Req, DID, PASSWORD};
use serde_json::{json, Value};

const FEED: &str = "at://did:plc:creator000000000000000000/app.bsky.feed.generator/hot";
const FEED2: &str = "at://did:plc:creator000000000000000000/app.bsky.feed.generator/new";
const LIST: &str = "at://did:plc:creator000000000000000000/app.bsky.graph.list/friends";
const POST: &str = "at://did:plc:creator000000000000000000/app.bsky.feed.post/3kpost";
const LABELER: &str = "did:plc:labeler00000000000000000";
const DEFS: &str = "app.bsky.actor.defs#";

/// The stored preference list of the mock PDS, and how many puts it took.
#[derive(Clone, Default)]
struct Store {
    items: Arc<Mutex<Vec<Value>>>,
    puts: Arc<Mutex<usize>>,
}

impl Store {
    fn with(items: Vec<Value>) -> Store {
        let s = Store::default();
        *s.items.lock().unwrap() = items;
        s
    }
    fn items(&self) -> Vec<Value> {
        self.items.lock().unwrap().clone()
    }
    fn puts(&self) -> usize {
        *self.puts.lock().unwrap()
    }
    fn of(&self, t: &str) -> Vec<Value> {
        self.items()
            .into_iter()
            .filter(|v| v["$type"] == format!("{DEFS}{t}"))
            .collect()
    }
    fn one(&self, t: &str) -> Value {
        let all = self.of(t);
        assert_eq!(all.len(), 1, "one {t} item in {:#?}", self.items());
        all.into_iter().next().unwrap()
    }

    /// Answers `getPreferences` and `putPreferences` as the reference PDS.
    fn route(&self, r: &Req) -> Option<Reply> {
        match r.nsid.as_str() {
            "app.bsky.actor.getPreferences" => {
                Some(Reply::ok(json!({ "preferences": self.items() })))
            }
            "app.bsky.actor.putPreferences" => {
                let body = r.json();
                let Some(items) = body["preferences"].as_array() else {
                    return Some(Reply::err(400, "InvalidRequest", "no preferences"));
                };
                for item in items {
                    match item["$type"].as_str() {
                        None => {
                            return Some(Reply::err(
                                400,
                                "InvalidRequest",
                                "Preference is missing a $type",
                            ))
                        }
                        Some(t) if !t.starts_with("app.bsky.") => {
                            return Some(Reply::err(
                                400,
                                "InvalidRequest",
                                "Some preferences are not in the app.bsky namespace",
                            ))
                        }
                        _ => {}
                    }
                }
                *self.items.lock().unwrap() = items.clone();
                *self.puts.lock().unwrap() += 1;
                Some(Reply::Json(200, Value::Null))
            }
            _ => None,
        }
    }
}

/// A logged-in agent over a mock PDS storing `store`'s items; `slow` delays
/// every `getPreferences` answer (to widen the window between a read and
/// its write).
async fn agent_over(store: &Store, slow: Option<Duration>) -> (Mock, AtpAgent) {
    let fake = Fake::new();
    let s = store.clone();
    let mock = Mock::start(move |r| match s.route(r) {
        Some(reply) if r.nsid == "app.bsky.actor.getPreferences" => match slow {
            Some(d) => Reply::Delay(d, Box::new(reply)),
            None => reply,
        },
        Some(reply) => reply,
        None => fake.handle(r),
    })
    .await;
    let agent = AtpAgent::builder(&mock.url).build().unwrap();
    agent.login(Login::new(DID, PASSWORD)).await.unwrap();
    (mock, agent)
}

fn pref(t: &str, rest: Value) -> Value {
    let mut v = rest;
    v["$type"] = json!(format!("{DEFS}{t}"));
    v
}

/// One item of every type the lexicon has, plus items this build does not
/// know or cannot read, each with something to notice if it changed.
fn every_item() -> Vec<Value> {
    vec![
        json!({"$type": "app.bsky.example.futurePref", "nested": {"a": [1, 2, {"b": null}]}, "n": 1.5}),
        pref(
            "adultContentPref",
            json!({"enabled": false, "extraField": "kept"}),
        ),
        pref(
            "contentLabelPref",
            json!({"label": "nsfw", "visibility": "show"}),
        ),
        pref(
            "contentLabelPref",
            json!({"label": "spam", "visibility": "hide", "labelerDid": LABELER}),
        ),
        pref("savedFeedsPref", json!({"saved": [FEED], "pinned": [FEED]})),
        pref(
            "savedFeedsPrefV2",
            json!({"items": [
                {"id": "3kaaaaaaaaaa2", "type": "timeline", "value": "following", "pinned": true},
                {"id": "3kaaaaaaaaaa3", "type": "feed", "value": FEED, "pinned": true},
            ]}),
        ),
        pref(
            "personalDetailsPref",
            json!({"birthDate": "1990-04-01T00:00:00.000Z"}),
        ),
        pref("feedViewPref", json!({"feed": "home", "hideReposts": true})),
        pref(
            "feedViewPref",
            json!({"feed": FEED, "hideReplies": true, "hideRepliesByLikeCount": 3}),
        ),
        pref(
            "threadViewPref",
            json!({"sort": "newest", "prioritizeFollowedUsers": true}),
        ),
        pref(
            "interestsPref",
            json!({"tags": ["art"], "updatedAt": "2024-01-01T00:00:00.000Z"}),
        ),
        pref(
            "mutedWordsPref",
            json!({"items": [
                {"id": "3kword0000002", "value": "rust", "targets": ["content", "tag"], "actorTarget": "all"},
                {"value": "legacy", "targets": ["tag"]},
            ]}),
        ),
        pref("hiddenPostsPref", json!({"items": [POST]})),
        pref(
            "bskyAppStatePref",
            json!({"queuedNudges": ["a"], "nuxs": [{"id": "n1", "completed": true}], "activeProgressGuide": {"guide": "like-10"}}),
        ),
        pref("labelersPref", json!({"labelers": [{"did": LABELER}]})),
        pref(
            "postInteractionSettingsPref",
            json!({"threadgateAllowRules": [{"$type": "app.bsky.feed.threadgate#mentionRule"}]}),
        ),
        pref("verificationPrefs", json!({"hideBadges": true})),
        pref(
            "liveEventPreferences",
            json!({"hiddenFeedIds": ["e1"], "hideAllFeeds": false}),
        ),
        pref(
            "declaredAgePref",
            json!({"isOverAge13": true, "isOverAge16": true, "isOverAge18": true}),
        ),
        // A known type that does not decode (lacks `enabled`): kept raw.
        json!({"$type": "app.bsky.example.brokenHolder", "v": 1}),
        pref("verificationPrefs", json!({"hideBadges": "not a boolean"})),
    ]
}

/// Asserts that the store still holds every item of `before` whose type is
/// not one of `changed`, unchanged and in the same order.
fn others_untouched(store: &Store, before: &[Value], changed: &[&str]) {
    let touched = |v: &Value| changed.iter().any(|t| v["$type"] == format!("{DEFS}{t}"));
    let keep =
        |items: &[Value]| -> Vec<Value> { items.iter().filter(|v| !touched(v)).cloned().collect() };
    assert_eq!(
        keep(&store.items()),
        keep(before),
        "items of other types changed"
    );
}

#[tokio::test]
async fn preferences_the_typed_read_has_every_preference_with_legacy_labels_remapped() {
    let store = Store::with(every_item());
    let (_m, agent) = agent_over(&store, None).await;
    let prefs = agent.get_preferences().await.unwrap();
    assert_eq!(store.puts(), 0, "v2 saved feeds exist: no migration write");

    assert_eq!(prefs.saved_feeds.len(), 2);
    assert_eq!(prefs.saved_feeds[1].value, FEED);
    assert_eq!(prefs.feeds.saved.as_ref().unwrap()[0].as_str(), FEED);
    let home = &prefs.feed_view_prefs["home"];
    assert!(home.hide_reposts && home.hide_replies_by_unfollowed && !home.hide_replies);
    let feed = &prefs.feed_view_prefs[FEED];
    assert!(feed.hide_replies);
    assert_eq!(feed.hide_replies_by_like_count, 3);
    assert_eq!(
        prefs.thread_view_prefs.sort,
        Open::Known(ThreadViewPrefSort::Newest)
    );

    let m = &prefs.moderation_prefs;
    assert!(!m.adult_content_enabled);
    // `nsfw: show` reads as `ignore`, and as `porn` too.
    assert_eq!(m.labels["nsfw"], ContentLabelPrefVisibility::Ignore);
    assert_eq!(m.labels["porn"], ContentLabelPrefVisibility::Ignore);
    assert_eq!(m.labels["sexual"], ContentLabelPrefVisibility::Warn);
    let dids: Vec<&str> = m.labelers.iter().map(|l| l.did.as_str()).collect();
    assert_eq!(dids, ["did:plc:ar7c4by46qjdydhdevvrndac", LABELER]);
    assert_eq!(
        m.labelers[1].labels["spam"],
        ContentLabelPrefVisibility::Hide
    );
    assert_eq!(m.muted_words.len(), 2);
    assert_eq!(
        m.muted_words[1].actor_target,
        Open::Known(MutedWordActorTarget::All),
        "actorTarget defaults to all"
    );
    assert_eq!(m.hidden_posts[0].as_str(), POST);

    assert_eq!(
        prefs.birth_date.as_ref().unwrap().as_str(),
        "1990-04-01T00:00:00.000Z"
    );
    assert_eq!(
        prefs.declared_age.as_ref().unwrap().is_over_age18,
        Some(true)
    );
    assert_eq!(prefs.interests.tags, ["art"]);
    assert_eq!(prefs.bsky_app_state.queued_nudges, ["a"]);
    assert_eq!(prefs.bsky_app_state.nuxs[0].id, "n1");
    assert_eq!(
        prefs
            .bsky_app_state
            .active_progress_guide
            .as_ref()
            .unwrap()
            .guide,
        "like-10"
    );
    assert_eq!(
        prefs
            .post_interaction_settings
            .threadgate_allow_rules
            .as_ref()
            .unwrap()
            .len(),
        1
    );
    assert!(
        prefs.hide_verification_badges,
        "the malformed later item is skipped"
    );
    assert_eq!(prefs.live_event_preferences.hidden_feed_ids, ["e1"]);
    assert_eq!(prefs.labeler_dids()[0].as_str(), LABELER);
    // Every decodable item, the unknown ones as Unknown; the malformed one
    // left out.
    assert_eq!(prefs.items.len(), every_item().len() - 1);
}

#[tokio::test]
async fn preferences_an_empty_account_reads_the_defaults_and_gets_the_following_feed_stored() {
    let store = Store::default();
    let (_m, agent) = agent_over(&store, None).await;
    let prefs = agent.get_preferences_with_app_labelers(&[]).await.unwrap();
    let m = &prefs.moderation_prefs;
    assert!(m.labelers.is_empty());
    assert_eq!(m.labels["porn"], ContentLabelPrefVisibility::Hide);
    assert_eq!(m.labels["nudity"], ContentLabelPrefVisibility::Ignore);
    assert_eq!(
        prefs.thread_view_prefs.sort,
        Open::Known(ThreadViewPrefSort::Hotness)
    );
    assert_eq!(prefs.feed_view_prefs.len(), 1);
    assert!(prefs.saved_feeds_migrated);
    assert_eq!(prefs.saved_feeds.len(), 1);
    assert_eq!(prefs.saved_feeds[0].value, "following");
    assert_eq!(store.puts(), 1, "the default saved feeds are stored");
    let v2 = store.one("savedFeedsPrefV2");
    assert_eq!(v2["items"][0]["type"], "timeline");
    assert_eq!(v2["items"][0]["id"], json!(prefs.saved_feeds[0].id));
    // Read again: nothing more to migrate.
    agent.get_preferences().await.unwrap();
    assert_eq!(store.puts(), 1);
}

#[tokio::test]
async fn preferences_v1_saved_feeds_migrate_to_v2_pinned_first_and_v1_is_kept() {
    let other = "at://did:plc:creator000000000000000000/app.bsky.feed.post/notafeed";
    let store = Store::with(vec![
        json!({"$type": "app.bsky.example.futurePref", "x": 1}),
        pref(
            "savedFeedsPref",
            json!({"saved": [FEED2, LIST, FEED, other, FEED2], "pinned": [FEED, LIST]}),
        ),
    ]);
    let (_m, agent) = agent_over(&store, None).await;
    let prefs = agent.get_preferences().await.unwrap();
    let got: Vec<(&str, &str, bool)> = prefs
        .saved_feeds
        .iter()
        .map(|f| (f.r#type.as_str(), f.value.as_str(), f.pinned))
        .collect();
    assert_eq!(
        got,
        [
            ("timeline", "following", true),
            ("feed", FEED, true),
            ("list", LIST, true),
            ("feed", FEED2, false),
        ]
    );
    let ids: std::collections::HashSet<&str> =
        prefs.saved_feeds.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids.len(), 4, "distinct ids");
    assert_eq!(store.puts(), 1);
    let stored = store.one("savedFeedsPrefV2");
    let values: Vec<&str> = stored["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["following", FEED, LIST, FEED2]);
    // v1 stays, with the v2 feeds and lists written into it too.
    let v1 = store.one("savedFeedsPref");
    assert_eq!(v1["pinned"], json!([FEED, LIST]));
    assert_eq!(v1["saved"], json!([FEED2, LIST, FEED, other]));
    assert_eq!(
        store.items()[0],
        json!({"$type": "app.bsky.example.futurePref", "x": 1})
    );
}

#[tokio::test]
async fn preferences_saved_feed_helpers_change_v2_and_write_feeds_back_to_v1() {
    let before = every_item();
    let store = Store::with(before.clone());
    let (_m, agent) = agent_over(&store, None).await;

    let all = agent
        .add_saved_feeds(vec![
            NewSavedFeed::list(LIST, false),
            NewSavedFeed::feed(FEED2, true),
        ])
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    let v2 = store.one("savedFeedsPrefV2");
    let order: Vec<(&str, bool)> = v2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["value"].as_str().unwrap(), i["pinned"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("following", true),
            (FEED, true),
            (FEED2, true),
            (LIST, false)
        ],
        "pinned first"
    );
    let v1 = store.one("savedFeedsPref");
    assert_eq!(v1["saved"], json!([FEED, FEED2, LIST]));
    assert_eq!(v1["pinned"], json!([FEED, FEED2]));
    others_untouched(&store, &before, &["savedFeedsPrefV2", "savedFeedsPref"]);

    let list_id = all.iter().find(|f| f.value == LIST).unwrap().id.clone();
    let mut pin = all.iter().find(|f| f.value == LIST).unwrap().clone();
    pin.pinned = true;
    pin.value = "ignored: only pinned changes".into();
    pin.r#type = SavedFeedType::Timeline.into();
    agent.update_saved_feeds(vec![pin]).await.unwrap();
    let v2 = store.one("savedFeedsPrefV2");
    let l = v2["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(list_id))
        .unwrap()
        .clone();
    assert_eq!(
        (l["value"].as_str().unwrap(), l["pinned"].as_bool().unwrap()),
        (LIST, true)
    );

    agent.remove_saved_feeds([list_id.as_str()]).await.unwrap();
    let v2 = store.one("savedFeedsPrefV2");
    assert_eq!(v2["items"].as_array().unwrap().len(), 3);

    let dup = SavedFeed::new(
        "3kdup00000002".into(),
        SavedFeedType::Feed.into(),
        FEED.into(),
        false,
    );
    let mut dup2 = dup.clone();
    dup2.pinned = true;
    let timeline = SavedFeed::new(
        "3ktl000000002".into(),
        SavedFeedType::Timeline.into(),
        "following".into(),
        true,
    );
    let kept = agent
        .overwrite_saved_feeds(vec![dup, timeline, dup2])
        .await
        .unwrap();
    assert_eq!(kept.len(), 2, "a repeated id keeps its last occurrence");
    let v2 = store.one("savedFeedsPrefV2");
    assert_eq!(v2["items"][0]["id"], "3ktl000000002");
    assert_eq!(v2["items"][1]["pinned"], true);
    others_untouched(&store, &before, &["savedFeedsPrefV2", "savedFeedsPref"]);

    // A feed whose URI is not a feed generator is refused before anything
    // is sent.
    let puts = store.puts();
    let bad = SavedFeed::new(
        "3kbad00000002".into(),
        SavedFeedType::Feed.into(),
        LIST.into(),
        true,
    );
    let e = agent.overwrite_saved_feeds(vec![bad]).await.unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.contains("app.bsky.feed.generator")),
        "{e}"
    );
    let no_id = SavedFeed::new(
        String::new(),
        SavedFeedType::Timeline.into(),
        "following".into(),
        true,
    );
    assert!(matches!(
        agent.update_saved_feeds(vec![no_id]).await,
        Err(Error::Invalid(_))
    ));
    assert_eq!(store.puts(), puts);
}

#[tokio::test]
#[allow(deprecated)]
async fn preferences_legacy_v1_feed_helpers_change_only_v1() {
    let before = every_item();
    let store = Store::with(before.clone());
    let (_m, agent) = agent_over(&store, None).await;
    let feed2 = AtUri::new(FEED2).unwrap();
    let list = AtUri::new(LIST).unwrap();
    agent.add_saved_feed(feed2.clone()).await.unwrap();
    agent.add_pinned_feed(list.clone()).await.unwrap();
    let v1 = store.one("savedFeedsPref");
    assert_eq!(v1["saved"], json!([FEED, FEED2, LIST]));
    assert_eq!(v1["pinned"], json!([FEED, LIST]));
    agent.remove_pinned_feed(list.clone()).await.unwrap();
    assert_eq!(store.one("savedFeedsPref")["pinned"], json!([FEED]));
    agent
        .remove_saved_feed(AtUri::new(FEED).unwrap())
        .await
        .unwrap();
    let v1 = store.one("savedFeedsPref");
    assert_eq!(v1["saved"], json!([FEED2, LIST]));
    assert_eq!(v1["pinned"], json!([]));
    let out = agent
        .set_saved_feeds(vec![list.clone()], vec![list])
        .await
        .unwrap();
    assert_eq!(out.pinned.unwrap().len(), 1);
    others_untouched(&store, &before, &["savedFeedsPref"]);
}

#[tokio::test]
async fn preferences_moderation_helpers_change_their_items_only() {
    let before = every_item();
    let store = Store::with(before.clone());
    let (_m, agent) = agent_over(&store, None).await;

    agent.set_adult_content_enabled(true).await.unwrap();
    let adult = store.one("adultContentPref");
    assert_eq!(adult["enabled"], true);
    assert_eq!(
        adult["extraField"], "kept",
        "properties we do not declare survive"
    );
    others_untouched(&store, &before, &["adultContentPref"]);

    let labeler = Did::new(LABELER).unwrap();
    let other = Did::new("did:plc:other0000000000000000000").unwrap();
    agent.add_labeler(&other).await.unwrap();
    agent.add_labeler(&other).await.unwrap();
    assert_eq!(
        store.one("labelersPref")["labelers"],
        json!([{"did": LABELER}, {"did": other.as_str()}])
    );
    agent.remove_labeler(&labeler).await.unwrap();
    assert_eq!(
        store.one("labelersPref")["labelers"],
        json!([{"did": other.as_str()}])
    );

    let post = AtUri::new(POST).unwrap();
    let post2 =
        AtUri::new("at://did:plc:creator000000000000000000/app.bsky.feed.post/3k2").unwrap();
    agent.hide_post(&post2).await.unwrap();
    agent.hide_post(&post).await.unwrap();
    assert_eq!(
        store.one("hiddenPostsPref")["items"],
        json!([POST, post2.as_str()])
    );
    agent.unhide_post(&post).await.unwrap();
    assert_eq!(
        store.one("hiddenPostsPref")["items"],
        json!([post2.as_str()])
    );
    others_untouched(
        &store,
        &before,
        &["adultContentPref", "labelersPref", "hiddenPostsPref"],
    );
}

#[tokio::test]
async fn preferences_a_global_label_setting_is_also_written_under_its_legacy_name() {
    let before = every_item();
    let store = Store::with(before.clone());
    let (_m, agent) = agent_over(&store, None).await;
    agent
        .set_content_label_pref("porn", ContentLabelPrefVisibility::Warn, None)
        .await
        .unwrap();
    let labels: Vec<(String, String, Option<String>)> = store
        .of("contentLabelPref")
        .iter()
        .map(|v| {
            (
                v["label"].as_str().unwrap().to_owned(),
                v["visibility"].as_str().unwrap().to_owned(),
                v["labelerDid"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        labels,
        [
            ("spam".into(), "hide".into(), Some(LABELER.into())),
            ("porn".into(), "warn".into(), None),
            ("nsfw".into(), "warn".into(), None),
        ]
    );
    // A labeler's own setting: no legacy name, and the global one stays.
    let labeler = Did::new(LABELER).unwrap();
    agent
        .set_content_label_pref("porn", ContentLabelPrefVisibility::Hide, Some(&labeler))
        .await
        .unwrap();
    agent
        .set_content_label_pref("spam", ContentLabelPrefVisibility::Warn, Some(&labeler))
        .await
        .unwrap();
    let prefs = agent.get_preferences().await.unwrap();
    assert_eq!(
        prefs.moderation_prefs.labels["porn"],
        ContentLabelPrefVisibility::Warn
    );
    assert_eq!(
        prefs.moderation_prefs.labels["nsfw"],
        ContentLabelPrefVisibility::Warn
    );
    let l = &prefs.moderation_prefs.labelers[1];
    assert_eq!(l.labels["porn"], ContentLabelPrefVisibility::Hide);
    assert_eq!(l.labels["spam"], ContentLabelPrefVisibility::Warn);
    assert_eq!(store.of("contentLabelPref").len(), 4);
    // A label without a legacy name writes one item.
    agent
        .set_content_label_pref("nudity", ContentLabelPrefVisibility::Hide, None)
        .await
        .unwrap();
    assert_eq!(store.of("contentLabelPref").len(), 5);
    others_untouched(&store, &before, &["contentLabelPref"]);

    // Read side: a legacy name overrides the current one.
    let list = PreferenceList::new(vec![
        pref(
            "contentLabelPref",
            json!({"label": "graphic-media", "visibility": "ignore"}),
        ),
        pref(
            "contentLabelPref",
            json!({"label": "gore", "visibility": "hide"}),
        ),
    ]);
    let read = BskyPreferences::from_items(&list, &[]);
    assert_eq!(
        read.moderation_prefs.labels["graphic-media"],
        ContentLabelPrefVisibility::Hide
    );
}

#[tokio::test]
async fn preferences_muted_words_are_sanitized_get_ids_and_update_and_remove_by_id_or_legacy_value()
{
    let before = every_item();
    let store = Store::with(before.clone());
    let (_m, agent) = agent_over(&store, None).await;

    let mut w = NewMutedWord::new("  #Spoilers\u{200b} ");
    w.actor_target = Some(MutedWordActorTarget::ExcludeFollowing.into());
    w.expires_at = Some(Datetime::new("2030-01-01T00:00:00.000Z").unwrap());
    agent.add_muted_word(w).await.unwrap();
    let puts = store.puts();
    agent
        .add_muted_word(NewMutedWord::new(" # "))
        .await
        .unwrap_or(());
    agent
        .add_muted_word(NewMutedWord::new("\u{200b}"))
        .await
        .unwrap();
    assert_eq!(store.puts(), puts, "nothing left to mute: nothing written");

    let items = store.one("mutedWordsPref")["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1]["value"], "legacy");
    assert!(items[1]["id"].is_string(), "a word without id gets one");
    assert_eq!(items[2]["value"], "Spoilers");
    assert_eq!(items[2]["actorTarget"], "exclude-following");
    assert_eq!(items[2]["expiresAt"], "2030-01-01T00:00:00.000Z");

    // The deprecated upsert adds, even the same value again.
    #[allow(deprecated)]
    agent
        .upsert_muted_words(vec![NewMutedWord::new("rust")])
        .await
        .unwrap();
    let prefs = agent.get_preferences().await.unwrap();
    let words = &prefs.moderation_prefs.muted_words;
    assert_eq!(words.iter().filter(|w| w.value == "rust").count(), 2);

    // Update by id: everything given replaces the stored word.
    let mut spoilers = words
        .iter()
        .find(|w| w.value == "Spoilers")
        .unwrap()
        .clone();
    spoilers.value = "#spoiler".into();
    spoilers.targets = vec![MutedWordTarget::Tag.into()];
    spoilers.expires_at = None;
    agent.update_muted_word(spoilers.clone()).await.unwrap();
    let prefs = agent.get_preferences().await.unwrap();
    let got = prefs
        .moderation_prefs
        .muted_words
        .iter()
        .find(|w| w.id == spoilers.id)
        .unwrap();
    assert_eq!(got.value, "spoiler");
    assert_eq!(got.expires_at, None);
    assert_eq!(got.targets, [Open::Known(MutedWordTarget::Tag)]);

    // Legacy words (no id) match by value.
    let legacy_store = Store::with(vec![pref(
        "mutedWordsPref",
        json!({"items": [
            {"value": "old", "targets": ["content"]},
            {"value": "older", "targets": ["content"]},
        ]}),
    )]);
    let (_m2, agent2) = agent_over(&legacy_store, None).await;
    let mut old = MutedWord::new("old".into(), vec![MutedWordTarget::Tag.into()]);
    agent2.update_muted_word(old.clone()).await.unwrap();
    let items = legacy_store.one("mutedWordsPref")["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items[0]["targets"], json!(["tag"]));
    assert!(items.iter().all(|i| i["id"].is_string()));
    // Now it has an id: a word without id no longer matches it by value...
    old.value = "older".into();
    agent2.remove_muted_word(&old).await.unwrap();
    assert_eq!(
        legacy_store.one("mutedWordsPref")["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // ...but its id does.
    let first: MutedWord = serde_json::from_value(items[0].clone()).unwrap();
    agent2.remove_muted_words(&[first]).await.unwrap();
    let left = legacy_store.one("mutedWordsPref")["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["value"], "older");

    others_untouched(&store, &before, &["mutedWordsPref"]);
}

#[test]
fn preferences_expired_muted_words_stay_stored_but_are_not_active() {
    let now = Datetime::new("2025-06-01T00:00:00.000Z").unwrap();
    let mut w = MutedWord::new("x".into(), vec![]);
    assert!(muted_word_is_active(&w, &now));
    w.expires_at = Some(Datetime::new("2025-06-01T00:00:00.001Z").unwrap());
    assert!(muted_word_is_active(&w, &now));
    w.expires_at = Some(now.clone());
    assert!(!muted_word_is_active(&w, &now));
}

#[tokio::test]
async fn preferences_view_personal_and_interest_helpers_merge_into_their_items() {
    let before = every_item();
    let store = Store::with(before.clone());
    let (_m, agent) = agent_over(&store, None).await;

    agent
        .set_feed_view_prefs(
            FEED,
            FeedViewPrefsUpdate {
                hide_reposts: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let feeds = store.of("feedViewPref");
    assert_eq!(feeds.len(), 2);
    assert_eq!(feeds[0]["feed"], "home", "the other feed's item stays");
    assert_eq!(feeds[1]["feed"], FEED);
    assert_eq!(feeds[1]["hideReplies"], true, "kept");
    assert_eq!(feeds[1]["hideRepliesByLikeCount"], 3, "kept");
    assert_eq!(feeds[1]["hideReposts"], true, "set");
    agent
        .set_feed_view_prefs(
            "at://new",
            FeedViewPrefsUpdate {
                hide_quote_posts: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.of("feedViewPref").len(), 3);

    agent
        .set_thread_view_prefs(ThreadViewPrefSort::Oldest)
        .await
        .unwrap();
    let t = store.one("threadViewPref");
    assert_eq!(t["sort"], "oldest");
    assert_eq!(t["prioritizeFollowedUsers"], true, "kept");

    agent
        .set_personal_details(Datetime::new("2001-02-03T00:00:00.000Z").unwrap())
        .await
        .unwrap();
    assert_eq!(
        store.one("personalDetailsPref")["birthDate"],
        "2001-02-03T00:00:00.000Z"
    );

    agent
        .set_interests_pref(vec!["science".into()])
        .await
        .unwrap();
    let i = store.one("interestsPref");
    assert_eq!(i["tags"], json!(["science"]));
    assert_ne!(i["updatedAt"], "2024-01-01T00:00:00.000Z", "stamped now");

    others_untouched(
        &store,
        &before,
        &[
            "feedViewPref",
            "threadViewPref",
            "personalDetailsPref",
            "interestsPref",
        ],
    );
}

#[tokio::test]
async fn preferences_app_state_interaction_verification_and_live_event_helpers() {
    let before = every_item();
    let store = Store::with(before.clone());
    let (_m, agent) = agent_over(&store, None).await;

    agent
        .bsky_app_queue_nudges(vec!["b".into(), "c".into()])
        .await
        .unwrap();
    agent.bsky_app_dismiss_nudges(&["a", "c"]).await.unwrap();
    assert_eq!(store.one("bskyAppStatePref")["queuedNudges"], json!(["b"]));
    let mut nux = Nux::new("n2".into(), false);
    nux.data = Some("{}".into());
    agent.bsky_app_upsert_nux(nux).await.unwrap();
    agent
        .bsky_app_upsert_nux(Nux::new("n1".into(), false))
        .await
        .unwrap();
    let nuxs = store.one("bskyAppStatePref")["nuxs"].clone();
    assert_eq!(
        nuxs,
        json!([{"id": "n2", "completed": false, "data": "{}"}, {"id": "n1", "completed": false}])
    );
    agent.bsky_app_remove_nuxs(&["n2"]).await.unwrap();
    assert_eq!(
        store.one("bskyAppStatePref")["nuxs"],
        json!([{"id": "n1", "completed": false}])
    );
    agent
        .bsky_app_set_active_progress_guide(None)
        .await
        .unwrap();
    assert!(store
        .one("bskyAppStatePref")
        .get("activeProgressGuide")
        .is_none());
    agent
        .bsky_app_set_active_progress_guide(Some(BskyAppProgressGuide::new("follow-10".into())))
        .await
        .unwrap();
    agent.set_is_beta_user(true).await.unwrap();
    let state = store.one("bskyAppStatePref");
    assert_eq!(state["activeProgressGuide"], json!({"guide": "follow-10"}));
    assert_eq!(state["isBetaUser"], true);
    assert_eq!(state["queuedNudges"], json!(["b"]), "kept");

    let settings = PostInteractionSettingsPref {
        threadgate_allow_rules: Some(vec![
            PostInteractionSettingsPrefThreadgateAllowRulesItem::FollowerRule(Box::default()),
        ]),
        postgate_embedding_rules: Some(vec![
            PostInteractionSettingsPrefPostgateEmbeddingRulesItem::DisableRule(Box::default()),
        ]),
        ..Default::default()
    };
    agent.set_post_interaction_settings(settings).await.unwrap();
    let p = store.one("postInteractionSettingsPref");
    assert_eq!(
        p["threadgateAllowRules"],
        json!([{"$type": "app.bsky.feed.threadgate#followerRule"}])
    );
    assert_eq!(
        p["postgateEmbeddingRules"],
        json!([{"$type": "app.bsky.feed.postgate#disableRule"}])
    );

    agent
        .set_verification_prefs(VerificationPrefs {
            hide_badges: false,
            ..Default::default()
        })
        .await
        .unwrap();
    // The valid item is the base; both items of the type (the malformed
    // one too) give way to the new one, as in `@atproto/api`.
    assert_eq!(
        store.one("verificationPrefs"),
        pref("verificationPrefs", json!({"hideBadges": false}))
    );

    agent
        .update_live_event_preferences(LiveEventAction::HideFeed("e2".into()))
        .await
        .unwrap();
    agent
        .update_live_event_preferences(LiveEventAction::HideFeed("e2".into()))
        .await
        .unwrap();
    agent
        .update_live_event_preferences(LiveEventAction::UnhideFeed("e1".into()))
        .await
        .unwrap();
    agent
        .update_live_event_preferences(LiveEventAction::ToggleHideAllFeeds)
        .await
        .unwrap();
    let l = store.one("liveEventPreferences");
    assert_eq!(l["hiddenFeedIds"], json!(["e2"]));
    assert_eq!(l["hideAllFeeds"], true);

    others_untouched(
        &store,
        &before,
        &[
            "bskyAppStatePref",
            "postInteractionSettingsPref",
            "verificationPrefs",
            "liveEventPreferences",
        ],
    );
}

#[tokio::test]
async fn preferences_bad_input_is_refused_before_anything_is_written() {
    let store = Store::with(every_item());
    let (_m, agent) = agent_over(&store, None).await;
    let e = agent
        .bsky_app_upsert_nux(Nux::new("x".repeat(65), true))
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Invalid(m) if m.contains("64")), "{e}");
    let mut nux = Nux::new("n".into(), true);
    nux.data = Some("d".repeat(301));
    assert!(matches!(
        agent.bsky_app_upsert_nux(nux).await,
        Err(Error::Invalid(_))
    ));
    // Lexicon limits: a progress guide name over 100 characters.
    let e = agent
        .bsky_app_set_active_progress_guide(Some(BskyAppProgressGuide::new("g".repeat(101))))
        .await
        .unwrap_err();
    match &e {
        Error::Validation { nsid, error } => {
            assert_eq!(nsid, "app.bsky.actor.putPreferences");
            assert!(error.to_string().contains("bskyAppStatePref"), "{error}");
        }
        other => panic!("expected a validation error, got {other}"),
    }
    assert_eq!(store.puts(), 0);
    assert_eq!(store.items(), every_item());
}

#[tokio::test]
async fn preferences_a_refused_write_is_a_typed_error_and_unknown_items_pass_through_raw() {
    // The server refuses an item outside app.bsky; the helper reports it.
    let store = Store::with(vec![json!({"$type": "com.example.unknownPref", "x": 1})]);
    let (_m, agent) = agent_over(&store, None).await;
    let e = agent.set_adult_content_enabled(true).await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(e.to_string().contains("app.bsky namespace"), "{e}");

    // Raw read and write round-trip exactly.
    let store = Store::with(every_item());
    let (_m, agent) = agent_over(&store, None).await;
    let raw = agent.get_preferences_raw().await.unwrap();
    assert_eq!(raw, every_item());
    agent.put_preferences_raw(&raw).await.unwrap();
    assert_eq!(store.items(), every_item());
    // A read-modify-write that changes nothing writes nothing.
    agent.update_preferences(|_| Ok(())).await.unwrap();
    assert_eq!(store.puts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preferences_concurrent_helpers_on_one_agent_and_its_clones_lose_nothing() {
    let store = Store::with(every_item());
    // Every read answers late, so that without the lock each write would
    // start from a list without the others' changes.
    let (_m, agent) = agent_over(&store, Some(Duration::from_millis(20))).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let a = agent.clone();
        tasks.push(tokio::spawn(async move {
            a.add_muted_word(NewMutedWord::new(format!("word{i}")))
                .await
        }));
        let a = agent.clone();
        tasks.push(tokio::spawn(async move {
            let uri = AtUri::new(format!(
                "at://did:plc:creator000000000000000000/app.bsky.feed.post/p{i}"
            ))
            .unwrap();
            a.hide_post(&uri).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let prefs = agent.get_preferences().await.unwrap();
    let words = &prefs.moderation_prefs.muted_words;
    for i in 0..8 {
        assert!(
            words.iter().any(|w| w.value == format!("word{i}")),
            "word{i} lost"
        );
        assert!(
            prefs
                .moderation_prefs
                .hidden_posts
                .iter()
                .any(|u| u.as_str().ends_with(&format!("/p{i}"))),
            "hidden post {i} lost"
        );
    }
    assert_eq!(
        store.items()[0],
        every_item()[0],
        "the unknown item survives 16 writes"
    );
}

#[test]
fn preferences_the_moderation_part_reads_as_the_moderation_module_reads_the_items() {
    let list = PreferenceList::new(every_item());
    let app = [Did::new("did:plc:ar7c4by46qjdydhdevvrndac").unwrap()];
    for labelers in [&app[..], &[]] {
        let prefs = BskyPreferences::from_items(&list, labelers);
        assert_eq!(
            prefs.moderation_prefs.to_moderation_prefs(),
            atmo_client::moderation::ModerationPrefs::from_preferences(&prefs.items, labelers)
        );
    }
}

/// The generated union keeps what it does not know too: every item of the
/// fixture that decodes encodes back to the same JSON in meaning: unknown
/// types and undeclared properties as they were, plus the lexicon's
/// defaults written out (`hideRepliesByUnfollowed: true`, `actorTarget:
/// all`). That difference is why the helpers work on the JSON itself: an
/// item they do not change goes back byte for byte.
#[test]
fn preferences_items_decoded_by_the_generated_union_encode_back_the_same_in_meaning() {
    use atmo_client::atmo_api::app::bsky::actor::defs::PreferencesItem;
    let defaults = [
        ("hideRepliesByUnfollowed", json!(true)),
        ("actorTarget", json!("all")),
    ];
    fn objects<'a>(
        a: &'a Value,
        b: &'a Value,
        out: &mut Vec<(&'a str, &'a Value, Option<&'a Value>)>,
    ) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    match b.get(k) {
                        Some(w) => objects(v, w, out),
                        None => out.push((k, v, None)),
                    }
                }
                for (k, w) in b {
                    if !a.contains_key(k) {
                        out.push((k, w, Some(w)));
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (v, w) in a.iter().zip(b) {
                    objects(v, w, out);
                }
            }
            _ => assert_eq!(a, b),
        }
    }
    let mut decoded = 0;
    for item in every_item() {
        let Ok(typed) = serde_json::from_value::<PreferencesItem>(item.clone()) else {
            continue;
        };
        decoded += 1;
        let back = serde_json::to_value(&typed).unwrap();
        let mut diffs = Vec::new();
        objects(&back, &item, &mut diffs);
        // Keys only in the re-encoding: lexicon defaults; none lost.
        for (key, value, only_in_original) in diffs {
            assert!(only_in_original.is_none(), "{key} lost from {item}");
            assert!(
                defaults.iter().any(|(k, v)| *k == key && v == value),
                "{key}: {value} added to {item}"
            );
        }
    }
    assert_eq!(decoded, every_item().len() - 1);
}
