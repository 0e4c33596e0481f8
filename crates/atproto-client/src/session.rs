//! Session data, session events and PDS discovery from a DID document.

use serde::{Deserialize, Serialize};

use atproto_types::Did;

use crate::secret::Secret;

/// A logged-in session: exactly TypeScript's `AtpSessionData`, serialized to
/// the same camelCase JSON so that sessions saved by a TypeScript app can be
/// resumed here and the other way round.
///
/// `Debug` shows the tokens as `***`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionData {
    /// Short-lived token sent with every authenticated request.
    pub access_jwt: Secret,
    /// Long-lived token used only to refresh and to log out.
    pub refresh_jwt: Secret,
    /// The account's handle (may be `handle.invalid`).
    pub handle: String,
    /// The account's DID.
    pub did: Did,
    /// The account's email, when the server shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_confirmed: Option<bool>,
    /// Whether sign-in requires an emailed code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_auth_factor: Option<bool>,
    /// False for deactivated, suspended or taken-down accounts. Sessions saved
    /// by old clients lack it; they were active.
    #[serde(default = "yes")]
    pub active: bool,
    /// Why the account is inactive: `takendown`, `suspended`, `deactivated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

fn yes() -> bool {
    true
}

/// What happened to the session; passed to the persist hook and the store.
///
/// See the event table in the crate documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionEvent {
    /// A session was created by login or account creation. Save it.
    Create,
    /// Login or account creation failed. No session.
    CreateFailed,
    /// The session was refreshed or resumed: new tokens or account state. Save it.
    Update,
    /// The session ended: logout, or the server rejected the refresh token.
    /// Delete the saved copy.
    Expired,
    /// A refresh or resume failed for transient reasons (network, 5xx). The
    /// session is kept, in memory and in the store; a later call retries.
    NetworkError,
}

impl SessionEvent {
    /// The TypeScript name: `create`, `create-failed`, `update`, `expired`,
    /// `network-error`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEvent::Create => "create",
            SessionEvent::CreateFailed => "create-failed",
            SessionEvent::Update => "update",
            SessionEvent::Expired => "expired",
            SessionEvent::NetworkError => "network-error",
        }
    }
}

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
        let url = reqwest::Url::parse(endpoint).ok()?;
        matches!(url.scheme(), "https" | "http").then(|| endpoint.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_matches_typescript() {
        let ts = r#"{"accessJwt":"a","refreshJwt":"r","handle":"alice.test","did":"did:plc:abc","email":"a@b.c","emailConfirmed":true,"emailAuthFactor":false,"active":true,"status":"takendown"}"#;
        let s: SessionData = serde_json::from_str(ts).unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), ts);
        let minimal = r#"{"accessJwt":"a","refreshJwt":"r","handle":"h.test","did":"did:plc:abc","active":false}"#;
        let s: SessionData = serde_json::from_str(minimal).unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), minimal);
        let old = r#"{"accessJwt":"a","refreshJwt":"r","handle":"h.test","did":"did:plc:abc"}"#;
        assert!(serde_json::from_str::<SessionData>(old).unwrap().active);
        assert!(!format!("{s:?}").contains("\"a\""));
    }

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
