//! Event-stream frames on arbitrary bytes through atmo-stream's typed
//! decoding: `subscribeRepos` and `subscribeLabels` messages, error frames,
//! the frame cap, and opening a decoded `#commit` (CAR slice, records).
//! An error or a value, never a panic. The typed reader and atmo-sync's
//! untyped `read_frame_with` share the frame rules, so they must agree on
//! the cap, the header, error frames and unknown ops.
#![no_main]

use atmo_stream::frame::{decode_header, Part};
use atmo_stream::{
    decode_frame, Frame, FrameError, RepoEvent, SubscribeLabels, SubscribeRepos, Subscription,
};
use atmo_sync::event::{read_frame_with, Frame as RawFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A cap inside the input's size too, so both sides of it are reached.
    let cap = data.first().map_or(0, |b| *b as usize * 64);
    for max in [atmo_stream::DEFAULT_MAX_FRAME_SIZE, cap] {
        let _ = decode_header(data, max);
        let typed = decode_frame::<SubscribeRepos>(data, max);
        let raw = read_frame_with(data, max);
        match (&typed, &raw) {
            (
                Err(
                    e @ (FrameError::TooLarge { .. }
                    | FrameError::Decode {
                        part: Part::Header, ..
                    }
                    | FrameError::Shape {
                        part: Part::Header, ..
                    }),
                ),
                r,
            ) => assert_eq!(r.as_ref().err(), Some(e), "header verdicts differ"),
            (Ok(Frame::UnknownOp(op)), r) => {
                assert_eq!(r, &Ok(RawFrame::Unknown { op: *op }))
            }
            (Ok(Frame::Error(e)), Ok(RawFrame::Error { error, message })) => {
                assert_eq!((&e.error, &e.message), (error, message))
            }
            (Ok(Frame::Error(_)), r) => panic!("typed error frame, untyped {r:?}"),
            // A body the typed decoder takes is valid DAG-CBOR.
            (Ok(Frame::Message(_)), Err(e)) => panic!("typed message, untyped {e}"),
            _ => {}
        }
        match typed {
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
