//! OAuth server metadata (`ProtectedResourceMetadata::parse`,
//! `AuthorizationServerMetadata::parse`) and client metadata checks: a
//! typed error or a document that passed every check, never a panic.
#![no_main]

use atmo_oauth::{check_client_metadata, AuthorizationServerMetadata, ProtectedResourceMetadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((doc, issuer)) = ProtectedResourceMetadata::parse(data, "https://pds.example") {
        assert_eq!(doc.authorization_servers, [issuer]);
    }
    let issuer = "https://as.example";
    if let Ok(doc) = AuthorizationServerMetadata::parse(data, issuer, Some("https://pds.example")) {
        assert_eq!(doc.issuer, issuer);
        assert!(doc.client_id_metadata_document_supported);
        assert!(doc.token_endpoint.starts_with("https://as.example"));
        assert!(doc.par_endpoint().starts_with("https://as.example"));
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = check_client_metadata(&v, "https://app.example/client-metadata.json");
    }
});
