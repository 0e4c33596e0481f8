//! Moderation through Ozone against the real AppView: a takedown removes a
//! post from the AppView's views (and reversing it brings the post back),
//! and a label Ozone emits on a post or an account shows on the AppView's
//! post and profile views, until Ozone negates it.
//!
//! The moderator is the Ozone service account of the harness (an Ozone
//! admin); its calls go to the PDS with `atproto-proxy: <ozone did>#atproto_labeler`,
//! as the Ozone web app's do. Labels reach the AppView through the
//! harness's label bridge (test-harness code standing in for the label
//! ingester the npm AppView lacks: see `tests/appview/start.mjs`).

use atmo_api::app::bsky::feed::get_author_feed::{self, GetAuthorFeed};
use atmo_api::app::bsky::feed::get_post_thread::{self, GetPostThread, OutputThread};
use atmo_api::app::bsky::feed::get_posts::{self, GetPosts};
use atmo_client::{AtpAgent, Error, Login, RecordRef};
use atmo_types::{AtIdentifier, AtUri, Did};
use atproto_tests::appview::{eventually, AppView};
use serde_json::{json, Value};

use crate::appview_views::{account, post, post_view_when, INDEXED};

/// The moderator: signed in on the PDS, its calls proxied to Ozone.
async fn moderator(net: &AppView) -> (AtpAgent, Did) {
    let (agent, _) = crate::agent(&net.pds);
    let session = agent
        .login(Login::new(
            &net.moderator_handle,
            net.moderator_password.as_str(),
        ))
        .await
        .unwrap_or_else(|e| panic!("moderator login: {e}"));
    (
        agent.with_proxy(&net.ozone_did, "atproto_labeler"),
        session.did,
    )
}

/// `tools.ozone.moderation.emitEvent` of `event` on `subject`.
async fn emit(moderator: &(AtpAgent, Did), event: Value, subject: Value) -> Value {
    let (agent, did) = moderator;
    let input = json!({ "event": event, "subject": subject, "createdBy": did.as_str() });
    agent
        .procedure_json("tools.ozone.moderation.emitEvent", &[], Some(&input))
        .await
        .unwrap_or_else(|e| panic!("emitEvent {input}: {e}"))
}

fn post_subject(post: &RecordRef) -> Value {
    json!({
        "$type": "com.atproto.repo.strongRef",
        "uri": post.uri.as_str(),
        "cid": post.cid.to_string(),
    })
}

fn label_event(create: &[&str], negate: &[&str]) -> Value {
    json!({
        "$type": "tools.ozone.moderation.defs#modEventLabel",
        "createLabelVals": create,
        "negateLabelVals": negate,
    })
}

/// Which of `uris` the AppView answers `getPosts` with.
async fn visible(agent: &AtpAgent, uris: &[&AtUri]) -> Vec<AtUri> {
    let params = get_posts::Parameters::new(uris.iter().map(|u| (*u).clone()).collect());
    let out = agent
        .call::<GetPosts>(params, ())
        .await
        .unwrap_or_else(|e| panic!("getPosts: {e}"));
    out.posts.into_iter().map(|p| p.uri).collect()
}

