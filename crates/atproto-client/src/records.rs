//! What needs the generated `com.atproto` / `app.bsky` endpoints: login and
//! account creation through the agent, record helpers, posting, and the
//! typed namespace tree.

use atproto_api::com::atproto::repo::{create_record, delete_record, get_record, put_record};
use atproto_api::com::atproto::server::{create_account, create_session};
use atproto_types::object::Record;
use atproto_types::xrpc::decode_json;
use atproto_types::xrpc::Endpoint;
use atproto_types::{AtIdentifier, AtUri, Cid, Did, Extra, Nsid, RecordKey, Unknown};

use crate::agent::{Agent, AtpAgent};
use crate::error::Error;
use crate::session::{Login, NewAccount, SessionData, SessionError, SessionManager};

/// Compare-and-swap conditions of a write: the write is refused (with the
/// endpoint's typed `InvalidSwap`) unless the repository is as expected.
/// [`Swap::default`] checks nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Swap {
    /// `swapRecord`: `None` checks nothing; `Some(None)` requires that the
    /// record does not exist yet (put only); `Some(Some(cid))` requires that
    /// it is currently `cid`.
    pub record: Option<Option<Cid>>,
    /// `swapCommit`: the repository's current commit must be this one.
    pub commit: Option<Cid>,
}

impl Swap {
    /// Only if the record is currently `cid`.
    pub fn record_is(cid: Cid) -> Self {
        Swap {
            record: Some(Some(cid)),
            commit: None,
        }
    }

    /// Only if the record does not exist yet (for
    /// [`Agent::put_record_with`]: create, never overwrite).
    pub fn record_absent() -> Self {
        Swap {
            record: Some(None),
            commit: None,
        }
    }

    /// Also only if the repository's current commit is `cid`.
    pub fn commit_is(mut self, cid: Cid) -> Self {
        self.commit = Some(cid);
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

impl From<RecordRef> for atproto_api::com::atproto::repo::strong_ref::StrongRef {
    /// The `com.atproto.repo.strongRef` that points at the record as written
    /// (what likes, reposts, replies and quotes embed).
    fn from(r: RecordRef) -> Self {
        Self::new(r.uri, r.cid)
    }
}

impl From<&RecordRef> for atproto_api::com::atproto::repo::strong_ref::StrongRef {
    fn from(r: &RecordRef) -> Self {
        Self::new(r.uri.clone(), r.cid.clone())
    }
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
    /// keeps the session. Fires `Create`, or `CreateFailed` on any failure
    /// (the session is then as it was; see [`crate::CredentialSession::login`]).
    ///
    /// Declared errors come back typed: on `Error::Api { error:
    /// create_session::Error::AuthFactorTokenRequired(_), .. }` ask the user
    /// for the emailed code and call again with [`Login::auth_factor_token`].
    pub async fn login(&self, login: Login) -> Result<SessionData, Error<create_session::Error>> {
        self.manager()
            .login(&login)
            .await
            .map_err(|e| Error::from_session(e, create_session::CreateSession::NSID))
    }

    /// Creates an account (`com.atproto.server.createAccount`) and keeps its
    /// session, like [`AtpAgent::login`]. Fires `Create` or `CreateFailed`.
    pub async fn create_account(
        &self,
        account: NewAccount,
    ) -> Result<SessionData, Error<create_account::Error>> {
        self.manager()
            .create_account(&account)
            .await
            .map_err(|e| Error::from_session(e, create_account::CreateAccount::NSID))
    }
}

fn own_repo<E>(did: Option<Did>) -> Result<AtIdentifier, Error<E>> {
    let did = did.ok_or(Error::Session(SessionError::NoSession))?;
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
        self.put_record_with(rkey, record, Swap::default()).await
    }

    /// [`Agent::put_record`] under compare-and-swap conditions, e.g.
    /// `Swap::record_is(cid)` to update only what was read.
    pub async fn put_record_with<R: Record>(
        &self,
        rkey: RecordKey,
        record: &R,
        swap: Swap,
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
            swap_record: swap.record,
            swap_commit: swap.commit,
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
        self.delete_record_with::<R>(rkey, Swap::default()).await
    }

    /// [`Agent::delete_record`] under compare-and-swap conditions
    /// (`Swap::record_absent` makes no sense here and is refused).
    pub async fn delete_record_with<R: Record>(
        &self,
        rkey: RecordKey,
        swap: Swap,
    ) -> Result<(), Error<delete_record::Error>> {
        let swap_record = match swap.record {
            Some(None) => {
                return Err(Error::Invalid(
                    "deleteRecord cannot require that the record does not exist".into(),
                ))
            }
            other => other.flatten(),
        };
        let input = delete_record::Input {
            repo: own_repo(self.did())?,
            collection: collection::<R, _>()?,
            rkey,
            swap_record,
            swap_commit: swap.commit,
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
        let created_at = atproto_types::Datetime::new(atproto_types::time::now_rfc3339())
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
