//! The MST walk on arbitrary node sets: the input is a list of blocks (a
//! 2-byte big-endian length, then the bytes), the first being the root.
//! Never a panic; keys come out strictly increasing.
#![no_main]

use std::collections::HashMap;

use atmo_sync::{mst, Cid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut blocks: HashMap<Cid, &[u8]> = HashMap::new();
    let mut root = None;
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + n).min(rest.len());
        let block = &rest[2..end];
        let cid = Cid::for_dag_cbor(block);
        root.get_or_insert(cid);
        blocks.insert(cid, block);
        rest = &rest[end..];
    }
    let Some(root) = root else {
        return;
    };
    let mut last: Option<String> = None;
    let _ = mst::walk(
        root,
        |c| blocks.get(c).copied(),
        |k, _| {
            if let Some(prev) = &last {
                assert!(prev.as_str() < k);
            }
            last = Some(k.to_owned());
            Ok(())
        },
    );
});
