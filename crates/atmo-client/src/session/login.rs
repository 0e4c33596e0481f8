//! What a login and an account creation take.

use atmo_types::{Did, Handle};
use atmo_xrpc::Secret;

/// Credentials for [`super::CredentialSession::login`]. `Debug` hides the password and code.
#[derive(Clone, Debug)]
pub struct Login {
    /// Handle, DID or email.
    pub identifier: String,
    /// The account password or an app password.
    pub password: Secret,
    /// The emailed sign-in code, when the server asked for one
    /// (`AuthFactorTokenRequired`).
    pub auth_factor_token: Option<Secret>,
    /// Let a taken-down account sign in (to export its data).
    pub allow_takendown: Option<bool>,
}

impl Login {
    /// Identifier (handle, DID or email) and password.
    pub fn new(identifier: impl Into<String>, password: impl Into<Secret>) -> Self {
        Login {
            identifier: identifier.into(),
            password: password.into(),
            auth_factor_token: None,
            allow_takendown: None,
        }
    }

    /// Adds the sign-in code the server emailed after
    /// `AuthFactorTokenRequired`.
    pub fn auth_factor_token(mut self, code: impl Into<Secret>) -> Self {
        self.auth_factor_token = Some(code.into());
        self
    }

    /// Allows signing in to a taken-down account.
    pub fn allow_takendown(mut self, allow: bool) -> Self {
        self.allow_takendown = Some(allow);
        self
    }
}

/// A new account for [`super::CredentialSession::create_account`]. `Debug` hides the password.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// The requested handle.
    pub handle: Handle,
    /// Email address (required by most servers).
    pub email: Option<String>,
    /// Password (required unless migrating an existing DID).
    pub password: Option<Secret>,
    /// Invite code, where the server requires one.
    pub invite_code: Option<String>,
    /// Phone verification code, where the server requires one.
    pub verification_code: Option<String>,
    /// The phone number verified.
    pub verification_phone: Option<String>,
    /// An existing DID (account migration).
    pub did: Option<Did>,
    /// A recovery rotation key.
    pub recovery_key: Option<String>,
    /// A signed PLC operation (account migration).
    pub plc_op: Option<serde_json::Value>,
}

impl NewAccount {
    /// An account with this handle.
    pub fn new(handle: Handle) -> Self {
        NewAccount {
            handle,
            email: None,
            password: None,
            invite_code: None,
            verification_code: None,
            verification_phone: None,
            did: None,
            recovery_key: None,
            plc_op: None,
        }
    }
    /// Sets the email.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }
    /// Sets the password.
    pub fn password(mut self, password: impl Into<Secret>) -> Self {
        self.password = Some(password.into());
        self
    }
    /// Sets the invite code.
    pub fn invite_code(mut self, code: impl Into<String>) -> Self {
        self.invite_code = Some(code.into());
        self
    }
}
