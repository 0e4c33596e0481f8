//! Building the built-in clients leaves the process-wide rustls crypto
//! provider alone: which one a process uses is the application's choice.
//! A test binary of its own, so that nothing else in the process installs
//! one first.

use atproto_xrpc::{HyperClient, ReqwestClient};
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
