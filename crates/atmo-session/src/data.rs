//! The password session's data and the events every session kind reports.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use atmo_types::object::{required, set_once, Key};
use atmo_types::Did;

use atmo_xrpc::Secret;

/// A logged-in session: exactly TypeScript's `AtpSessionData`, serialized to
/// the same camelCase JSON so that sessions saved by a TypeScript app can be
/// resumed here and the other way round.
///
/// `Debug` shows the tokens as `***`. Unknown properties in saved JSON are
/// ignored; `active` defaults to true (sessions saved by old clients lack it).
#[derive(Clone, Debug, PartialEq, Eq)]
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
    pub email: Option<String>,
    /// Whether the email is confirmed.
    pub email_confirmed: Option<bool>,
    /// Whether sign-in requires an emailed code.
    pub email_auth_factor: Option<bool>,
    /// False for deactivated, suspended or taken-down accounts. Sessions saved
    /// by old clients lack it; they were active.
    pub active: bool,
    /// Why the account is inactive: `takendown`, `suspended`, `deactivated`.
    pub status: Option<String>,
}

impl Serialize for SessionData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("accessJwt", &self.access_jwt)?;
        map.serialize_entry("refreshJwt", &self.refresh_jwt)?;
        map.serialize_entry("handle", &self.handle)?;
        map.serialize_entry("did", &self.did)?;
        if let Some(v) = &self.email {
            map.serialize_entry("email", v)?;
        }
        if let Some(v) = &self.email_confirmed {
            map.serialize_entry("emailConfirmed", v)?;
        }
        if let Some(v) = &self.email_auth_factor {
            map.serialize_entry("emailAuthFactor", v)?;
        }
        map.serialize_entry("active", &self.active)?;
        if let Some(v) = &self.status {
            map.serialize_entry("status", v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SessionData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SessionVisitor)
    }
}

struct SessionVisitor;

impl<'de> Visitor<'de> for SessionVisitor {
    type Value = SessionData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a session object (accessJwt, refreshJwt, handle, did, ...)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SessionData, A::Error> {
        let (mut access, mut refresh, mut handle, mut did) = (None, None, None, None);
        let (mut email, mut confirmed, mut factor, mut active, mut status) =
            (None, None, None, None, None);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "accessJwt" => set_once(&mut access, map.next_value()?, "accessJwt")?,
                "refreshJwt" => set_once(&mut refresh, map.next_value()?, "refreshJwt")?,
                "handle" => set_once(&mut handle, map.next_value()?, "handle")?,
                "did" => set_once(&mut did, map.next_value()?, "did")?,
                "email" => set_once(&mut email, map.next_value()?, "email")?,
                "emailConfirmed" => set_once(&mut confirmed, map.next_value()?, "emailConfirmed")?,
                "emailAuthFactor" => set_once(&mut factor, map.next_value()?, "emailAuthFactor")?,
                "active" => set_once(&mut active, map.next_value()?, "active")?,
                "status" => set_once(&mut status, map.next_value()?, "status")?,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(SessionData {
            access_jwt: required(access, "accessJwt")?,
            refresh_jwt: required(refresh, "refreshJwt")?,
            handle: required(handle, "handle")?,
            did: required(did, "did")?,
            email: email.flatten(),
            email_confirmed: confirmed.flatten(),
            email_auth_factor: factor.flatten(),
            active: active.flatten().unwrap_or(true),
            status: status.flatten(),
        })
    }
}

/// What happened to the session; passed to the event hook and the store.
///
/// Every session kind reports the same events (the password session's
/// table is in `atmo-client`'s crate documentation).
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
