//! A repository read back from the PDS (`com.atproto.sync.getRepo`) with
//! atmo-sync: the walk lists exactly the records written through the
//! agent, each record's computed CID is the one `createRecord` returned,
//! the tree rebuilt from the keys has the commit's root, and the commit's
//! signature verifies against the account's signing key; undoing later
//! writes on the server's new tree gives the old root (the Sync 1.1 check).

use std::collections::BTreeMap;

use atmo_api::app::bsky::feed::post::Post;
use atmo_client::{CallOptions, Method};
use atmo_sync::tree::{invert_ops, Op};
use atmo_sync::{mst, Cid, Repo};
use atproto_tests::Pds;

use crate::logged_in;

#[tokio::test(flavor = "multi_thread")]
async fn get_repo_walks_to_the_records_written() {
    let Some(pds) = Pds::shared() else {
        return;
    };
    let (agent, _, _) = logged_in(pds, "sync").await;
    let did = agent.did().expect("signed in").to_string();

    // Write some posts, then delete one, so the tree has seen a removal.
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..12 {
        let r = agent
            .post(format!("post {i} from the sync test ✓"))
            .await
            .unwrap_or_else(|e| panic!("post {i}: {e}"));
        let rkey = r.uri.as_str().rsplit('/').next().unwrap().to_owned();
        written.insert(rkey, r.cid.as_str().to_owned());
    }
    let (gone, _) = written.pop_first().unwrap();
    agent
        .delete_record::<Post>(atmo_types::RecordKey::new(gone.clone()).unwrap())
        .await
        .unwrap();

    let car = agent
        .call_raw(
            "com.atproto.sync.getRepo",
            Method::Query,
            &[("did", did.as_str())],
            None,
            &CallOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("getRepo: {e}"));
    let repo = Repo::from_car(&car.bytes).unwrap_or_else(|e| panic!("reading the repository: {e}"));
    assert_eq!(repo.commit().did, did);

    // Exactly the posts written, with the CIDs the server returned.
    let listed: BTreeMap<String, String> = repo
        .records()
        .map(|r| {
            assert_eq!(
                r.collection, "app.bsky.feed.post",
                "unexpected record {r:?}"
            );
            let bytes = r.bytes.expect("getRepo carries every record block");
            assert_eq!(Cid::for_dag_cbor(bytes), r.cid);
            (r.rkey.to_owned(), r.cid.to_string())
        })
        .collect();
    assert_eq!(listed, written);
    assert!(!listed.contains_key(&gone));

    // Typed records, the same text that was posted.
    for (rkey, post) in repo.typed::<Post>() {
        let post = post.unwrap_or_else(|e| panic!("{rkey}: {e}"));
        assert!(post.text.ends_with("from the sync test ✓"), "{}", post.text);
    }

    // The reference implementation's tree is the one our builder makes.
    let keys: Vec<(String, Cid)> = repo
        .records()
        .map(|r| (format!("{}/{}", r.collection, r.rkey), r.cid))
        .collect();
    let refs: Vec<(&str, Cid)> = keys.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    assert_eq!(mst::build(&refs, |_, _| {}), repo.commit().data);

    // The commit is signed by the account's key.
    let creds = agent
        .query_json("com.atproto.identity.getRecommendedDidCredentials", &[])
        .await
        .unwrap_or_else(|e| panic!("getRecommendedDidCredentials: {e}"));
    let key = creds["verificationMethods"]["atproto"]
        .as_str()
        .expect("an atproto signing key");
    let key = atmo_crypto::PublicKey::from_did_key(key).unwrap();
    repo.commit()
        .verify(&key)
        .unwrap_or_else(|e| panic!("commit signature: {e}"));

    // Sync 1.1: undoing the next writes on the server's new tree gives the
    // root before them.
    let before = repo.commit().data;
    let added = agent.post("one more").await.unwrap();
    let (removed, removed_cid) = written.pop_last().unwrap();
    agent
        .delete_record::<Post>(atmo_types::RecordKey::new(removed.clone()).unwrap())
        .await
        .unwrap();
    let car = agent
        .call_raw(
            "com.atproto.sync.getRepo",
            Method::Query,
            &[("did", did.as_str())],
            None,
            &CallOptions::default(),
        )
        .await
        .unwrap();
    let after = Repo::from_car(&car.bytes).unwrap();
    let added_key = format!(
        "app.bsky.feed.post/{}",
        added.uri.as_str().rsplit('/').next().unwrap()
    );
    let ops = [
        Op {
            path: added_key,
            cid: Some(added.cid.as_str().parse().unwrap()),
            prev: None,
        },
        Op {
            path: format!("app.bsky.feed.post/{removed}"),
            cid: None,
            prev: Some(removed_cid.parse().unwrap()),
        },
    ];
    let blocks = |c: &Cid| after.car().get(c);
    assert_eq!(
        invert_ops(after.commit().data, &blocks, &ops).unwrap(),
        before
    );
}
