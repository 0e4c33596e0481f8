//! The app.bsky helpers against the real PDS: each writer creates the record
//! it says (read back with `getRecord`), its undo removes it, mentions
//! resolve through the PDS, blobs upload and embed, replies keep their
//! thread's root, concurrent profile upserts both land, and pagination walks
//! a repository's records.

use atmo_api::app::bsky::actor::profile::Profile;
use atmo_api::app::bsky::feed::like::Like;
use atmo_api::app::bsky::feed::post::{Post, PostEmbed};
use atmo_api::app::bsky::feed::repost::Repost;
use atmo_api::app::bsky::graph::{block::Block, follow::Follow};
use atmo_api::com::atproto::repo::{get_record, list_records};
use atmo_client::bsky::PostBuilder;
use atmo_client::richtext::RichText;
use atmo_client::{AtpAgent, Error, RecordRef};
use atmo_types::object::Record;
use atmo_types::{AtIdentifier, AtUri, Did, Nsid, RecordKey, Uri};
use atproto_tests::Pds;

use crate::logged_in;

/// A 1×1 transparent PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0dIDATx\xdac\x64\x60\xf8\x5f\x0f\x00\x02\x87\x01\x80\xeb\x47\xba\x92\x00\x00\x00\x00IEND\xaeB\x60\x82";

/// Reads back the record at `uri` as an `R`; `None` when it does not exist.
async fn read<R: Record>(agent: &AtpAgent, uri: &AtUri) -> Option<R> {
    let repo = AtIdentifier::new(uri.authority()).expect("repo");
    let rkey = RecordKey::new(uri.rkey().expect("rkey")).expect("rkey");
    match agent.get_record::<R>(repo, rkey).await {
        Ok(found) => Some(found.value),
        Err(Error::Api {
            error: get_record::Error::RecordNotFound(_),
            ..
        }) => None,
        Err(e) => panic!("getRecord {uri}: {e}"),
    }
}

fn did_of(agent: &AtpAgent) -> Did {
    agent.did().expect("logged in")
}

/// A post mentioning a real account and an unknown handle, with a link and a
/// tag: the mention resolves through the PDS to the account's DID, the
/// unknown one stays plain text, and `delete_post` removes it.
#[tokio::test(flavor = "multi_thread")]
async fn rich_text_post_resolves_mentions_through_the_pds() {
    let Some(pds) = Pds::shared() else { return };
    let (alice, _, _) = logged_in(pds, "rich").await;
    let (bob, _, bob_handle) = logged_in(pds, "ment").await;
    let text = format!("hi @{bob_handle} and @nobody-here.test, see atproto.com #rust");
    let written = alice
        .post_with(PostBuilder::new(text.clone()))
        .await
        .expect("post");
    assert_eq!(written.uri.authority(), did_of(&alice).as_str());
    let post: Post = read(&alice, &written.uri).await.expect("the post exists");
    assert_eq!(post.text, text);
    let rt = RichText::from_record(post.text.clone(), post.facets.as_deref().unwrap_or(&[]))
        .expect("facets fit the text");
    let mentions: Vec<(&str, &Did)> = rt
        .facets()
        .iter()
        .filter_map(|f| f.mention().map(|d| (&rt.text()[f.range()], d)))
        .collect();
    let bob_did = did_of(&bob);
    assert_eq!(mentions, [(format!("@{bob_handle}").as_str(), &bob_did)]);
    let links: Vec<&str> = rt
        .facets()
        .iter()
        .filter_map(|f| f.link())
        .map(Uri::as_str)
        .collect();
    assert_eq!(links, ["https://atproto.com"]);
    let tags: Vec<&str> = rt.facets().iter().filter_map(|f| f.tag()).collect();
    assert_eq!(tags, ["rust"]);

    alice.delete_post(&written.uri).await.expect("delete");
    assert!(
        read::<Post>(&alice, &written.uri).await.is_none(),
        "deleted"
    );
}

/// An uploaded PNG embeds with its alt text and aspect ratio; the stored
/// blob reference is the uploaded one.
#[tokio::test(flavor = "multi_thread")]
async fn image_post_with_an_uploaded_blob() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _, _) = logged_in(pds, "img").await;
    let blob = agent.upload_blob(PNG.to_vec()).await.expect("upload");
    assert_eq!(blob.mime_type(), "image/png");
    assert_eq!(blob.size(), Some(PNG.len() as u64));
    let written = agent
        .post_with(
            PostBuilder::new("a very small picture").image_with_aspect_ratio(
                blob.clone(),
                "one transparent pixel",
                1,
                1,
            ),
        )
        .await
        .expect("post with an image");
    let post: Post = read(&agent, &written.uri).await.expect("the post exists");
    match post.embed {
        Some(PostEmbed::Images(images)) => {
            assert_eq!(images.images.len(), 1);
            let image = &images.images[0];
            assert_eq!(image.alt, "one transparent pixel");
            assert_eq!(image.image.cid(), blob.cid());
            let ratio = image.aspect_ratio.as_ref().expect("aspect ratio");
            assert_eq!((ratio.width, ratio.height), (1, 1));
        }
        other => panic!("expected an images embed: {other:?}"),
    }
    agent.delete_post(&written.uri).await.expect("delete");
}

