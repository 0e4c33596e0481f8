#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The labeler with the real reference PDS (tests/pds): it labels a post
//! it reads on the PDS's firehose; its did:web resolves through the
//! library's identity resolver and the label's signature verifies against
//! the `#atproto_label` key found there; subscribeLabels read with
//! atmo-stream's `Subscriber` (the client with reconnects and cursors)
//! carries it; and a client reaches queryLabels THROUGH the PDS with
//! `atproto-proxy: <labeler did>#atproto_labeler`.
//!
//! Skipped with a notice when the PDS is not installed; fails instead under
//! `ATPROTO_E2E=required`.

use std::time::{Duration, Instant};

use atmo_api::com::atproto::label::{query_labels, subscribe_labels};
use atmo_client::bsky::PostBuilder;
use atmo_client::AtpAgent;
use atmo_crypto::Curve;
use atmo_server::SigningKey;
use atmo_stream::labels::{label_key, verify_label};
use atmo_stream::subscription::SubscribeLabels;
use atmo_stream::Subscriber;
use atproto_tests::{new_account_input, unique_handle, Pds};
use labeler_example::{label_firehose, router, Labeler};

#[tokio::test(flavor = "multi_thread")]
async fn labels_firehose_posts_and_answers_through_the_pds() {
    let Some(pds) = Pds::shared() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let did = format!("did:web:localhost%3A{port}");
    let labeler = Labeler::new(
        did.parse().unwrap(),
        SigningKey::generate(Curve::K256).unwrap(),
        &format!("http://localhost:{port}"),
    );
    let app = router(labeler.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let term = format!("squid{}", std::process::id());
    let firehose = pds.url.replacen("http://", "ws://", 1);
    let for_firehose = labeler.clone();
    let t = term.clone();
    tokio::spawn(async move {
        if let Err(e) = label_firehose(&firehose, true, &t, "squid-post", for_firehose).await {
            eprintln!("firehose: {e}");
        }
    });

    let agent = AtpAgent::builder(&pds.url).build().unwrap();
    let handle = unique_handle("labl");
    agent
        .create_account(new_account_input(&handle, "correct-horse-battery"))
        .await
        .unwrap();
    agent
        .post_with(PostBuilder::new("not this one"))
        .await
        .unwrap();
    let post = agent
        .post_with(PostBuilder::new(format!("a {term} post")))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while labeler.head() == 0 {
        assert!(Instant::now() < deadline, "the post was never labelled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(labeler.head(), 1);

    // The key from the labeler's DID document, as any consumer finds it.
    let doc = pds.resolver().resolve_did(&did).await.unwrap();
    let key = label_key(&doc).unwrap();

    // subscribeLabels from the start, with the library's client.
    let mut sub = Subscriber::<SubscribeLabels>::builder(format!("http://127.0.0.1:{port}"))
        .allow_insecure_http(true)
        .cursor(Some(0))
        .build()
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a frame within 10 s")
        .expect("the stream is open")
        .unwrap();
    let subscribe_labels::Message::Labels(labels) = message else {
        panic!("expected #labels, got {message:?}");
    };
    assert_eq!(labels.seq, 1);
    let label = &labels.labels[0];
    assert_eq!(label.uri.as_str(), post.uri.as_str());
    assert_eq!(
        label.cid.as_ref().map(|c| c.to_string()),
        Some(post.cid.to_string())
    );
    assert_eq!(label.val, "squid-post");
    verify_label(label, &key).unwrap();

    // queryLabels through the PDS, proxied to the labeler's service entry.
    let out = agent
        .with_proxy(&did, "atproto_labeler")
        .call::<query_labels::QueryLabels>(
            query_labels::Parameters::new(vec![post.uri.to_string()]),
            (),
        )
        .await
        .unwrap_or_else(|e| panic!("queryLabels through the PDS: {e:?}"));
    assert_eq!(out.labels.len(), 1);
    verify_label(&out.labels[0], &key).unwrap();
    assert_eq!(&out.labels[0], label);
}
