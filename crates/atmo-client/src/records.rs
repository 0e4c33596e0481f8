//! What needs the generated `com.atproto` / `app.bsky` endpoints: login and
//! account creation through the agent, record helpers, posting, and the
//! typed namespace tree.

use std::borrow::Borrow;

use atmo_api::com::atproto::repo::{
    create_record, delete_record, get_record, list_records, put_record,
};
use atmo_api::com::atproto::server::{create_account, create_session};
use atmo_types::object::Record;
use atmo_types::xrpc::decode_json;
use atmo_types::xrpc::Endpoint;
use atmo_types::{AtIdentifier, AtUri, Cid, Did, Extra, Nsid, RecordKey, Unknown};

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

impl From<RecordRef> for atmo_api::com::atproto::repo::strong_ref::StrongRef {
    /// The `com.atproto.repo.strongRef` that points at the record as written
    /// (what likes, reposts, replies and quotes embed).
    fn from(r: RecordRef) -> Self {
        Self::new(r.uri, r.cid)
    }
}

impl From<&RecordRef> for atmo_api::com::atproto::repo::strong_ref::StrongRef {
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

/// Which page of a collection [`Agent::list_records`] reads, and how many
/// records (the same options start [`Agent::paginate_records`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Records per page (the server's default, 50, when `None`; the lexicon
    /// allows 1 to 100).
    pub limit: Option<i64>,
    /// Where to continue: the [`RecordPage::cursor`] of the previous page.
    pub cursor: Option<String>,
    /// Oldest first instead of newest first.
    pub reverse: bool,
}

impl ListOptions {
    /// The first page, the server's page size, newest first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records per page (1 to 100).
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues after the page that returned `cursor`.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Oldest first.
    pub fn reverse(mut self, reverse: bool) -> Self {
        self.reverse = reverse;
        self
    }

    /// The `listRecords` parameters for collection `R::NSID` of `repo`.
    pub(crate) fn params<R: Record, E>(
        &self,
        repo: AtIdentifier,
    ) -> Result<list_records::Parameters, Error<E>> {
        let mut params = list_records::Parameters::new(repo, collection::<R, _>()?);
        if let Some(limit) = self.limit {
            params.limit = limit;
        }
        params.cursor = self.cursor.clone();
        params.reverse = self.reverse.then_some(true);
        Ok(params)
    }
}

/// One page of a collection read as records of type `R`
/// ([`Agent::list_records`]).
#[derive(Clone, Debug)]
pub struct RecordPage<R> {
    /// The records that are `R`s, in the server's order.
    pub records: Vec<FetchedRecord<R>>,
    /// The records of the page that are not valid `R`s (another `$type`,
    /// or a shape that does not decode), kept as they came.
    pub invalid: Vec<InvalidRecord>,
    /// The cursor of the next page; `None` on the last one.
    pub cursor: Option<String>,
}

/// A listed record that is not a valid `R` ([`RecordPage::invalid`]).
#[derive(Clone, Debug)]
pub struct InvalidRecord {
    /// Its URI.
    pub uri: AtUri,
    /// Its CID.
    pub cid: Cid,
    /// The record as the server sent it.
    pub value: Unknown,
    /// Why it is not an `R`: [`Error::Invalid`] for another `$type`,
    /// [`Error::Decode`] (with the path in the record) for a bad shape.
    pub error: Error,
}

/// Decodes a record's value as an `R`: a value of another `$type` is
/// [`Error::Invalid`], a malformed one [`Error::Decode`] naming the path in
/// the record (and the record, in the message).
pub(crate) fn decode_record<R: Record, E>(
    nsid: &'static str,
    uri: &AtUri,
    value: &Unknown,
) -> Result<R, Error<E>> {
    let ty = value.type_name();
    if ty != Some(R::NSID) {
        return Err(Error::Invalid(format!(
            "{uri} is a {}, not a {}",
            ty.unwrap_or("record without $type"),
            R::NSID
        )));
    }
    // Through the text so that a failure names the path in the record.
    decode_json(nsid, value.as_raw_str().as_bytes()).map_err(|mut e| {
        e.message = format!("record {uri}: {}", e.message);
        Error::Decode(e)
    })
}

/// One record of a `listRecords` answer, read as an `R` or not.
pub(crate) enum Listed<R> {
    /// An `R`.
    Valid(FetchedRecord<R>),
    /// Not an `R`, with the reason.
    Invalid(InvalidRecord),
}