/// A reply by URI points at its parent, and a reply to that reply keeps the
/// first post as its root; a quote with media becomes recordWithMedia.
#[tokio::test(flavor = "multi_thread")]
async fn replies_keep_the_root_and_quotes_embed_the_record() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _, _) = logged_in(pds, "thread").await;
    let root = agent.post_with("the first post").await.expect("root");
    let first = agent
        .post_with(PostBuilder::new("a reply").reply_to(root.uri.clone()))
        .await
        .expect("reply");
    let second = agent
        .post_with(PostBuilder::new("a reply to the reply").reply_to(first.uri.clone()))
        .await
        .expect("reply to the reply");
    let post: Post = read(&agent, &second.uri).await.expect("exists");
    let reply = post.reply.expect("a reply");
    assert_eq!(reply.parent.uri, first.uri);
    assert_eq!(reply.parent.cid, first.cid);
    assert_eq!(reply.root.uri, root.uri);
    assert_eq!(reply.root.cid, root.cid);

    let blob = agent.upload_blob(PNG.to_vec()).await.expect("upload");
    let quote = agent
        .post_with(
            PostBuilder::new("quoting, with a picture")
                .quote(&root)
                .image(blob, "a pixel"),
        )
        .await
        .expect("quote");
    let post: Post = read(&agent, &quote.uri).await.expect("exists");
    match post.embed {
        Some(PostEmbed::RecordWithMedia(rwm)) => assert_eq!(rwm.record.record.uri, root.uri),
        other => panic!("expected recordWithMedia: {other:?}"),
    }
    for p in [&quote, &second, &first, &root] {
        agent.delete_post(&p.uri).await.expect("delete");
    }
}

/// Like, repost, follow and block each write their record in the signed-in
/// account's repository, about the right subject; each undo removes it.
#[tokio::test(flavor = "multi_thread")]
async fn interactions_create_their_records_and_undo_removes_them() {
    let Some(pds) = Pds::shared() else { return };
    let (alice, _, _) = logged_in(pds, "likes").await;
    let (bob, _, _) = logged_in(pds, "liked").await;
    let bobs_post = bob.post_with("like me").await.expect("bob posts");
    let bob_did = did_of(&bob);
    let me = did_of(&alice);

    let like = alice.like(&bobs_post).await.expect("like");
    assert_eq!(like.uri.authority(), me.as_str());
    let record: Like = read(&alice, &like.uri).await.expect("the like exists");
    assert_eq!(record.subject.uri, bobs_post.uri);
    assert_eq!(record.subject.cid, bobs_post.cid);
    alice.unlike(&like.uri).await.expect("unlike");
    assert!(read::<Like>(&alice, &like.uri).await.is_none());

    let repost = alice.repost(&bobs_post).await.expect("repost");
    let record: Repost = read(&alice, &repost.uri).await.expect("the repost exists");
    assert_eq!(record.subject.uri, bobs_post.uri);
    alice.unrepost(&repost.uri).await.expect("unrepost");
    assert!(read::<Repost>(&alice, &repost.uri).await.is_none());

    let follow = alice.follow(&bob_did).await.expect("follow");
    let record: Follow = read(&alice, &follow.uri).await.expect("the follow exists");
    assert_eq!(record.subject, bob_did);
    alice.unfollow(&follow.uri).await.expect("unfollow");
    assert!(read::<Follow>(&alice, &follow.uri).await.is_none());

    let block = alice.block(&bob_did).await.expect("block");
    let record: Block = read(&alice, &block.uri).await.expect("the block exists");
    assert_eq!(record.subject, bob_did);
    alice.unblock(&block.uri).await.expect("unblock");
    assert!(read::<Block>(&alice, &block.uri).await.is_none());

    // Bob's post is not Alice's to delete: refused before sending.
    assert!(matches!(
        alice.delete_post(&bobs_post.uri).await,
        Err(Error::Invalid(_))
    ));
    assert!(read::<Post>(&bob, &bobs_post.uri).await.is_some());
}

/// Two upserts at once, each changing its own field: one of them loses the
/// swap race, re-reads and retries, so both changes end up in the profile.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_profile_upserts_both_land() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _, _) = logged_in(pds, "upsert").await;
    let created = agent
        .upsert_profile(|p| p.display_name = Some("Before".into()))
        .await
        .expect("create the profile");
    let (a, b) = (agent.clone(), agent.clone());
    let (one, two) = tokio::join!(
        tokio::spawn(async move {
            a.upsert_profile(|p| p.display_name = Some("Alice".into()))
                .await
        }),
        tokio::spawn(async move {
            b.upsert_profile(|p| p.description = Some("Writes Rust".into()))
                .await
        }),
    );
    let one: RecordRef = one.unwrap().expect("first upsert");
    let two: RecordRef = two.unwrap().expect("second upsert");
    assert_ne!(one.cid, two.cid);
    assert_ne!(created.cid, one.cid);
    let me = agent.did().expect("did");
    let profile: Profile = read(
        &agent,
        &AtUri::new(format!("at://{me}/app.bsky.actor.profile/self")).unwrap(),
    )
    .await
    .expect("profile");
    assert_eq!(profile.display_name.as_deref(), Some("Alice"));
    assert_eq!(profile.description.as_deref(), Some("Writes Rust"));
}

