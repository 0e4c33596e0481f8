#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The labeler with the real AppView (tests/appview: PLC, PDS, AppView
//! from `@atproto/dev-env`): a label the example labeler issues on a post
//! reaches the AppView, which shows it on the post's view for a client
//! that accepts the labeler (`atproto-accept-labelers`), and its signature
//! verifies against the `#atproto_label` key of the labeler's did:web
//! document, resolved through atmo-identity.
//!
//! The npm AppView has no label ingester; the harness's external label
//! bridge (test-harness code in tests/appview/start.mjs) stands in for
//! production's: it subscribes to the labeler's subscribeLabels and writes
//! the labels into the AppView's `label` table. That table has no column
//! for `sig`, and the AppView drops `sig` from its views and its own
//! queryLabels, so the signature is checked twice: on the label fetched
//! back from the labeler through the PDS (`atproto-proxy: <labeler
//! did>#atproto_labeler`), and over exactly the fields the AppView showed,
//! which proves the AppView's label is the one the labeler signed.
//!
//! Skipped with a notice when the harness is not installed; fails instead
//! under `ATPROTO_E2E=required`.

use std::sync::Arc;
use std::time::Duration;

use atmo_api::app::bsky::feed::get_posts::{self, GetPosts};
use atmo_api::com::atproto::label::defs::Label;
use atmo_api::com::atproto::label::query_labels::{self, QueryLabels};
use atmo_client::bsky::PostBuilder;
use atmo_client::{AtpAgent, LocalDev};
use atmo_crypto::Curve;
use atmo_server::SigningKey;
use atmo_stream::labels::{label_key, label_signing_bytes};
use atproto_tests::appview::{eventually, AppView};
use atproto_tests::{new_account_input, unique_handle};
use labeler_example::{router, Labeler};

/// Verifies `label`'s `sig` with atmo-crypto against `key`, over the
/// label's DAG-CBOR without `sig`.
fn verify(label: &Label, key: &atmo_crypto::PublicKey) {
    let sig = label.sig.as_ref().expect("the label carries sig");
    let bytes = label_signing_bytes(label).unwrap();
    key.verify(&bytes, &sig.0)
        .unwrap_or_else(|e| panic!("the signature of {label:?} does not verify: {e}"));
}

/// The labels `src` put on `uri`'s post view, as the AppView shows them to
/// a client accepting that labeler.
async fn view_labels(agent: &AtpAgent, uri: &str, src: &str) -> Option<Vec<Label>> {
    let out = agent
        .with_accept_labelers([src])
        .call::<GetPosts>(get_posts::Parameters::new(vec![uri.parse().unwrap()]), ())
        .await
        .unwrap_or_else(|e| panic!("getPosts: {e:?}"));
    // Until the AppView has indexed the post, it leaves it out.
    let post = out.posts.into_iter().next()?;
    Some(
        post.labels
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.src.as_str() == src)
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_labelers_labels_reach_the_appview_and_their_signatures_verify() {
    let Some(net) = AppView::shared() else { return };

    // The labeler, its did:web on this loopback port.
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
    net.ingest_labeler(&did, &format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();

    let agent = AtpAgent::builder(&net.pds).build().unwrap();
    let handle = unique_handle("lbav");
    agent
        .create_account(new_account_input(&handle, "correct-horse-battery"))
        .await
        .unwrap();
    let post = agent
        .post_with(PostBuilder::new("a squid, for the labeler"))
        .await
        .unwrap();
    let uri = post.uri.to_string();
    let (_, issued) = labeler
        .emit(&uri, Some(post.cid.clone()), "squid-post", false)
        .unwrap();

    // The label on the AppView's view of the post.
    let shown = eventually(
        "the label on the AppView's post view",
        Duration::from_secs(30),
        || {
            let agent = agent.clone();
            let uri = uri.clone();
            let did = did.clone();
            async move {
                view_labels(&agent, &uri, &did)
                    .await
                    .filter(|l| !l.is_empty())
            }
        },
    )
    .await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    let shown = &shown[0];
    assert_eq!(shown.src.as_str(), did);
    assert_eq!(shown.uri.as_str(), uri);
    assert_eq!(
        shown.cid.as_ref().map(|c| c.to_string()),
        Some(post.cid.to_string())
    );
    assert_eq!(shown.val, "squid-post");
    assert_eq!(shown.cts, issued.cts);
    assert_eq!(shown.neg, None);

    // The labeler's key, from its DID document, as any consumer finds it.
    let http = Arc::new(atmo_xrpc::HyperClient::new().unwrap());
    let resolver = LocalDev::new(&net.pds, &net.plc)
        .resolver_builder(http)
        .build()
        .unwrap();
    let doc = resolver.resolve_did(&did).await.unwrap();
    let key = label_key(&doc).unwrap();

    // The signed label, from the labeler through the PDS.
    let signed = agent
        .with_proxy(&did, "atproto_labeler")
        .call::<QueryLabels>(query_labels::Parameters::new(vec![uri.clone()]), ())
        .await
        .unwrap_or_else(|e| panic!("queryLabels through the PDS: {e:?}"));
    assert_eq!(signed.labels.len(), 1);
    let signed = &signed.labels[0];
    verify(signed, &key);
    assert_eq!(signed, &issued);

    // The AppView drops `sig` (its label table has no column for it); the
    // labeler's signature verifies over exactly what the AppView shows.
    match &shown.sig {
        Some(_) => verify(shown, &key),
        None => {
            let mut as_shown = shown.clone();
            as_shown.ver = as_shown.ver.or(Some(1));
            as_shown.sig = signed.sig.clone();
            verify(&as_shown, &key);
        }
    }
    // A label the labeler did not sign would not verify: the check is real.
    let mut forged = signed.clone();
    forged.val = "not-squid".into();
    let bytes = label_signing_bytes(&forged).unwrap();
    assert!(key.verify(&bytes, &forged.sig.as_ref().unwrap().0).is_err());

    // The AppView's own queryLabels serves it too (without `sig`).
    let mut params = query_labels::Parameters::new(vec![uri.clone()]);
    params.sources = Some(vec![did.parse().unwrap()]);
    let from_appview = agent
        .with_proxy(&net.appview_did, "bsky_appview")
        .call::<QueryLabels>(params, ())
        .await
        .unwrap_or_else(|e| panic!("queryLabels on the AppView: {e:?}"));
    assert_eq!(from_appview.labels.len(), 1, "{from_appview:?}");
    assert_eq!(from_appview.labels[0].val, "squid-post");
    assert_eq!(from_appview.labels[0].cts, issued.cts);

    // A negation removes it from the view.
    labeler
        .emit(&uri, Some(post.cid.clone()), "squid-post", true)
        .unwrap();
    eventually(
        "the negated label gone from the view",
        Duration::from_secs(30),
        || {
            let agent = agent.clone();
            let uri = uri.clone();
            let did = did.clone();
            async move {
                view_labels(&agent, &uri, &did)
                    .await
                    .filter(|l| l.is_empty())
            }
        },
    )
    .await;
}
