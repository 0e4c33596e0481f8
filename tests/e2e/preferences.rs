//! The preference helpers against the reference PDS, which stores
//! preferences itself (`app.bsky.actor.getPreferences`/`putPreferences`
//! answered by the PDS, not forwarded). The PDS serves them only when it has
//! an AppView configured, so these run on the AppView harness's PDS.
//!
//! Each helper's effect is read back from the PDS through a second session
//! of the account; an item of a type no lexicon we have declares survives
//! a helper's write; and two writers at once: clones of one agent lose
//! nothing (the agent's lock serialises their read-modify-writes), while
//! two separate sessions are not serialised: `putPreferences` replaces the
//! whole list without a compare-and-swap, so the later write wins, as with
//! `@atproto/api`.

use atmo_api::app::bsky::actor::defs::{
    BskyAppProgressGuide, ContentLabelPrefVisibility, Nux, PostInteractionSettingsPref,
    PostInteractionSettingsPrefThreadgateAllowRulesItem, ThreadViewPrefSort, VerificationPrefs,
};
use atmo_client::bsky::{FeedViewPrefsUpdate, LiveEventAction, NewMutedWord, NewSavedFeed};
use atmo_client::AtpAgent;
use atmo_types::object::Open;
use atmo_types::{AtUri, Datetime, Did};
use atproto_tests::appview::AppView;
use serde_json::{json, Value};

/// A fresh account on the harness's PDS, and a second session of it.
async fn two_sessions(net: &AppView, prefix: &str) -> (AtpAgent, AtpAgent, Did) {
    let (a, _) = crate::agent(&net.pds);
    let (handle, session) = crate::new_account(&a, prefix).await;
    let (b, _) = crate::agent(&net.pds);
    crate::login(&b, &handle).await;
    (a, b, session.did)
}

fn feed_uri(did: &Did, rkey: &str) -> String {
    format!("at://{did}/app.bsky.feed.generator/{rkey}")
}

/// An item of a type our lexicons do not have, in the `app.bsky` namespace
/// the PDS requires, with nesting, numbers and nulls to notice any change.
fn unknown_item() -> Value {
    json!({
        "$type": "app.bsky.example.unknownPref",
        "nested": {"list": [1, 2.5, null, {"deep": "x"}], "flag": true},
        "text": "keep me",
    })
}

