//! The session-file loader (`FileStore::parse`, what `FileStore::load`
//! applies to the file): a clear error or a session, never a panic; a
//! session that parses saves and parses back to itself.
#![no_main]

use atmo_client::FileStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(session) = FileStore::parse(data) {
        let json = serde_json::to_vec_pretty(&session).expect("a session serializes");
        let again = FileStore::parse(&json).expect("a saved session parses");
        assert_eq!(again, session);
    }
});
