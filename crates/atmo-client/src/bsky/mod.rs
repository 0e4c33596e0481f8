//! Everyday `app.bsky` helpers of the agent (feature `app-bsky`): one call
//! each, typed, on any [`Agent`] whatever its session manager.
//!
//! | What | Helpers | Calls |
//! |---|---|---|
//! | Posts | [`Agent::post_with`] ([`PostBuilder`]: rich text, images, video, link card, quote, reply), [`Agent::prepare_post`], [`Agent::reply_ref`], [`Agent::delete_post`] | `createRecord` (+ `resolveHandle` per mentioned handle, `getRecord` for a reply by URI) |
//! | Interactions | [`Agent::like`]/[`Agent::unlike`], [`Agent::repost`]/[`Agent::unrepost`], [`Agent::follow`]/[`Agent::unfollow`], [`Agent::block`]/[`Agent::unblock`] | `createRecord` / `deleteRecord` |
//! | Blobs | [`Agent::upload_blob`], [`Agent::upload_blob_as`], [`Agent::upload_file`] (MIME type from the bytes: [`guess_mime_type`]) | `uploadBlob` |
//! | Profiles | [`Agent::get_profile`], [`Agent::get_profiles`], [`Agent::upsert_profile`] | `getProfile(s)` (AppView); `getRecord` + `putRecord` with `swapRecord`, retried |
//! | Lists | [`Agent::paginate`] over any [`Paginated`] endpoint: [`Pages`], [`Items`]; [`Agent::paginate_records`] over a collection as typed records: [`RecordPages`], [`RecordItems`] | one call per page, when asked for |
//!
//! The record writers build on the generic record helpers of the agent
//! ([`Agent::create_record`], [`Agent::put_record_with`],
//! [`Agent::delete_record`]); the undo helpers take the URI the writer
//! returned and check, before sending anything, that it names a record of
//! the right collection in the signed-in account's own repository.
//!
//! Reads of `app.bsky` *views* (profiles, timelines, feeds) are answered by
//! an AppView, which the PDS forwards them to; a PDS without one (such as a
//! bare local test PDS) refuses them.
//!
//! Rich text comes from [`crate::richtext`] (crate `atmo-richtext`): the
//! agent implements its [`ResolveHandle`](crate::richtext::ResolveHandle) through
//! `com.atproto.identity.resolveHandle`, so
//! `rich_text.detect_and_resolve(&agent).await` works too.

mod actor;
mod blob;
mod paginate;
mod post;
mod preferences;
mod social;

pub use actor::{PROFILES_PER_CALL, UPSERT_ATTEMPTS};
pub use blob::{guess_mime_type, UNKNOWN_MIME_TYPE};
pub use paginate::{Items, Pages, Paginated, RecordItems, RecordPages};
pub use post::PostBuilder;
pub use preferences::*;

use atmo_api::com::atproto::repo::strong_ref::StrongRef;
use atmo_types::{AtUri, Datetime, Did, RecordKey};

#[allow(unused_imports)] // for the links in the docs above
use crate::agent::Agent;
use crate::error::Error;
use crate::records::RecordRef;
use crate::session::SessionError;

/// The current time as a record's `createdAt`.
fn now<E>() -> Result<Datetime, Error<E>> {
    Datetime::new(atmo_types::time::now_rfc3339())
        .map_err(|e| Error::Invalid(format!("clock: {e}")))
}

/// A strong reference (URI and CID) to a written record.
fn strong_ref(r: &RecordRef) -> StrongRef {
    r.into()
}

/// The record key of `uri` when it names a record of `collection` in the
/// repository of `did` (the signed-in account); otherwise what is wrong.
fn own_rkey<E>(did: Option<Did>, uri: &AtUri, collection: &str) -> Result<RecordKey, Error<E>> {
    let did = did.ok_or(Error::Session(SessionError::NoSession))?;
    if uri.authority() != did.as_str() {
        return Err(Error::Invalid(format!(
            "{uri} is not in the signed-in account's repository ({did})"
        )));
    }
    if uri.collection() != Some(collection) {
        return Err(Error::Invalid(format!(
            "{uri} is not a {collection} record"
        )));
    }
    let rkey = uri
        .rkey()
        .ok_or_else(|| Error::Invalid(format!("{uri} names no record")))?;
    RecordKey::new(rkey).map_err(|e| Error::Invalid(format!("{uri}: record key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use atmo_types::xrpc::NoError;

    #[test]
    fn own_rkey_accepts_only_own_records_of_the_collection() {
        let did = Did::new("did:plc:alice0000000000000000000").unwrap();
        let ok =
            AtUri::new("at://did:plc:alice0000000000000000000/app.bsky.feed.like/3abc").unwrap();
        let key = own_rkey::<NoError>(Some(did.clone()), &ok, "app.bsky.feed.like").unwrap();
        assert_eq!(key.as_str(), "3abc");

        let other =
            AtUri::new("at://did:plc:bob00000000000000000000/app.bsky.feed.like/3abc").unwrap();
        let e = own_rkey::<NoError>(Some(did.clone()), &other, "app.bsky.feed.like").unwrap_err();
        assert!(
            e.to_string()
                .contains("not in the signed-in account's repository"),
            "{e}"
        );

        let e = own_rkey::<NoError>(Some(did.clone()), &ok, "app.bsky.feed.repost").unwrap_err();
        assert!(
            e.to_string()
                .contains("is not a app.bsky.feed.repost record"),
            "{e}"
        );

        let repo = AtUri::new("at://did:plc:alice0000000000000000000").unwrap();
        assert!(matches!(
            own_rkey::<NoError>(Some(did), &repo, "app.bsky.feed.like"),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            own_rkey::<NoError>(None, &ok, "app.bsky.feed.like"),
            Err(Error::Session(SessionError::NoSession))
        ));
    }
}
