//! What the end-to-end firehose tests check in every commit of their test
//! account.

use atmo_api::app::bsky::feed::post::Post;
use atmo_stream::{Action, Check, CommitEvent};

/// Checks a commit of the test account `did`: verified (only the account's
/// first commit, which writes no post, may lack a `prevData` to prove),
/// every created or updated record a post whose text starts with `prefix`,
/// every delete without a record. Returns its ops as `(action, path)` when
/// the commit writes posts, `None` for the account's other commits.
pub fn post_writes(c: &CommitEvent, did: &str, prefix: &str) -> Option<Vec<(String, String)>> {
    let writes_posts =
        !c.ops.is_empty() && c.ops.iter().all(|o| o.collection == "app.bsky.feed.post");
    match &c.check {
        Some(Check::Valid) => {}
        Some(Check::Resync(_)) if !writes_posts => {}
        other => panic!("commit {} of {did}: {other:?}", c.commit.seq),
    }
    for op in &c.ops {
        match op.action {
            Action::Create | Action::Update => {
                let post: Post = op
                    .decode()
                    .expect("a create or update carries its record")
                    .expect("the record decodes as a post");
                assert!(post.text.starts_with(prefix), "{}", post.text);
            }
            Action::Delete => assert!(op.record_bytes().is_none()),
            Action::Other(ref a) => panic!("unexpected action {a}"),
        }
    }
    writes_posts.then(|| {
        c.ops
            .iter()
            .map(|o| (o.action.to_string(), o.path()))
            .collect()
    })
}