/// A post taken down through Ozone disappears from the AppView: `getPosts`
/// leaves it out, the author feed no longer lists it and its thread is not
/// found, while the author's other post stays. Reversing the takedown
/// brings it back.
#[tokio::test(flavor = "multi_thread")]
async fn appview_taken_down_post_disappears_and_comes_back() {
    let Some(net) = AppView::shared() else { return };
    let moderator = moderator(net).await;
    let (bob, bob_did, _) = account(net, "avtd").await;
    let (alice, _, _) = account(net, "avtda").await;
    let keep = post(&bob, "this one stays").await;
    let gone = post(&bob, "this one goes").await;
    eventually("both posts indexed", INDEXED, || async {
        (visible(&alice, &[&keep.uri, &gone.uri]).await.len() == 2).then_some(())
    })
    .await;

    emit(
        &moderator,
        json!({ "$type": "tools.ozone.moderation.defs#modEventTakedown", "comment": "e2e takedown" }),
        post_subject(&gone),
    )
    .await;
    eventually(
        "the taken-down post gone from getPosts",
        INDEXED,
        || async {
            (visible(&alice, &[&keep.uri, &gone.uri]).await == [keep.uri.clone()]).then_some(())
        },
    )
    .await;

    let feed = alice
        .call::<GetAuthorFeed>(
            get_author_feed::Parameters::new(AtIdentifier::from(bob_did.clone())),
            (),
        )
        .await
        .expect("getAuthorFeed");
    let listed: Vec<&AtUri> = feed.feed.iter().map(|f| &f.post.uri).collect();
    assert_eq!(
        listed,
        [&keep.uri],
        "the author feed leaves the taken-down post out"
    );

    match alice
        .call::<GetPostThread>(get_post_thread::Parameters::new(gone.uri.clone()), ())
        .await
    {
        Err(Error::Api {
            error: get_post_thread::Error::NotFound(_),
            ..
        }) => {}
        Ok(out) => assert!(
            !matches!(out.thread, OutputThread::ThreadViewPost(_)),
            "the taken-down post's thread is still shown: {:?}",
            out.thread
        ),
        Err(e) => panic!("getPostThread of the taken-down post: {e}"),
    }

    emit(
        &moderator,
        json!({ "$type": "tools.ozone.moderation.defs#modEventReverseTakedown", "comment": "e2e reversal" }),
        post_subject(&gone),
    )
    .await;
    eventually("the post back after the reversal", INDEXED, || async {
        (visible(&alice, &[&gone.uri]).await == [gone.uri.clone()]).then_some(())
    })
    .await;
}

/// A label Ozone emits on a post reaches the AppView's post view (through
/// the harness's label bridge) with Ozone as its source, and leaves it when
/// Ozone negates it; a label on the account shows on its profile view.
#[tokio::test(flavor = "multi_thread")]
async fn appview_ozone_labels_reach_post_and_profile_views() {
    let Some(net) = AppView::shared() else { return };
    let moderator = moderator(net).await;
    let (alice, alice_did, _) = account(net, "avlb").await;
    let (bob, _, _) = account(net, "avlbb").await;
    let labelled = post(&alice, "label me").await;
    let view = post_view_when(&bob, &labelled.uri, "the post indexed", |_| true).await;
    assert!(
        view.labels.as_deref().unwrap_or_default().is_empty(),
        "no label before Ozone emits one: {:?}",
        view.labels
    );

    emit(
        &moderator,
        label_event(&["!warn"], &[]),
        post_subject(&labelled),
    )
    .await;
    let view = post_view_when(&bob, &labelled.uri, "Ozone's label on the post view", |p| {
        p.labels.iter().flatten().any(|l| l.val == "!warn")
    })
    .await;
    let label = view
        .labels
        .iter()
        .flatten()
        .find(|l| l.val == "!warn")
        .expect("the label");
    assert_eq!(
        label.src.as_str(),
        net.ozone_did,
        "the label's source is Ozone"
    );
    assert_eq!(label.uri.as_str(), labelled.uri.as_str());
    assert_eq!(label.cid.as_ref(), Some(&labelled.cid));
    assert_ne!(label.neg, Some(true));

    emit(
        &moderator,
        label_event(&[], &["!warn"]),
        post_subject(&labelled),
    )
    .await;
    post_view_when(&bob, &labelled.uri, "the negated label gone", |p| {
        p.labels.iter().flatten().all(|l| l.val != "!warn")
    })
    .await;

    let account = json!({ "$type": "com.atproto.admin.defs#repoRef", "did": alice_did.as_str() });
    emit(&moderator, label_event(&["rude"], &[]), account).await;
    let profile = eventually("Ozone's label on the profile view", INDEXED, || async {
        let p = bob
            .get_profile(alice_did.clone())
            .await
            .unwrap_or_else(|e| panic!("getProfile: {e}"));
        p.labels
            .iter()
            .flatten()
            .any(|l| l.val == "rude")
            .then_some(p)
    })
    .await;
    let label = profile
        .labels
        .iter()
        .flatten()
        .find(|l| l.val == "rude")
        .expect("the label");
    assert_eq!(label.src.as_str(), net.ozone_did);
    assert_eq!(label.uri.as_str(), alice_did.as_str());
}
