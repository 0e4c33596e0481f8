//! PDS discovery from the DID document a session answer carries.

use atmo_identity::net::non_public_host;
use atmo_identity::DidDocument;
use atmo_types::Did;
use atmo_xrpc::{check_url, ServiceUrl};

/// Which PDS endpoints named by a DID document the session follows. A DID
/// document is written by whoever controls the identity, so its PDS is
/// checked like any URL from the network before tokens are sent there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PdsPolicy {
    /// Plain `http://` to hosts other than loopback.
    pub allow_insecure_http: bool,
    /// Loopback, private, link-local and reserved hosts, IP literals
    /// (`atmo_identity::net::non_public_host`).
    pub allow_private_hosts: bool,
}

/// The PDS of `did` named by `did_doc`, read by atmo-identity's parser
/// (exactly one `#atproto_pds` service of type `AtprotoPersonalDataServer`,
/// an http(s) origin) and accepted under `policy`. `None` when the document
/// is malformed, describes another DID, names no usable PDS or one the
/// policy refuses: requests then stay on the service URL.
pub(crate) fn pds_endpoint(
    did_doc: &serde_json::Value,
    did: &Did,
    policy: PdsPolicy,
) -> Option<ServiceUrl> {
    let doc = DidDocument::from_json(did_doc.clone()).ok()?;
    if doc.id() != did {
        return None;
    }
    let pds = doc.pds().ok()?;
    let pds = check_url(pds.as_str(), policy.allow_insecure_http).ok()?;
    if !policy.allow_private_hosts && non_public_host(pds.host()).is_some() {
        return None;
    }
    Some(pds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PUBLIC: PdsPolicy = PdsPolicy {
        allow_insecure_http: false,
        allow_private_hosts: false,
    };

    fn found(doc: &serde_json::Value, policy: PdsPolicy) -> Option<String> {
        let did = Did::new("did:plc:abc").unwrap();
        pds_endpoint(doc, &did, policy).map(|u| u.as_str().to_owned())
    }

    fn doc(id: &str, ty: &str, ep: serde_json::Value) -> serde_json::Value {
        json!({"id": "did:plc:abc", "service": [
            {"id": "#other", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://wrong.host.com"},
            {"id": id, "type": ty, "serviceEndpoint": ep}]})
    }

    #[test]
    fn finds_the_pds() {
        let ty = "AtprotoPersonalDataServer";
        let ep = json!("https://pds.host.com");
        let good = Some("https://pds.host.com/".to_owned());
        assert_eq!(found(&doc("#atproto_pds", ty, ep.clone()), PUBLIC), good);
        assert_eq!(
            found(&doc("did:plc:abc#atproto_pds", ty, ep.clone()), PUBLIC),
            good
        );
        assert_eq!(
            found(&doc("did:plc:zzz#atproto_pds", ty, ep.clone()), PUBLIC),
            None
        );
        assert_eq!(
            found(&doc("#atproto_pds", "Other", ep.clone()), PUBLIC),
            None
        );
        assert_eq!(found(&doc("#atproto_pds", ty, json!(5)), PUBLIC), None);
        assert_eq!(
            found(&doc("#atproto_pds", ty, json!("not a url")), PUBLIC),
            None
        );
        assert_eq!(
            found(&json!({"id": "did:plc:other", "service": []}), PUBLIC),
            None
        );
        assert_eq!(found(&json!("garbage"), PUBLIC), None);
        assert_eq!(found(&json!({"service": {"id": 1}}), PUBLIC), None);
        // Two PDS entries: ambiguous, as identity's parser says.
        let two = json!({"id": "did:plc:abc", "service": [
            {"id": "#atproto_pds", "type": ty, "serviceEndpoint": "https://a.host.com"},
            {"id": "did:plc:abc#atproto_pds", "type": ty, "serviceEndpoint": "https://b.host.com"}]});
        assert_eq!(found(&two, PUBLIC), None);
    }

    #[test]
    fn private_or_plain_http_hosts_only_with_the_development_allowance() {
        let ty = "AtprotoPersonalDataServer";
        let dev = PdsPolicy {
            allow_insecure_http: false,
            allow_private_hosts: true,
        };
        for ep in [
            "https://10.0.0.1",
            "https://192.168.1.20:2583",
            "https://localhost:2583",
            "https://[::1]",
            "https://pds.localhost",
            "https://[2002:a00:1::]",
        ] {
            let d = doc("#atproto_pds", ty, json!(ep));
            assert_eq!(found(&d, PUBLIC), None, "{ep}");
            assert!(found(&d, dev).is_some(), "{ep} with the allowance");
        }
        // Plain http: only to loopback, and then only with the allowance
        // for private hosts; elsewhere only when insecure http is allowed.
        let http_public = doc("#atproto_pds", ty, json!("http://pds.host.com"));
        assert_eq!(found(&http_public, PUBLIC), None);
        assert_eq!(found(&http_public, dev), None);
        let insecure = PdsPolicy {
            allow_insecure_http: true,
            allow_private_hosts: false,
        };
        assert_eq!(
            found(&http_public, insecure),
            Some("http://pds.host.com/".to_owned())
        );
        let http_loopback = doc("#atproto_pds", ty, json!("http://localhost:2583"));
        assert_eq!(found(&http_loopback, PUBLIC), None);
        assert_eq!(
            found(&http_loopback, dev),
            Some("http://localhost:2583/".to_owned())
        );
    }
}
