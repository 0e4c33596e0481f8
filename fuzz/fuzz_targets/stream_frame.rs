//! Event-stream frames on arbitrary bytes through atproto-stream's typed
//! decoding: `subscribeRepos` and `subscribeLabels` messages, error frames,
//! the frame cap, and opening a decoded `#commit` (CAR slice, records).
//! An error or a value, never a panic.
#![no_main]

use atproto_stream::frame::decode_header;
use atproto_stream::{decode_frame, Frame, RepoEvent, SubscribeLabels, SubscribeRepos, Subscription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A cap inside the input's size too, so both sides of it are reached.
    let cap = data.first().map_or(0, |b| *b as usize * 64);
    for max in [atproto_stream::DEFAULT_MAX_FRAME_SIZE, cap] {
        let _ = decode_header(data, max);
        match decode_frame::<SubscribeRepos>(data, max) {
            Ok(Frame::Message(m)) => {
                let _ = SubscribeRepos::seq(&m);
                if let Ok(RepoEvent::Commit(c)) = RepoEvent::from_message(m) {
                    for op in &c.ops {
                        let _ = op.record_json();
                        let _ = op.path();
                    }
                }
            }
            Ok(Frame::Error(e)) => {
                let _ = e.typed::<SubscribeRepos>();
                let _ = e.to_string();
            }
            Ok(Frame::UnknownOp(_)) => {}
            Err(e) => {
                let _ = e.to_string();
                let _ = e.seq();
            }
        }
        if let Ok(Frame::Message(m)) = decode_frame::<SubscribeLabels>(data, max) {
            let _ = SubscribeLabels::seq(&m);
        }
    }
});
