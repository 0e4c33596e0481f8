//! What needs the generated `com.atproto` / `app.bsky` endpoints: login,
//! account creation, record helpers, posting, and the typed namespace tree.

use atproto_api::com::atproto::repo::{create_record, delete_record, get_record, put_record};
use atproto_api::com::atproto::server::{create_account, create_session};
use atproto_types::object::Record;
use atproto_types::xrpc::{decode_json, Endpoint};
use atproto_types::{AtIdentifier, AtUri, Cid, Did, Extra, Handle, Nsid, RecordKey, Unknown};

use crate::agent::{Agent, AtpAgent};
use crate::error::Error;
use crate::manager::SessionManager;
use crate::secret::Secret;
use crate::session::SessionData;

/// Credentials for [`AtpAgent::login`]. `Debug` hides the password and code.
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

/// A new account for [`AtpAgent::create_account`]. `Debug` hides the password.
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

/// Where a record was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRef {
    /// `at://<did>/<collection>/<rkey>`.
    pub uri: AtUri,
    /// The CID of the record as written.
    pub cid: Cid,
}

/// A record read with [`Agent::get_record`].
#[derive(Clone, Debug, PartialEq)]
pub struct FetchedRecord<R> {
    /// Its URI.
    pub uri: AtUri,
    /// Its CID, when the server sent one.
    pub cid: Option<Cid>,
    /// The record.
    pub value: R,
}

impl AtpAgent {
    /// Signs in (`com.atproto.server.createSession` to the service URL) and
    /// keeps the session. Fires `Create`, or `CreateFailed` on any failure.
    ///
    /// Declared errors come back typed: on
    /// `Error::Api(create_session::Error::AuthFactorTokenRequired(_))` ask the
    /// user for the emailed code and call again with
    /// [`Login::auth_factor_token`].
    pub async fn login(&self, login: Login) -> Result<SessionData, Error<create_session::Error>> {
        let input = create_session::Input {
            identifier: login.identifier,
            password: login.password.expose().to_owned(),
            auth_factor_token: login.auth_factor_token.map(|t| t.expose().to_owned()),
            allow_takendown: login.allow_takendown,
            extra: Extra::new(),
        };
        self.manager()
            .start_session::<create_session::CreateSession>(&input)
            .await
    }

    /// Creates an account (`com.atproto.server.createAccount`) and keeps its
    /// session, like [`AtpAgent::login`]. Fires `Create` or `CreateFailed`.
    pub async fn create_account(
        &self,
        account: NewAccount,
    ) -> Result<SessionData, Error<create_account::Error>> {
        let input = create_account::Input {
            email: account.email,
            handle: account.handle,
            did: account.did,
            invite_code: account.invite_code,
            verification_code: account.verification_code,
            verification_phone: account.verification_phone,
            password: account.password.map(|p| p.expose().to_owned()),
            recovery_key: account.recovery_key,
            plc_op: account.plc_op.as_ref().map(Unknown::from_value),
            extra: Extra::new(),
        };
        self.manager()
            .start_session::<create_account::CreateAccount>(&input)
            .await
    }
}

fn own_repo<E>(did: Option<Did>) -> Result<AtIdentifier, Error<E>> {
    let did = did.ok_or(Error::NoSession)?;
    AtIdentifier::new(did.as_str()).map_err(|e| Error::Invalid(format!("repo {did}: {e}")))
}

fn collection<R: Record, E>() -> Result<Nsid, Error<E>> {
    Nsid::new(R::NSID).map_err(|e| Error::Invalid(format!("collection {}: {e}", R::NSID)))
}

fn record_value<R: Record, E>(record: &R) -> Result<Unknown, Error<E>> {
    Unknown::from_serialize(record)
        .map_err(|e| Error::Invalid(format!("cannot encode a {} record: {e}", R::NSID)))
}

