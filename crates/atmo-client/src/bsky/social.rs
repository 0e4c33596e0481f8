//! Likes, reposts, follows and blocks, and their undo: each one write to the
//! signed-in account's repository.

use atmo_api::app::bsky::feed::{like::Like, repost::Repost};
use atmo_api::app::bsky::graph::{block::Block, follow::Follow};
use atmo_api::com::atproto::repo::{create_record, delete_record};
use atmo_types::object::Record;
use atmo_types::{AtUri, Did};

use super::{now, own_rkey, strong_ref};
use crate::agent::Agent;
use crate::error::Error;
use crate::records::RecordRef;
use crate::session::SessionManager;

impl<M: SessionManager> Agent<M> {
    /// Likes a post (or any record: a feed generator, a list): writes an
    /// `app.bsky.feed.like` of it. Keep the returned URI to [`Agent::unlike`].
    pub async fn like(
        &self,
        subject: &RecordRef,
    ) -> Result<RecordRef, Error<create_record::Error>> {
        let like = Like::new(strong_ref(subject), now()?);
        self.create_record(&like, None).await
    }

    /// Removes a like written by [`Agent::like`] (the like's URI, not the
    /// post's).
    pub async fn unlike(&self, like: &AtUri) -> Result<(), Error<delete_record::Error>> {
        self.delete_own::<Like>(like).await
    }

    /// Reposts a post: writes an `app.bsky.feed.repost` of it.
    pub async fn repost(
        &self,
        subject: &RecordRef,
    ) -> Result<RecordRef, Error<create_record::Error>> {
        let repost = Repost::new(strong_ref(subject), now()?);
        self.create_record(&repost, None).await
    }

    /// Removes a repost written by [`Agent::repost`] (the repost's URI).
    pub async fn unrepost(&self, repost: &AtUri) -> Result<(), Error<delete_record::Error>> {
        self.delete_own::<Repost>(repost).await
    }

    /// Follows an account: writes an `app.bsky.graph.follow` of its DID.
    pub async fn follow(&self, subject: &Did) -> Result<RecordRef, Error<create_record::Error>> {
        let follow = Follow::new(subject.clone(), now()?);
        self.create_record(&follow, None).await
    }

    /// Removes a follow written by [`Agent::follow`] (the follow's URI).
    pub async fn unfollow(&self, follow: &AtUri) -> Result<(), Error<delete_record::Error>> {
        self.delete_own::<Follow>(follow).await
    }

    /// Blocks an account: writes an `app.bsky.graph.block` of its DID.
    pub async fn block(&self, subject: &Did) -> Result<RecordRef, Error<create_record::Error>> {
        let block = Block::new(subject.clone(), now()?);
        self.create_record(&block, None).await
    }

    /// Removes a block written by [`Agent::block`] (the block's URI).
    pub async fn unblock(&self, block: &AtUri) -> Result<(), Error<delete_record::Error>> {
        self.delete_own::<Block>(block).await
    }

    /// Deletes one of the signed-in account's posts.
    pub async fn delete_post(&self, post: &AtUri) -> Result<(), Error<delete_record::Error>> {
        self.delete_own::<atmo_api::app::bsky::feed::post::Post>(post)
            .await
    }

    /// Deletes the record at `uri`, which must be one of type `R` in the
    /// signed-in account's repository (checked before anything is sent).
    async fn delete_own<R: Record>(&self, uri: &AtUri) -> Result<(), Error<delete_record::Error>> {
        let rkey = own_rkey(self.did(), uri, R::NSID)?;
        self.delete_record::<R>(rkey).await
    }
}
