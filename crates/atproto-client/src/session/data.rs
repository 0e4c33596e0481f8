//! PDS discovery from a DID document.

/// The PDS endpoint from a DID document: the service with id `#atproto_pds`
/// (or `<did>#atproto_pds`) and type `AtprotoPersonalDataServer`. `None` when
/// the document is missing, malformed, or names no usable PDS, so requests
/// stay on the service URL.
pub fn pds_endpoint(did_doc: &serde_json::Value, did: &str) -> Option<String> {
    let doc_id = did_doc.get("id").and_then(|v| v.as_str());
    if doc_id.is_some_and(|id| id != did) {
        return None;
    }
    let services = did_doc.get("service")?.as_array()?;
    let full_id = format!("{did}#atproto_pds");
    services.iter().find_map(|s| {
        let id = s.get("id")?.as_str()?;
        if id != "#atproto_pds" && id != full_id {
            return None;
        }
        if s.get("type")?.as_str()? != "AtprotoPersonalDataServer" {
            return None;
        }
        let endpoint = s.get("serviceEndpoint")?.as_str()?;
        atproto_xrpc::ServiceUrl::parse(endpoint)
            .is_ok()
            .then(|| endpoint.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_pds() {
        let did = "did:plc:abc";
        let doc = |id: &str, ty: &str, ep: serde_json::Value| {
            json!({"id": did, "service": [
                {"id": "#other", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://wrong"},
                {"id": id, "type": ty, "serviceEndpoint": ep}]})
        };
        let good = Some("https://pds.example".to_owned());
        let ep = json!("https://pds.example");
        assert_eq!(
            pds_endpoint(
                &doc("#atproto_pds", "AtprotoPersonalDataServer", ep.clone()),
                did
            ),
            good
        );
        assert_eq!(
            pds_endpoint(
                &doc(
                    "did:plc:abc#atproto_pds",
                    "AtprotoPersonalDataServer",
                    ep.clone()
                ),
                did
            ),
            good
        );
        assert_eq!(
            pds_endpoint(
                &doc(
                    "did:plc:zzz#atproto_pds",
                    "AtprotoPersonalDataServer",
                    ep.clone()
                ),
                did
            ),
            None
        );
        assert_eq!(
            pds_endpoint(&doc("#atproto_pds", "Other", ep.clone()), did),
            None
        );
        assert_eq!(
            pds_endpoint(
                &doc("#atproto_pds", "AtprotoPersonalDataServer", json!(5)),
                did
            ),
            None
        );
        assert_eq!(
            pds_endpoint(
                &doc(
                    "#atproto_pds",
                    "AtprotoPersonalDataServer",
                    json!("not a url")
                ),
                did
            ),
            None
        );
        assert_eq!(
            pds_endpoint(&json!({"id": "did:plc:other", "service": []}), did),
            None
        );
        assert_eq!(pds_endpoint(&json!("garbage"), did), None);
        assert_eq!(pds_endpoint(&json!({"service": {"id": 1}}), did), None);
    }
}
