//! Reading the session part of createSession / createAccount /
//! refreshSession / getSession answers, and the one place a [`SessionData`]
//! is built from such an answer.

use atmo_types::xrpc::{DecodeError, RawBody};
use atmo_types::Did;
use atmo_xrpc::Secret;
use serde::de::DeserializeOwned;

use super::SessionData;
use super::SessionError;
use crate::store::redact_quoted;

/// The session part of a server answer. Decoded here rather than through
/// the generated types so that session handling does not depend on which
/// lexicons are compiled in.
pub(crate) struct SessionAnswer {
    pub access_jwt: Option<Secret>,
    pub refresh_jwt: Option<Secret>,
    pub handle: String,
    pub did: Did,
    pub did_doc: Option<serde_json::Value>,
    pub email: Option<String>,
    pub email_confirmed: Option<bool>,
    pub email_auth_factor: Option<bool>,
    pub active: Option<bool>,
    pub status: Option<String>,
}

/// What a session answer is laid over.
pub(crate) enum Base<'a> {
    /// A new session (login, account creation). `new_account`: the answer
    /// of createAccount, which carries no account state; like TypeScript,
    /// the email given at creation is used and it starts unconfirmed,
    /// without email 2FA.
    New {
        email: Option<String>,
        new_account: bool,
    },
    /// A refresh: what the answer omits is kept from the current session.
    Refreshed(&'a SessionData),
    /// A check of a saved session (getSession): the answer's account state
    /// is authoritative, the tokens are kept.
    Checked(&'a SessionData),
}

impl SessionAnswer {
    pub(crate) fn decode(nsid: &'static str, body: &RawBody) -> Result<Self, SessionError> {
        // serde quotes the offending string value, and in a session answer
        // that may be a token.
        let fail = |path: &str, message: String| {
            SessionError::Decode(DecodeError {
                nsid,
                path: path.to_owned(),
                message: redact_quoted(&message),
            })
        };
        let value = serde_json::from_slice::<serde_json::Value>(&body.bytes)
            .map_err(|e| fail("", e.to_string()))?;
        let serde_json::Value::Object(mut obj) = value else {
            return Err(fail("", "expected a JSON object".into()));
        };
        let mut take = |key: &str| obj.remove(key).filter(|v| !v.is_null());
        fn typed<T: DeserializeOwned>(
            v: Option<serde_json::Value>,
            key: &str,
            fail: &dyn Fn(&str, String) -> SessionError,
        ) -> Result<Option<T>, SessionError> {
            v.map(|v| serde_json::from_value(v).map_err(|e| fail(key, e.to_string())))
                .transpose()
        }
        let fail = &fail;
        Ok(SessionAnswer {
            access_jwt: typed(take("accessJwt"), "accessJwt", fail)?,
            refresh_jwt: typed(take("refreshJwt"), "refreshJwt", fail)?,
            handle: typed(take("handle"), "handle", fail)?
                .ok_or_else(|| missing(nsid, "handle"))?,
            did: typed(take("did"), "did", fail)?.ok_or_else(|| missing(nsid, "did"))?,
            did_doc: take("didDoc"),
            email: typed(take("email"), "email", fail)?,
            email_confirmed: typed(take("emailConfirmed"), "emailConfirmed", fail)?,
            email_auth_factor: typed(take("emailAuthFactor"), "emailAuthFactor", fail)?,
            active: typed(take("active"), "active", fail)?,
            status: typed(take("status"), "status", fail)?,
        })
    }

    /// The session this answer describes, laid over `base`.
    pub(crate) fn into_session(
        self,
        nsid: &'static str,
        base: Base<'_>,
    ) -> Result<SessionData, SessionError> {
        let a = self;
        let (prev, authoritative) = match &base {
            Base::New { .. } => (None, true),
            Base::Refreshed(p) => (Some(*p), false),
            Base::Checked(p) => (Some(*p), true),
        };
        // Only a check keeps the tokens it was made with; a new session or
        // a refresh must bring both.
        let kept = match &base {
            Base::Checked(p) => Some(*p),
            _ => None,
        };
        let token = |t: Option<Secret>, prev_t: Option<&Secret>, name| {
            t.or_else(|| prev_t.cloned())
                .ok_or_else(|| missing(nsid, name))
        };
        // Account state: an authoritative answer replaces it; otherwise what
        // the answer omits is kept. `status` goes with `active`.
        fn keep<T>(authoritative: bool, v: Option<T>, p: Option<T>) -> Option<T> {
            if authoritative {
                v
            } else {
                v.or(p)
            }
        }
        let mut session = SessionData {
            access_jwt: token(a.access_jwt, kept.map(|p| &p.access_jwt), "accessJwt")?,
            refresh_jwt: token(a.refresh_jwt, kept.map(|p| &p.refresh_jwt), "refreshJwt")?,
            handle: a.handle,
            did: a.did,
            email: keep(authoritative, a.email, prev.and_then(|p| p.email.clone())),
            email_confirmed: keep(
                authoritative,
                a.email_confirmed,
                prev.and_then(|p| p.email_confirmed),
            ),
            email_auth_factor: keep(
                authoritative,
                a.email_auth_factor,
                prev.and_then(|p| p.email_auth_factor),
            ),
            active: a
                .active
                .or(prev.filter(|_| !authoritative).map(|p| p.active))
                .unwrap_or(true),
            status: if a.active.is_some() || authoritative {
                a.status
            } else {
                a.status.or(prev.and_then(|p| p.status.clone()))
            },
        };
        if let Base::New {
            email,
            new_account: true,
        } = base
        {
            session.email = session.email.or(email);
            session.email_confirmed = session.email_confirmed.or(Some(false));
            session.email_auth_factor = session.email_auth_factor.or(Some(false));
        }
        Ok(session)
    }
}

fn missing(nsid: &'static str, field: &str) -> SessionError {
    SessionError::Decode(DecodeError {
        nsid,
        path: field.to_owned(),
        message: "missing field".into(),
    })
}
