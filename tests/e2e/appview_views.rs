//! The app.bsky view helpers against the real AppView (`@atproto/bsky`,
//! started with PLC, the PDS and Ozone by `tests/appview/run.sh`): every
//! call goes to the PDS, which forwards it to the AppView, as an app's calls
//! do. Profiles with their counts, the timeline, an author feed, a thread
//! with its replies, likes, notifications with the unread count and
//! `updateSeen`, search, and `paginate` over the AppView's own cursors.
//!
//! The AppView indexes what the PDS writes a moment later, so every check
//! polls with a deadline ([`eventually`]) instead of sleeping.

use std::time::Duration;

use atmo_api::app::bsky::actor::search_actors::{self, SearchActors};
use atmo_api::app::bsky::feed::defs::{FeedViewPost, PostView, ThreadViewPostRepliesItem};
use atmo_api::app::bsky::feed::get_author_feed::{self, GetAuthorFeed};
use atmo_api::app::bsky::feed::get_likes::{self, GetLikes};
use atmo_api::app::bsky::feed::get_post_thread::{self, GetPostThread, OutputThread};
use atmo_api::app::bsky::feed::get_posts::{self, GetPosts};
use atmo_api::app::bsky::feed::get_timeline::{self, GetTimeline};
use atmo_api::app::bsky::feed::post::Post;
use atmo_api::app::bsky::feed::search_posts::{self, SearchPosts};
use atmo_api::app::bsky::notification::get_unread_count::{self, GetUnreadCount};
use atmo_api::app::bsky::notification::list_notifications::{self, ListNotifications};
use atmo_api::app::bsky::notification::update_seen::{self, UpdateSeen};
use atmo_client::bsky::PostBuilder;
use atmo_client::{AtpAgent, RecordRef};
use atmo_types::{AtIdentifier, AtUri, Datetime, Did};
use atproto_tests::appview::{eventually, AppView};

/// How long the AppView may take to index a write (it usually takes well
/// under a second; the margin is for a loaded machine).
pub const INDEXED: Duration = Duration::from_secs(20);

/// A fresh account on the harness's PDS: its agent, DID and handle.
pub async fn account(net: &AppView, prefix: &str) -> (AtpAgent, Did, String) {
    let (agent, _) = crate::agent(&net.pds);
    let (handle, session) = crate::new_account(&agent, prefix).await;
    (agent, session.did, handle)
}

/// Posts `text` (panics on failure).
pub async fn post(agent: &AtpAgent, text: &str) -> RecordRef {
    agent
        .post_with(PostBuilder::new(text))
        .await
        .unwrap_or_else(|e| panic!("post {text:?}: {e}"))
}

/// Replies `text` to `parent`.
async fn reply(agent: &AtpAgent, parent: &AtUri, text: &str) -> RecordRef {
    agent
        .post_with(PostBuilder::new(text).reply_to(parent.clone()))
        .await
        .unwrap_or_else(|e| panic!("reply {text:?}: {e}"))
}

/// The AppView's view of the post at `uri`, once it has indexed it and `ok`
/// holds for it.
pub async fn post_view_when(
    agent: &AtpAgent,
    uri: &AtUri,
    what: &str,
    ok: impl Fn(&PostView) -> bool,
) -> PostView {
    eventually(what, INDEXED, || async {
        let out = agent
            .call::<GetPosts>(get_posts::Parameters::new(vec![uri.clone()]), ())
            .await
            .unwrap_or_else(|e| panic!("getPosts {uri}: {e}"));
        out.posts.into_iter().find(|p| p.uri == *uri && ok(p))
    })
    .await
}

/// The post URIs of a feed page.
fn uris(feed: &[FeedViewPost]) -> Vec<AtUri> {
    feed.iter().map(|f| f.post.uri.clone()).collect()
}

fn now() -> Datetime {
    Datetime::new(atmo_types::time::now_rfc3339()).expect("the clock gives a datetime")
}

/// A word no other test's post contains.
fn unique_word(prefix: &str) -> String {
    let handle = atproto_tests::unique_handle(prefix);
    handle.trim_end_matches(".test").to_owned()
}