/// Reads a `listRecords` answer as `R`s, in the server's order.
pub(crate) fn typed_records<R: Record>(records: Vec<list_records::Record>) -> Vec<Listed<R>> {
    records
        .into_iter()
        .map(|r| {
            match decode_record::<R, atmo_types::xrpc::NoError>(
                list_records::ListRecords::NSID,
                &r.uri,
                &r.value,
            ) {
                Ok(value) => Listed::Valid(FetchedRecord {
                    uri: r.uri,
                    cid: Some(r.cid),
                    value,
                }),
                Err(error) => Listed::Invalid(InvalidRecord {
                    uri: r.uri,
                    cid: r.cid,
                    value: r.value,
                    error,
                }),
            }
        })
        .collect()
}

impl<R> RecordPage<R> {
    /// A page from its records in order, split into `R`s and the rest.
    pub(crate) fn from_listed(listed: Vec<Listed<R>>, cursor: Option<String>) -> Self {
        let mut page = RecordPage {
            records: Vec::with_capacity(listed.len()),
            invalid: Vec::new(),
            cursor,
        };
        for r in listed {
            match r {
                Listed::Valid(r) => page.records.push(r),
                Listed::Invalid(r) => page.invalid.push(r),
            }
        }
        page
    }
}

impl AtpAgent {
    /// Signs in (`com.atproto.server.createSession` to the service URL) and
    /// keeps the session. Fires `Create`, or `CreateFailed` on any failure
    /// (the session is then as it was; see [`crate::CredentialSession::login`]).
    ///
    /// Declared errors come back typed: on `Error::Api { error:
    /// create_session::Error::AuthFactorTokenRequired(_), .. }` ask the user
    /// for the emailed code and call again with [`Login::auth_factor_token`].
    ///
    /// Takes the [`Login`] by value or by reference, like
    /// [`CredentialSession::login`](crate::CredentialSession::login): keep
    /// it to call again with the code.
    pub async fn login(
        &self,
        login: impl Borrow<Login>,
    ) -> Result<SessionData, Error<create_session::Error>> {
        self.manager()
            .login(login.borrow())
            .await
            .map_err(|e| Error::from_session(e, create_session::CreateSession::NSID))
    }

    /// Creates an account (`com.atproto.server.createAccount`) and keeps its
    /// session, like [`AtpAgent::login`]. Fires `Create` or `CreateFailed`.
    /// Takes the [`NewAccount`] by value or by reference.
    pub async fn create_account(
        &self,
        account: impl Borrow<NewAccount>,
    ) -> Result<SessionData, Error<create_account::Error>> {
        self.manager()
            .create_account(account.borrow())
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
    pub fn api(&self) -> atmo_api::Api<'_, Self> {
        atmo_api::Api::new(self)
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
        let value = decode_record::<R, _>(get_record::GetRecord::NSID, &out.uri, &out.value)?;
        Ok(FetchedRecord {
            uri: out.uri,
            cid: out.cid,
            value,
        })
    }

    /// Reads one page of the collection of `R` in any repository
    /// (`com.atproto.repo.listRecords`, collection `R::NSID`), each record
    /// decoded as an `R`, as [`Agent::get_record`] does. Records that are
    /// not valid `R`s do not fail the page: they are in
    /// [`RecordPage::invalid`], with the reason.
    ///
    /// ```no_run
    /// # async fn f(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::feed::post::Post;
    /// use atmo_client::atmo_types::AtIdentifier;
    /// use atmo_client::ListOptions;
    ///
    /// let repo = AtIdentifier::new("alice.bsky.social")?;
    /// let page = agent.list_records::<Post>(repo, ListOptions::new().limit(10)).await?;
    /// for post in &page.records {
    ///     println!("{}: {}", post.uri, post.value.text);
    /// }
    /// // page.cursor continues with ListOptions::new().cursor(..), or walk
    /// // every page with agent.paginate_records::<Post>(..).
    /// # Ok(()) }
    /// ```
    pub async fn list_records<R: Record>(
        &self,
        repo: AtIdentifier,
        options: ListOptions,
    ) -> Result<RecordPage<R>, Error<list_records::Error>> {
        let params = options.params::<R, _>(repo)?;
        let out = self.call::<list_records::ListRecords>(params, ()).await?;
        Ok(RecordPage::from_listed(
            typed_records::<R>(out.records),
            out.cursor,
        ))
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
        let created_at = atmo_types::Datetime::new(atmo_types::time::now_rfc3339())
            .map_err(|e| Error::Invalid(format!("clock: {e}")))?;
        let post = atmo_api::app::bsky::feed::post::Post {
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
