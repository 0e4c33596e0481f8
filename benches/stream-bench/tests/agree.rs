//! The corpus has the shapes it claims, every commit in it passes the full
//! check, and every party decodes it to the same ops, records and post
//! text. Run with `--release` (the generator signs 10,000 commits).

use std::collections::{BTreeMap, HashMap};

use atmo_api::app::bsky::feed::post::{Post, PostEmbed};
use atmo_stream::{Action, RepoEvent};
use stream_bench::decode::{ours, Tally};
use stream_bench::{corpus, decode_all, PARTIES};

const FRAMES: usize = 10_000;

#[test]
fn corpus_has_the_shapes_of_the_firehose() {
    let c = corpus(FRAMES);
    assert_eq!(c.frames.len(), FRAMES);
    assert_eq!(c.frames, corpus(FRAMES).frames, "deterministic");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut bump = |k: &str| *seen.entry(k.to_owned()).or_default() += 1;
    for f in &c.frames {
        match ours::event(f).unwrap() {
            RepoEvent::Commit(commit) => {
                bump("#commit");
                assert!(commit.prev_data.is_some());
                for op in &commit.ops {
                    bump(&format!("{} {}", op.action, op.collection));
                    if op.action == Action::Delete {
                        assert!(op.record_bytes().is_none() && op.prev.is_some());
                        continue;
                    }
                    if op.collection != "app.bsky.feed.post" {
                        continue;
                    }
                    let post: Post = op.decode().unwrap().unwrap();
                    if post.facets.is_some() {
                        bump("post with facets");
                    }
                    if post.reply.is_some() {
                        bump("reply");
                    }
                    if let Some(e) = &post.embed {
                        bump(match e {
                            PostEmbed::Images(_) => "embed images",
                            PostEmbed::External(_) => "embed external",
                            PostEmbed::Record(_) => "embed record",
                            PostEmbed::RecordWithMedia(_) => "embed recordWithMedia",
                            other => panic!("unexpected embed {other:?}"),
                        });
                    }
                }
            }
            RepoEvent::Identity(_) => bump("#identity"),
            RepoEvent::Account(_) => bump("#account"),
            RepoEvent::Sync(_) => bump("#sync"),
            other => panic!("unexpected {other:?}"),
        }
    }
    println!("{seen:#?}");
    for shape in [
        "#commit",
        "#identity",
        "#account",
        "#sync",
        "create app.bsky.feed.post",
        "create app.bsky.feed.like",
        "create app.bsky.feed.repost",
        "create app.bsky.graph.follow",
        "create xyz.statusphere.status",
        "update app.bsky.actor.profile",
        "delete app.bsky.feed.like",
        "delete app.bsky.feed.post",
        "post with facets",
        "reply",
        "embed images",
        "embed external",
        "embed record",
        "embed recordWithMedia",
    ] {
        assert!(
            seen.get(shape).copied().unwrap_or(0) >= 5,
            "{shape}: {seen:?}"
        );
    }
}

#[test]
fn every_commit_verifies() {
    let c = corpus(FRAMES);
    let t = decode_all(&c.frames, |f, t| ours::verify(f, &c.keys, t))
        .unwrap_or_else(|(i, e)| panic!("frame {i}: {e}"));
    assert_eq!(t.frames, FRAMES);
    assert!(t.commits > FRAMES * 9 / 10);
    // Each repository's commits checked with another repository's key fail.
    let dids: Vec<&String> = c.keys.keys().collect();
    let wrong: HashMap<String, _> = dids
        .iter()
        .enumerate()
        .map(|(i, d)| ((*d).clone(), c.keys[dids[(i + 1) % dids.len()]]))
        .collect();
    let fails = c
        .frames
        .iter()
        .filter(|f| ours::verify(f, &wrong, &mut Tally::default()).is_err())
        .count();
    assert!(
        fails >= t.commits,
        "{fails} refused of {} commits",
        t.commits
    );
}

#[test]
fn every_party_reads_the_same() {
    let c = corpus(FRAMES);
    let tallies: Vec<(&str, Tally)> = PARTIES
        .iter()
        .map(|(name, d)| {
            let t =
                decode_all(&c.frames, d).unwrap_or_else(|(i, e)| panic!("{name}, frame {i}: {e}"));
            (*name, t)
        })
        .collect();
    let (_, ours) = tallies[0];
    assert_eq!(ours.frames, FRAMES);
    assert!(ours.records > FRAMES / 2 && ours.posts > FRAMES / 5 && ours.text_bytes > 0);
    assert!(ours.others > 0);
    assert_eq!(ours.fallbacks, 0, "ours decodes every record typed");
    for (name, t) in &tallies {
        assert_eq!(t.work(), ours, "{name}");
    }
}