/// `getProfile` counts what the account wrote: posts, follows, followers;
/// `getProfiles` answers for several accounts, and the viewer state says
/// who follows whom.
#[tokio::test(flavor = "multi_thread")]
async fn appview_profile_counts_posts_follows_and_followers() {
    let Some(net) = AppView::shared() else { return };
    let (alice, alice_did, alice_handle) = account(net, "avprof").await;
    let (bob, bob_did, _) = account(net, "avprofb").await;
    post(&alice, "first").await;
    post(&alice, "second").await;
    let follow = alice.follow(&bob_did).await.expect("follow");
    bob.follow(&alice_did).await.expect("follow back");

    let profile = eventually("alice's profile counts", INDEXED, || async {
        // "Profile not found" until the account is indexed.
        let p = bob.get_profile(alice_did.clone()).await.ok()?;
        (p.posts_count == Some(2) && p.follows_count == Some(1) && p.followers_count == Some(1))
            .then_some(p)
    })
    .await;
    assert_eq!(profile.did, alice_did);
    assert_eq!(profile.handle.as_str(), alice_handle);
    let viewer = profile
        .viewer
        .expect("a signed-in viewer gets viewer state");
    assert!(viewer.following.is_some(), "bob follows alice");
    assert_eq!(
        viewer.followed_by.as_ref(),
        Some(&follow.uri),
        "alice follows bob with the record she wrote"
    );

    let both = bob
        .get_profiles([alice_did.clone(), bob_did.clone()])
        .await
        .expect("getProfiles");
    let dids: Vec<&Did> = both.iter().map(|p| &p.did).collect();
    assert_eq!(dids, [&alice_did, &bob_did]);

    // Undoing the follow is counted too.
    alice.unfollow(&follow.uri).await.expect("unfollow");
    eventually("alice's follows back to 0", INDEXED, || async {
        let p = bob
            .get_profile(alice_did.clone())
            .await
            .expect("getProfile");
        (p.follows_count == Some(0)).then_some(())
    })
    .await;
}

/// The timeline shows the posts of followed accounts, newest first, with
/// their like and reply counts and the viewer's own like.
#[tokio::test(flavor = "multi_thread")]
async fn appview_timeline_has_followed_posts_with_like_and_reply_counts() {
    let Some(net) = AppView::shared() else { return };
    let (alice, _, _) = account(net, "avtl").await;
    let (bob, bob_did, _) = account(net, "avtlb").await;
    let (carol, _, _) = account(net, "avtlc").await;
    alice.follow(&bob_did).await.expect("follow");
    let older = post(&bob, "older").await;
    let newer = post(&bob, "newer").await;
    let like = alice.like(&newer).await.expect("like");
    carol.like(&newer).await.expect("like");
    reply(&carol, &newer.uri, "a reply").await;

    let feed = eventually("bob's posts on alice's timeline", INDEXED, || async {
        let out = alice
            .call::<GetTimeline>(get_timeline::Parameters::default(), ())
            .await
            .ok()?; // not found until indexed
        let ours: Vec<FeedViewPost> = out
            .feed
            .into_iter()
            .filter(|f| f.post.uri == older.uri || f.post.uri == newer.uri)
            .collect();
        let counted = ours.iter().any(|f| {
            f.post.uri == newer.uri && f.post.like_count == Some(2) && f.post.reply_count == Some(1)
        });
        (ours.len() == 2 && counted).then_some(ours)
    })
    .await;
    assert_eq!(
        uris(&feed),
        [newer.uri.clone(), older.uri.clone()],
        "newest first"
    );
    let top = &feed[0].post;
    assert_eq!(top.cid, newer.cid);
    assert_eq!(top.author.did, bob_did);
    let record: Post = top
        .record
        .decode()
        .expect("the view carries the post record");
    assert_eq!(record.text, "newer");
    let viewer = top.viewer.as_ref().expect("viewer state");
    assert_eq!(viewer.like.as_ref(), Some(&like.uri), "alice's own like");
    assert_eq!(feed[1].post.like_count, Some(0));
}

