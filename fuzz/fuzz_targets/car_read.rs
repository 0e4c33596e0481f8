//! CAR files and whole repositories on arbitrary bytes: an error or a
//! repository, never a panic; every listed record's block hashes to its CID;
//! reading the blocks unchecked and checking each gives what the checked
//! reader gives.
#![no_main]

use atmo_sync::car::{read_car, CarLimits};
use atmo_sync::{Car, Repo};
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
    if let (Ok((_, checked)), Ok((_, unchecked))) = (
        read_car(data, CarLimits::default()),
        read_car(data, CarLimits::default()),
    ) {
        let unchecked = unchecked.unchecked();
        for (c, u) in checked.zip(unchecked) {
            match (c, u.and_then(|u| u.check())) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("checked {a:?} vs unchecked {b:?}"),
            }
        }
    }
});
