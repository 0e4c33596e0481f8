//! Building the built-in clients leaves the process-wide rustls crypto
//! provider alone: which one a process uses is the application's choice.
//! A test binary of its own, so that nothing else in the process installs
//! one first.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use atmo_xrpc::{HyperClient, ReqwestClient};
use rustls::crypto::CryptoProvider;

#[test]
fn building_clients_installs_no_process_default() {
    assert!(CryptoProvider::get_default().is_none());
    HyperClient::new().unwrap();
    assert!(
        CryptoProvider::get_default().is_none(),
        "HyperClient installed a default"
    );
    ReqwestClient::new().unwrap();
    assert!(
        CryptoProvider::get_default().is_none(),
        "ReqwestClient installed a default"
    );
}