/// An author feed lists an account's posts newest first; the
/// `posts_no_replies` filter leaves its replies out.
#[tokio::test(flavor = "multi_thread")]
async fn appview_author_feed_lists_posts_and_filters_replies() {
    let Some(net) = AppView::shared() else { return };
    let (alice, alice_did, _) = account(net, "avaf").await;
    let one = post(&alice, "one").await;
    let two = post(&alice, "two").await;
    let answer = reply(&alice, &one.uri, "answering myself").await;

    let all = eventually("alice's author feed", INDEXED, || async {
        // Until the AppView has indexed the account, it answers
        // "Profile not found".
        let out = alice
            .call::<GetAuthorFeed>(
                get_author_feed::Parameters::new(AtIdentifier::from(alice_did.clone())),
                (),
            )
            .await
            .ok()?;
        (out.feed.len() == 3).then_some(out.feed)
    })
    .await;
    assert_eq!(
        uris(&all),
        [answer.uri.clone(), two.uri.clone(), one.uri.clone()]
    );
    assert!(
        all[0].reply.is_some(),
        "the reply carries its thread context"
    );

    let mut params = get_author_feed::Parameters::new(AtIdentifier::from(alice_did.clone()));
    params.filter = get_author_feed::ParametersFilter::PostsNoReplies.into();
    let no_replies = alice
        .call::<GetAuthorFeed>(params, ())
        .await
        .expect("getAuthorFeed posts_no_replies");
    assert_eq!(uris(&no_replies.feed), [two.uri, one.uri]);
}

/// `getPostThread` of a root post has its replies, and theirs; from a
/// reply, the thread has its parents up to the root.
#[tokio::test(flavor = "multi_thread")]
async fn appview_thread_has_replies_and_parents() {
    let Some(net) = AppView::shared() else { return };
    let (alice, _, _) = account(net, "avth").await;
    let (bob, _, _) = account(net, "avthb").await;
    let root = post(&alice, "root").await;
    let first = reply(&bob, &root.uri, "first reply").await;
    let nested = reply(&alice, &first.uri, "nested reply").await;
    let second = reply(&bob, &root.uri, "second reply").await;

    let thread = eventually("the thread with its replies", INDEXED, || async {
        let out = alice
            .call::<GetPostThread>(get_post_thread::Parameters::new(root.uri.clone()), ())
            .await
            .ok()?; // not found until indexed
        let OutputThread::ThreadViewPost(t) = out.thread else {
            panic!("the root is a thread view post")
        };
        let complete = t.post.reply_count == Some(2)
            && t.replies.as_ref().is_some_and(|r| r.len() == 2)
            && t.replies.iter().flatten().any(|r| match r {
                ThreadViewPostRepliesItem::ThreadViewPost(r) => {
                    r.replies.as_ref().is_some_and(|n| n.len() == 1)
                }
                _ => false,
            });
        complete.then_some(t)
    })
    .await;
    assert_eq!(thread.post.uri, root.uri);
    let replies: Vec<_> = thread
        .replies
        .iter()
        .flatten()
        .map(|r| match r {
            ThreadViewPostRepliesItem::ThreadViewPost(r) => r,
            other => panic!("a reply that is not a post: {other:?}"),
        })
        .collect();
    let mut reply_uris: Vec<&AtUri> = replies.iter().map(|r| &r.post.uri).collect();
    reply_uris.sort();
    let mut expected = vec![&first.uri, &second.uri];
    expected.sort();
    assert_eq!(reply_uris, expected);
    let first_view = replies
        .iter()
        .find(|r| r.post.uri == first.uri)
        .expect("the first reply");
    let nested_uris: Vec<&AtUri> = first_view
        .replies
        .iter()
        .flatten()
        .filter_map(|r| match r {
            ThreadViewPostRepliesItem::ThreadViewPost(r) => Some(&r.post.uri),
            _ => None,
        })
        .collect();
    assert_eq!(nested_uris, [&nested.uri]);

    // From the nested reply, up to the root.
    let up = alice
        .call::<GetPostThread>(get_post_thread::Parameters::new(nested.uri.clone()), ())
        .await
        .expect("getPostThread of the nested reply");
    let OutputThread::ThreadViewPost(leaf) = up.thread else {
        panic!("the nested reply is a thread view post")
    };
    let debug = format!("{:?}", leaf.parent);
    assert!(debug.contains(first.uri.as_str()), "parent: {debug}");
    assert!(debug.contains(root.uri.as_str()), "grandparent: {debug}");
}