/// Every helper, each read back through the other session.
#[tokio::test(flavor = "multi_thread")]
async fn every_preference_helper_is_read_back_from_the_pds() {
    let Some(net) = AppView::shared() else { return };
    let (a, b, did) = two_sessions(net, "prefs").await;

    // A new account: the defaults, and the Following feed stored.
    let first = a.get_preferences().await.expect("getPreferences");
    assert_eq!(first.saved_feeds.len(), 1);
    assert_eq!(first.saved_feeds[0].value, "following");
    let again = b.get_preferences().await.expect("getPreferences");
    assert!(!again.saved_feeds_migrated, "the migration was stored");
    assert_eq!(again.saved_feeds[0].id, first.saved_feeds[0].id);

    let feed = feed_uri(&did, "hot");
    let saved = a
        .add_saved_feeds(vec![NewSavedFeed::feed(feed.clone(), false)])
        .await
        .expect("add_saved_feeds");
    let mut pinned = saved[1].clone();
    pinned.pinned = true;
    a.update_saved_feeds(vec![pinned]).await.expect("update");
    let p = b.get_preferences().await.expect("read");
    assert_eq!(p.saved_feeds.len(), 2);
    assert!(p.saved_feeds[1].pinned && p.saved_feeds[1].value == feed);
    a.remove_saved_feeds([saved[1].id.as_str()])
        .await
        .expect("remove");
    assert_eq!(b.get_preferences().await.unwrap().saved_feeds.len(), 1);

    a.set_adult_content_enabled(true).await.expect("adult");
    a.set_content_label_pref("sexual", ContentLabelPrefVisibility::Hide, None)
        .await
        .expect("label");
    let labeler = Did::new("did:plc:labeler00000000000000000").unwrap();
    a.add_labeler(&labeler).await.expect("add labeler");
    a.set_content_label_pref("spam", ContentLabelPrefVisibility::Warn, Some(&labeler))
        .await
        .expect("labeler label");
    let mut word = NewMutedWord::new("#Rustacean");
    word.expires_at = Some(Datetime::new("2099-01-01T00:00:00.000Z").unwrap());
    a.add_muted_words(vec![word, NewMutedWord::new("spoiler")])
        .await
        .expect("muted words");
    let post = AtUri::new(format!("at://{did}/app.bsky.feed.post/3kpost")).unwrap();
    a.hide_post(&post).await.expect("hide");

    let p = b.get_preferences().await.expect("read");
    let m = &p.moderation_prefs;
    assert!(m.adult_content_enabled);
    assert_eq!(m.labels["sexual"], ContentLabelPrefVisibility::Hide);
    assert_eq!(
        m.labels["suggestive"],
        ContentLabelPrefVisibility::Hide,
        "the legacy name is written too"
    );
    assert_eq!(m.labelers.last().unwrap().did, labeler);
    assert_eq!(
        m.labelers.last().unwrap().labels["spam"],
        ContentLabelPrefVisibility::Warn
    );
    let values: Vec<&str> = m.muted_words.iter().map(|w| w.value.as_str()).collect();
    assert_eq!(values, ["Rustacean", "spoiler"]);
    assert!(m.muted_words.iter().all(|w| w.id.is_some()));
    assert_eq!(m.hidden_posts, std::slice::from_ref(&post));
    assert_eq!(p.labeler_dids(), std::slice::from_ref(&labeler));

    let mut w = m.muted_words[0].clone();
    w.value = "ferris".into();
    a.update_muted_word(w).await.expect("update word");
    let spoiler = m.muted_words[1].clone();
    a.remove_muted_word(&spoiler).await.expect("remove word");
    a.unhide_post(&post).await.expect("unhide");
    a.remove_labeler(&labeler).await.expect("remove labeler");
    let p = b.get_preferences().await.expect("read");
    let m = &p.moderation_prefs;
    let values: Vec<&str> = m.muted_words.iter().map(|w| w.value.as_str()).collect();
    assert_eq!(values, ["ferris"]);
    assert!(m.hidden_posts.is_empty());
    assert!(p.labeler_dids().is_empty());

    a.set_personal_details(Datetime::new("1990-04-01T00:00:00.000Z").unwrap())
        .await
        .expect("personal details");
    a.set_feed_view_prefs(
        "home",
        FeedViewPrefsUpdate {
            hide_reposts: Some(true),
            hide_replies_by_like_count: Some(2),
            ..Default::default()
        },
    )
    .await
    .expect("feed view");
    a.set_thread_view_prefs(ThreadViewPrefSort::Oldest)
        .await
        .expect("thread view");
    a.set_interests_pref(vec!["science".into()])
        .await
        .expect("interests");
    a.bsky_app_queue_nudges(vec!["one".into(), "two".into()])
        .await
        .expect("nudges");
    a.bsky_app_dismiss_nudges(&["one"]).await.expect("dismiss");
    a.bsky_app_set_active_progress_guide(Some(BskyAppProgressGuide::new("like-10".into())))
        .await
        .expect("guide");
    a.bsky_app_upsert_nux(Nux::new("welcome".into(), true))
        .await
        .expect("nux");
    a.bsky_app_upsert_nux(Nux::new("later".into(), false))
        .await
        .expect("nux");
    a.bsky_app_remove_nuxs(&["later"])
        .await
        .expect("remove nux");
    a.set_is_beta_user(true).await.expect("beta");
    a.set_post_interaction_settings(PostInteractionSettingsPref {
        threadgate_allow_rules: Some(vec![
            PostInteractionSettingsPrefThreadgateAllowRulesItem::MentionRule(Box::default()),
        ]),
        ..Default::default()
    })
    .await
    .expect("interaction settings");
    a.set_verification_prefs(VerificationPrefs {
        hide_badges: true,
        ..Default::default()
    })
    .await
    .expect("verification");
    a.update_live_event_preferences(LiveEventAction::HideFeed("event".into()))
        .await
        .expect("live events");
    a.update_live_event_preferences(LiveEventAction::ToggleHideAllFeeds)
        .await
        .expect("live events");

    let p = b.get_preferences().await.expect("read");
    assert_eq!(
        p.birth_date.as_ref().map(Datetime::as_str),
        Some("1990-04-01T00:00:00.000Z")
    );
    // The PDS derives this read-only item from the birth date, and drops it
    // from the writes that send it back.
    assert_eq!(p.declared_age.as_ref().unwrap().is_over_age18, Some(true));
    let home = &p.feed_view_prefs["home"];
    assert!(home.hide_reposts && home.hide_replies_by_unfollowed);
    assert_eq!(home.hide_replies_by_like_count, 2);
    assert_eq!(
        p.thread_view_prefs.sort,
        Open::Known(ThreadViewPrefSort::Oldest)
    );
    assert_eq!(p.interests.tags, ["science"]);
    assert!(p.interests.updated_at.is_some());
    let s = &p.bsky_app_state;
    assert_eq!(s.queued_nudges, ["two"]);
    assert_eq!(s.active_progress_guide.as_ref().unwrap().guide, "like-10");
    let nuxs: Vec<&str> = s.nuxs.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(nuxs, ["welcome"]);
    assert_eq!(s.is_beta_user, Some(true));
    assert_eq!(
        p.post_interaction_settings
            .threadgate_allow_rules
            .as_ref()
            .map(Vec::len),
        Some(1)
    );
    assert!(p.hide_verification_badges);
    assert_eq!(p.live_event_preferences.hidden_feed_ids, ["event"]);
    assert!(p.live_event_preferences.hide_all_feeds);
    // Settings from the first half are still there.
    assert!(p.moderation_prefs.adult_content_enabled);
    assert_eq!(p.saved_feeds.len(), 1);

    // The deprecated v1 helpers, still honoured by the PDS.
    #[allow(deprecated)]
    {
        let uri = AtUri::new(feed_uri(&did, "old")).unwrap();
        a.add_pinned_feed(uri.clone()).await.expect("v1 pin");
        let p = b.get_preferences().await.expect("read");
        assert_eq!(p.feeds.pinned.as_deref(), Some(&[uri.clone()][..]));
        a.remove_saved_feed(uri).await.expect("v1 remove");
        let p = b.get_preferences().await.expect("read");
        assert_eq!(p.feeds.saved.as_deref(), Some(&[][..]));
    }
}