impl<M: SessionManager> Agent<M> {
    /// Every generated endpoint, typed:
    /// `agent.api().app.bsky.feed.get_timeline(params).await`.
    pub fn api(&self) -> atproto_api::Api<'_, Self> {
        atproto_api::Api::new(self)
    }

    /// Writes a new record of type `R` to the signed-in account's repository
    /// (`com.atproto.repo.createRecord`, collection `R::NSID`). `rkey`
    /// defaults to a server-chosen TID.
    pub async fn create_record<R: Record>(
        &self,
        record: &R,
        rkey: Option<RecordKey>,
    ) -> Result<RecordRef, Error<create_record::Error>> {
        if self.validates_requests() {
            crate::validate::record(record)?;
        }
        let input = create_record::Input {
            repo: own_repo(self.did())?,
            collection: collection::<R, _>()?,
            rkey,
            validate: None,
            record: record_value(record)?,
            swap_commit: None,
            extra: Extra::new(),
        };
        let out = self.call::<create_record::CreateRecord>((), input).await?;
        Ok(RecordRef {
            uri: out.uri,
            cid: out.cid,
        })
    }

    /// Creates or replaces the record `rkey` of type `R`
    /// (`com.atproto.repo.putRecord`).
    pub async fn put_record<R: Record>(
        &self,
        rkey: RecordKey,
        record: &R,
    ) -> Result<RecordRef, Error<put_record::Error>> {
        if self.validates_requests() {
            crate::validate::record(record)?;
        }
        let input = put_record::Input {
            repo: own_repo(self.did())?,
            collection: collection::<R, _>()?,
            rkey,
            validate: None,
            record: record_value(record)?,
            swap_record: None,
            swap_commit: None,
            extra: Extra::new(),
        };
        let out = self.call::<put_record::PutRecord>((), input).await?;
        Ok(RecordRef {
            uri: out.uri,
            cid: out.cid,
        })
    }

    /// Reads record `rkey` of type `R` from any repository
    /// (`com.atproto.repo.getRecord`) and decodes it; a value of another
    /// `$type` is [`Error::Invalid`], a malformed one [`Error::Decode`].
    pub async fn get_record<R: Record>(
        &self,
        repo: AtIdentifier,
        rkey: RecordKey,
    ) -> Result<FetchedRecord<R>, Error<get_record::Error>> {
        let params = get_record::Parameters {
            repo,
            collection: collection::<R, _>()?,
            rkey,
            cid: None,
        };
        let out = self.call::<get_record::GetRecord>(params, ()).await?;
        let ty = out.value.type_name();
        if ty != Some(R::NSID) {
            return Err(Error::Invalid(format!(
                "{} is a {}, not a {}",
                out.uri,
                ty.unwrap_or("record without $type"),
                R::NSID
            )));
        }
        // Through the text so that a failure names the path in the record.
        let value = decode_json(
            get_record::GetRecord::NSID,
            out.value.as_raw_str().as_bytes(),
        )?;
        Ok(FetchedRecord {
            uri: out.uri,
            cid: out.cid,
            value,
        })
    }

    /// Deletes record `rkey` of type `R` from the signed-in account's
    /// repository (`com.atproto.repo.deleteRecord`).
    pub async fn delete_record<R: Record>(
        &self,
        rkey: RecordKey,
    ) -> Result<(), Error<delete_record::Error>> {
        let input = delete_record::Input {
            repo: own_repo(self.did())?,
            collection: collection::<R, _>()?,
            rkey,
            swap_record: None,
            swap_commit: None,
            extra: Extra::new(),
        };
        self.call::<delete_record::DeleteRecord>((), input)
            .await
            .map(|_| ())
    }

    /// Posts `text` as an `app.bsky.feed.post` created now.
    #[cfg(feature = "app-bsky")]
    pub async fn post(
        &self,
        text: impl Into<String>,
    ) -> Result<RecordRef, Error<create_record::Error>> {
        let created_at = atproto_types::Datetime::new(crate::time::now_rfc3339())
            .map_err(|e| Error::Invalid(format!("clock: {e}")))?;
        let post = atproto_api::app::bsky::feed::post::Post {
            text: text.into(),
            entities: None,
            facets: None,
            reply: None,
            embed: None,
            langs: None,
            labels: None,
            tags: None,
            created_at,
            extra: Extra::new(),
        };
        self.create_record(&post, None).await
    }
}