/// `getLikes` lists who liked a post; an unlike takes the like away.
#[tokio::test(flavor = "multi_thread")]
async fn appview_likes_list_the_likers() {
    let Some(net) = AppView::shared() else { return };
    let (alice, _, _) = account(net, "avlk").await;
    let (bob, bob_did, _) = account(net, "avlkb").await;
    let (carol, carol_did, _) = account(net, "avlkc").await;
    let liked = post(&alice, "like me").await;
    let bob_like = bob.like(&liked).await.expect("like");
    carol.like(&liked).await.expect("like");

    let likers = |n: usize| {
        let alice = alice.clone();
        let uri = liked.uri.clone();
        move || {
            let alice = alice.clone();
            let uri = uri.clone();
            async move {
                let out = alice
                    .call::<GetLikes>(get_likes::Parameters::new(uri), ())
                    .await
                    .ok()?; // not found until indexed
                let mut dids: Vec<Did> = out.likes.into_iter().map(|l| l.actor.did).collect();
                dids.sort();
                (dids.len() == n).then_some(dids)
            }
        }
    };
    let dids = eventually("two likes", INDEXED, likers(2)).await;
    let mut expected = vec![bob_did.clone(), carol_did.clone()];
    expected.sort();
    assert_eq!(dids, expected);
    post_view_when(&alice, &liked.uri, "like count 2", |p| {
        p.like_count == Some(2)
    })
    .await;

    bob.unlike(&bob_like.uri).await.expect("unlike");
    let dids = eventually("one like left", INDEXED, likers(1)).await;
    assert_eq!(dids, [carol_did]);
}

/// Notifications: a like, a reply and a follow reach the account with their
/// reasons and authors; the unread count counts them, and `updateSeen`
/// marks them read, so only what comes after counts again.
#[tokio::test(flavor = "multi_thread")]
async fn appview_notifications_unread_count_and_update_seen() {
    let Some(net) = AppView::shared() else { return };
    let (bob, bob_did, _) = account(net, "avnt").await;
    let (alice, alice_did, _) = account(net, "avnta").await;
    let (carol, carol_did, _) = account(net, "avntc").await;
    let bobs = post(&bob, "notify me").await;
    alice.like(&bobs).await.expect("like");
    let answer = reply(&alice, &bobs.uri, "a reply").await;
    alice.follow(&bob_did).await.expect("follow");

    let unread = || async {
        bob.call::<GetUnreadCount>(get_unread_count::Parameters::default(), ())
            .await
            .unwrap_or_else(|e| panic!("getUnreadCount: {e}"))
            .count
    };
    eventually("three unread notifications", INDEXED, || async {
        (unread().await == 3).then_some(())
    })
    .await;
    let list = bob
        .call::<ListNotifications>(list_notifications::Parameters::default(), ())
        .await
        .expect("listNotifications");
    let mut seen: Vec<(String, Did)> = list
        .notifications
        .iter()
        .map(|n| (n.reason.as_str().to_owned(), n.author.did.clone()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("follow".to_owned(), alice_did.clone()),
            ("like".to_owned(), alice_did.clone()),
            ("reply".to_owned(), alice_did.clone()),
        ]
    );
    // (Before the account's first updateSeen, the reference AppView counts
    // all three as unread but answers `isRead` as if the newest had been
    // seen, so `isRead` is only checked after updateSeen.)
    let like = list
        .notifications
        .iter()
        .find(|n| n.reason.as_str() == "like")
        .expect("the like");
    assert_eq!(like.reason_subject.as_ref(), Some(&bobs.uri));
    let replied = list
        .notifications
        .iter()
        .find(|n| n.reason.as_str() == "reply")
        .expect("the reply");
    assert_eq!(replied.uri, answer.uri);

    bob.call::<UpdateSeen>((), update_seen::Input::new(now()))
        .await
        .expect("updateSeen");
    // The AppView hands updateSeen to bsync, which fans it out.
    eventually("updateSeen marks everything read", INDEXED, || async {
        (unread().await == 0).then_some(())
    })
    .await;
    let list = bob
        .call::<ListNotifications>(list_notifications::Parameters::default(), ())
        .await
        .expect("listNotifications");
    assert!(list.seen_at.is_some());
    assert!(list.notifications.iter().all(|n| n.is_read));

    carol.like(&bobs).await.expect("like");
    eventually("one new unread notification", INDEXED, || async {
        (unread().await == 1).then_some(())
    })
    .await;
    let list = bob
        .call::<ListNotifications>(list_notifications::Parameters::default(), ())
        .await
        .expect("listNotifications");
    let unread_from: Vec<&Did> = list
        .notifications
        .iter()
        .filter(|n| !n.is_read)
        .map(|n| &n.author.did)
        .collect();
    assert_eq!(unread_from, [&carol_did]);
}