/// An item of a type we do not know, put raw, comes back as it was after
/// helpers rewrite the list around it; the PDS itself refuses a type
/// outside `app.bsky` (such as `com.example.unknownPref`), so an app cannot
/// store one there in the first place.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_preference_type_survives_a_helper_write() {
    let Some(net) = AppView::shared() else { return };
    let (a, b, _) = two_sessions(net, "unkpref").await;

    let outside = json!({"$type": "com.example.unknownPref", "x": 1});
    let e = a
        .put_preferences_raw(&[outside])
        .await
        .expect_err("the PDS keeps preferences to app.bsky");
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(e.to_string().contains("app.bsky"), "{e}");

    let adult_with_extra = json!({
        "$type": "app.bsky.actor.defs#adultContentPref",
        "enabled": false,
        "fromANewerApp": {"k": [1, 2]},
    });
    a.put_preferences_raw(&[unknown_item(), adult_with_extra])
        .await
        .expect("put raw");
    a.add_muted_word(NewMutedWord::new("anything"))
        .await
        .expect("helper write");
    a.set_adult_content_enabled(true).await.expect("adult");

    let raw = b.get_preferences_raw().await.expect("raw read");
    assert_eq!(raw[0], unknown_item(), "kept as it was, first");
    let adult = raw
        .iter()
        .find(|v| v["$type"] == "app.bsky.actor.defs#adultContentPref")
        .expect("adult content item");
    assert_eq!(adult["enabled"], true);
    assert_eq!(adult["fromANewerApp"], json!({"k": [1, 2]}));
    let typed = b.get_preferences().await.expect("typed read");
    assert!(typed
        .items
        .iter()
        .any(|i| matches!(i, atmo_api::app::bsky::actor::defs::PreferencesItem::Unknown(u) if u.type_name == "app.bsky.example.unknownPref")));
    // The migration write of that read kept it too.
    assert_eq!(b.get_preferences_raw().await.unwrap()[0], unknown_item());
}

