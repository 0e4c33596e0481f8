//! CAR files and whole repositories on arbitrary bytes: an error or a
//! repository, never a panic; every listed record's block hashes to its CID.
#![no_main]

use atproto_sync::{Car, Repo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Car::from_bytes(data);
    if let Ok(repo) = Repo::from_car(data) {
        for r in repo.records() {
            if let Some(b) = r.bytes {
                assert!(r.cid.matches(b));
                let _ = r.value();
            }
        }
    }
});
