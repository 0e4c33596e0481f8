//! What the end-to-end tests share: a feed generator on a free loopback
//! port, indexing a harness PDS's firehose.
#![allow(dead_code)]

use std::sync::Arc;

use atmo_server::ServiceAuthVerifier;
use feed_generator_example::{
    did_document, did_web, endpoint_of, index_firehose, router, AppState, Index, Rule,
};

/// A feed generator for `owner`'s feed `rkey`, on a free loopback port,
/// indexing `firehose`; returns its did:web and index.
pub async fn start_feedgen(
    resolver: atmo_identity::Resolver,
    firehose: String,
    owner: &str,
    rkey: &str,
    term: &str,
) -> (String, Arc<Index>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("localhost:{}", listener.local_addr().unwrap().port());
    let did = did_web(&host);
    let verifier = ServiceAuthVerifier::new(&did, resolver)
        .unwrap()
        .audience_fragments(["bsky_fg"]);
    let index = Arc::new(Index::new(1000));
    let state = AppState {
        index: index.clone(),
        verifier,
        feed: format!("at://{owner}/app.bsky.feed.generator/{rkey}")
            .parse()
            .unwrap(),
        did_document: Arc::new(did_document(&did, &endpoint_of(&host))),
    };
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let rule = Rule::contains(term).unwrap();
    let for_firehose = index.clone();
    tokio::spawn(async move {
        if let Err(e) = index_firehose(&firehose, true, rule, for_firehose).await {
            eprintln!("firehose: {e}");
        }
    });
    (did, index)
}

/// `http://host` → `ws://host`.
pub fn ws_of(url: &str) -> String {
    url.replacen("http://", "ws://", 1)
}