/// Two writers at once. Clones of one agent share its lock: twelve
/// different helpers run together and every change lands. Two sessions of
/// the account are separate agents: each serialises its own writes, but
/// between one's read and its write the other may write, and the later
/// write wins (shown deterministically: a write from a stale read undoes
/// the other session's change). Either way the items it does not know
/// survive.
#[tokio::test(flavor = "multi_thread")]
async fn two_agents_writing_at_once() {
    let Some(net) = AppView::shared() else { return };
    let (a, b, did) = two_sessions(net, "twoprefs").await;
    a.put_preferences_raw(&[unknown_item()])
        .await
        .expect("seed");

    let mut tasks = Vec::new();
    for i in 0..6 {
        let agent = a.clone();
        tasks.push(tokio::spawn(async move {
            agent
                .add_muted_word(NewMutedWord::new(format!("word{i}")))
                .await
        }));
        let agent = a.clone();
        let uri = AtUri::new(format!("at://{did}/app.bsky.feed.post/p{i}")).unwrap();
        tasks.push(tokio::spawn(async move { agent.hide_post(&uri).await }));
    }
    for t in tasks {
        t.await.expect("task").expect("write");
    }
    let p = b.get_preferences().await.expect("read");
    assert_eq!(p.moderation_prefs.muted_words.len(), 6, "no word lost");
    assert_eq!(
        p.moderation_prefs.hidden_posts.len(),
        6,
        "no hidden post lost"
    );

    // Both sessions at once, each on its own settings: every write
    // succeeds and the list stays whole; which of two overlapping writes
    // wins is not decided by the client.
    let (ra, rb) = tokio::join!(
        async {
            for i in 0..4 {
                a.set_interests_pref(vec![format!("a{i}")]).await?;
            }
            Ok::<_, atmo_client::AnyError>(())
        },
        async {
            for i in 0..4 {
                b.set_feed_view_prefs(
                    "home",
                    FeedViewPrefsUpdate {
                        hide_replies_by_like_count: Some(i),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Ok::<_, atmo_client::AnyError>(())
        }
    );
    ra.expect("session a");
    rb.expect("session b");
    let raw = a.get_preferences_raw().await.expect("raw");
    assert_eq!(raw[0], unknown_item(), "the unknown item survives both");
    for t in ["interestsPref", "mutedWordsPref", "hiddenPostsPref"] {
        let n = raw
            .iter()
            .filter(|v| v["$type"] == format!("app.bsky.actor.defs#{t}"))
            .count();
        assert!(n <= 1, "{t} appears {n} times");
    }

    // The later write wins: a write from a read taken before the other
    // session's change undoes it.
    let stale = a.get_preferences_raw().await.expect("read");
    b.add_muted_word(NewMutedWord::new("from-b"))
        .await
        .expect("b writes");
    a.put_preferences_raw(&stale).await.expect("a writes");
    let p = b.get_preferences().await.expect("read");
    assert!(
        !p.moderation_prefs
            .muted_words
            .iter()
            .any(|w| w.value == "from-b"),
        "across sessions the later put replaces the list"
    );
}