/// Search: `searchPosts` finds posts by a word in their text (and by
/// author with `from:`), `searchActors` accounts by handle.
#[tokio::test(flavor = "multi_thread")]
async fn appview_search_finds_posts_and_actors() {
    let Some(net) = AppView::shared() else { return };
    let (alice, alice_did, alice_handle) = account(net, "avsr").await;
    let (bob, _, _) = account(net, "avsrb").await;
    let word = unique_word("needle");
    let hit = post(&alice, &format!("a {word} in a haystack")).await;
    post(&alice, "nothing to see").await;
    let bobs = post(&bob, &format!("bob has a {word} too")).await;

    let found = eventually("both posts found", INDEXED, || async {
        let out = alice
            .call::<SearchPosts>(search_posts::Parameters::new(word.clone()), ())
            .await
            .ok()?; // not found until indexed
        (out.posts.len() == 2).then_some(out.posts)
    })
    .await;
    let mut found: Vec<&AtUri> = found.iter().map(|p| &p.uri).collect();
    found.sort();
    let mut expected = vec![&hit.uri, &bobs.uri];
    expected.sort();
    assert_eq!(found, expected);

    let from_alice = alice
        .call::<SearchPosts>(
            search_posts::Parameters::new(format!("{word} from:{alice_handle}")),
            (),
        )
        .await
        .expect("searchPosts from:");
    let from: Vec<&AtUri> = from_alice.posts.iter().map(|p| &p.uri).collect();
    assert_eq!(from, [&hit.uri]);

    let params = search_actors::Parameters {
        q: Some(alice_handle.trim_end_matches(".test").to_owned()),
        ..Default::default()
    };
    let actors = alice
        .call::<SearchActors>(params, ())
        .await
        .expect("searchActors");
    let dids: Vec<&Did> = actors.actors.iter().map(|a| &a.did).collect();
    assert_eq!(dids, [&alice_did]);
}

/// `paginate` walks the AppView's real cursors: an author feed of seven
/// posts two at a time comes back whole, in order, without repeats, in four
/// pages; search results page the same way.
#[tokio::test(flavor = "multi_thread")]
async fn appview_paginate_walks_real_cursors() {
    let Some(net) = AppView::shared() else { return };
    let (alice, alice_did, _) = account(net, "avpg").await;
    let word = unique_word("paged");
    let mut written = Vec::new();
    for i in 0..7 {
        written.push(post(&alice, &format!("{word} number {i}")).await.uri);
    }
    written.reverse(); // newest first, as feeds answer

    let mut params = get_author_feed::Parameters::new(AtIdentifier::from(alice_did.clone()));
    params.limit = 2;
    eventually("all seven posts indexed", INDEXED, || async {
        let mut all = get_author_feed::Parameters::new(AtIdentifier::from(alice_did.clone()));
        all.limit = 100;
        // "Profile not found" until the account is indexed.
        let out = alice.call::<GetAuthorFeed>(all, ()).await.ok()?;
        (out.feed.len() == 7).then_some(())
    })
    .await;

    let mut pages = alice.paginate::<GetAuthorFeed>(params.clone());
    let mut sizes = Vec::new();
    let mut walked = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("a page");
        sizes.push(page.feed.len());
        walked.extend(uris(&page.feed));
        assert!(sizes.len() <= 10, "the walk does not end: {sizes:?}");
    }
    assert_eq!(walked, written);
    assert_eq!(&sizes[..4], [2, 2, 2, 1]);
    assert!(sizes[4..].iter().all(|&n| n == 0), "pages: {sizes:?}");

    // The item stream, started again from the second page's cursor.
    let mut first = alice.paginate::<GetAuthorFeed>(params.clone());
    first.next().await.expect("a first page").expect("page");
    let cursor = first
        .cursor()
        .expect("a cursor after the first page")
        .to_owned();
    let mut items = alice
        .paginate::<GetAuthorFeed>(params)
        .from_cursor(cursor)
        .items();
    let mut rest = Vec::new();
    while let Some(item) = items.next().await {
        rest.push(item.expect("an item").post.uri);
    }
    assert_eq!(rest, written[2..]);

    // Search results, two at a time.
    let mut search = search_posts::Parameters::new(word.clone());
    search.limit = 2;
    let mut hits = alice.paginate::<SearchPosts>(search).items();
    let mut found = Vec::new();
    while let Some(hit) = hits.next().await {
        found.push(hit.expect("a search hit").uri);
        assert!(found.len() <= 7, "search pages repeat");
    }
    let mut expected = written.clone();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
}