/// A write that lands between the upsert's read and its write (made here
/// from inside the edit, on the first attempt) makes the PDS refuse the
/// upsert's write with InvalidSwap; the upsert reads again, edits the newer
/// profile and succeeds, keeping the other writer's change.
#[tokio::test(flavor = "multi_thread")]
async fn profile_upsert_retries_after_a_real_swap_conflict() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _, _) = logged_in(pds, "conflict").await;
    let other = agent.clone();
    let me = RecordKey::new("self").unwrap();
    let mut seen = Vec::new();
    agent
        .upsert_profile(|p| {
            seen.push(p.description.clone());
            if seen.len() == 1 {
                // Another writer, right now, between this read and this write.
                let interloper = Profile {
                    description: Some("written meanwhile".into()),
                    ..Default::default()
                };
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current()
                        .block_on(other.put_record(me.clone(), &interloper))
                })
                .expect("the other write");
            }
            p.display_name = Some("Upserted".into());
        })
        .await
        .expect("the upsert succeeds on its second attempt");
    assert_eq!(seen, [None, Some("written meanwhile".to_owned())]);
    let did = did_of(&agent);
    let profile: Profile = read(
        &agent,
        &AtUri::new(format!("at://{did}/app.bsky.actor.profile/self")).unwrap(),
    )
    .await
    .expect("profile");
    assert_eq!(profile.display_name.as_deref(), Some("Upserted"));
    assert_eq!(profile.description.as_deref(), Some("written meanwhile"));
}

/// `paginate` over `com.atproto.repo.listRecords` (served by the PDS
/// itself): five posts in pages of two come back newest first, each
/// exactly once, and the walk stops where the PDS stops naming a cursor.
#[tokio::test(flavor = "multi_thread")]
async fn paginate_walks_a_repository_collection() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _, _) = logged_in(pds, "pages").await;
    let mut written = Vec::new();
    for i in 0..5 {
        written.push(
            agent
                .post_with(format!("post {i}"))
                .await
                .expect("post")
                .uri,
        );
    }
    let params = list_records::Parameters {
        repo: AtIdentifier::from(did_of(&agent)),
        collection: Nsid::new("app.bsky.feed.post").unwrap(),
        limit: 2,
        cursor: None,
        reverse: None,
    };
    let mut items = agent.paginate::<list_records::ListRecords>(params).items();
    let mut seen = Vec::new();
    while let Some(record) = items.next().await {
        seen.push(record.expect("a page").uri);
    }
    written.reverse();
    assert_eq!(seen, written);
    // The PDS names a cursor after every non-empty page, so the walk ends
    // on an empty fourth page without one.
    assert_eq!(items.pages_received(), 4);
}

/// Typed listing against the real PDS: five posts read back as `Post`s
/// with `list_records` one page of two at a time (following the cursor
/// by hand), and with `paginate_records` across every page; both newest
/// first, each post once, with its text.
#[tokio::test(flavor = "multi_thread")]
async fn list_records_and_paginate_records_read_typed_posts() {
    use atmo_client::ListOptions;

    let Some(pds) = Pds::shared() else { return };
    let (agent, _, _) = logged_in(pds, "typed").await;
    let mut written = Vec::new();
    for i in 0..5 {
        let text = format!("typed post {i}");
        let r = agent.post(text.clone()).await.expect("post");
        written.push((r.uri, text));
    }
    written.reverse();
    let repo = AtIdentifier::from(did_of(&agent));

    // Page by page, by hand.
    let mut by_hand = Vec::new();
    let mut options = ListOptions::new().limit(2);
    let mut pages = 0;
    loop {
        let page = agent
            .list_records::<Post>(repo.clone(), options.clone())
            .await
            .expect("listRecords");
        pages += 1;
        assert!(page.records.len() <= 2, "limit respected");
        assert!(page.invalid.is_empty(), "{:?}", page.invalid);
        by_hand.extend(page.records.into_iter().map(|r| (r.uri, r.value.text)));
        match page.cursor {
            Some(c) if pages < 10 => options = options.cursor(c),
            _ => break,
        }
    }
    assert_eq!(by_hand, written);

    // The same walk as a stream of typed records.
    let mut items = agent
        .paginate_records::<Post>(repo.clone(), ListOptions::new().limit(2))
        .items();
    let mut streamed = Vec::new();
    while let Some(record) = items.next().await {
        let record = record.expect("a post");
        assert!(record.cid.is_some());
        streamed.push((record.uri, record.value.text));
    }
    assert_eq!(streamed, written);
    assert!(items.pages_received() >= 3, "{}", items.pages_received());

    // Oldest first.
    let oldest = agent
        .list_records::<Post>(repo, ListOptions::new().limit(1).reverse(true))
        .await
        .expect("listRecords reversed");
    assert_eq!(oldest.records[0].value.text, "typed post 0");
}
