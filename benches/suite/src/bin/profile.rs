//! `profile PARTY [N]`: decodes the timeline N times (default 200) into one
//! party's types, for a profiler (`valgrind --tool=callgrind`, `perf record`).
//! PARTY: ours, atrium, jacquard, value; `ours-encode`/`value-encode` encode.

use bench_suite::*;
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let party = args.next().unwrap_or_else(|| "ours".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    if party == "sizes" {
        use atmo_api::app::bsky::{actor::defs as actor, feed::defs as feed};
        use std::mem::size_of;
        println!("ours FeedViewPost {} PostView {} ProfileViewBasic {} ReplyRef {} Value {} AtUri {} Uri {} Datetime {} Cid {} Did {}",
            size_of::<feed::FeedViewPost>(), size_of::<feed::PostView>(), size_of::<actor::ProfileViewBasic>(),
            size_of::<feed::ReplyRef>(), size_of::<serde_json::Value>(), size_of::<atmo_types::AtUri>(),
            size_of::<atmo_types::Uri>(), size_of::<atmo_types::Datetime>(), size_of::<atmo_types::Cid>(), size_of::<atmo_types::Did>());
        println!(
            "atrium FeedViewPost {} PostView {}",
            size_of::<atrium_api::app::bsky::feed::defs::FeedViewPost>(),
            size_of::<atrium_api::app::bsky::feed::defs::PostView>()
        );
        println!(
            "jacquard FeedViewPost {}",
            size_of::<jacquard_api::app_bsky::feed::FeedViewPost<jacquard_common::CowStr<'static>>>(
            )
        );
        return;
    }
    for _ in 0..n {
        match party.as_str() {
            "ours" => drop(black_box(
                serde_json::from_str::<ours::Timeline>(black_box(TIMELINE)).unwrap(),
            )),
            "atrium" => drop(black_box(
                serde_json::from_str::<atrium::Timeline>(black_box(TIMELINE)).unwrap(),
            )),
            "jacquard" => drop(black_box(
                serde_json::from_str::<jacquard::Timeline>(black_box(TIMELINE)).unwrap(),
            )),
            "value" => drop(black_box(
                serde_json::from_str::<value::Timeline>(black_box(TIMELINE)).unwrap(),
            )),
            "ours-encode" | "value-encode" => {
                thread_local! { static V: (ours::Timeline, value::Timeline) = (serde_json::from_str(TIMELINE).unwrap(), serde_json::from_str(TIMELINE).unwrap()); }
                V.with(|v| {
                    let s = if party == "ours-encode" {
                        serde_json::to_vec(&v.0)
                    } else {
                        serde_json::to_vec(&v.1)
                    };
                    black_box(s.unwrap());
                });
            }
            other => panic!("unknown party {other}"),
        }
    }
}
