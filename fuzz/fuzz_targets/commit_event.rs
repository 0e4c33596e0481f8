//! Event-stream frames on arbitrary bytes: read the frame, decode a
//! `#commit` body as the generated type and run the whole Sync 1.1 check
//! (CAR slice, commit, undo of the ops to prevData). An error or a
//! verdict, never a panic.
#![no_main]

use atmo_api::com::atproto::sync::subscribe_repos::Commit;
use atmo_sync::event::{check_commit_event, decode_body, read_frame, CommitEvent, Frame};
use atmo_sync::tree::Op;
use atmo_sync::{Cid, RepoState};
use libfuzzer_sys::fuzz_target;

fn cid(link: &atmo_types::CidLink) -> Option<Cid> {
    link.cid().as_str().parse().ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(Frame::Message { t: "#commit", body }) = read_frame(data) else {
        return;
    };
    let Ok(c) = decode_body::<Commit>(body) else {
        return;
    };
    let Some(commit) = cid(&c.commit) else {
        return;
    };
    let event = CommitEvent {
        repo: c.repo.as_str(),
        rev: c.rev.as_str(),
        since: c.since.as_ref().map(|t| t.as_str()),
        commit,
        blocks: &c.blocks.0,
        ops: c
            .ops
            .iter()
            .map(|o| Op {
                path: o.path.clone(),
                cid: o.cid.as_ref().and_then(cid),
                prev: o.prev.as_ref().and_then(cid),
            })
            .collect(),
        prev_data: c.prev_data.as_ref().and_then(cid),
    };
    let state = event.prev_data.map(|data| RepoState {
        rev: "2222222222222".into(),
        data,
    });
    let _ = check_commit_event(&event, state.as_ref());
});
