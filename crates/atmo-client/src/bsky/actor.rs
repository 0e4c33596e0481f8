//! Profiles: reading profile views (from the AppView) and editing the
//! signed-in account's own profile record.

use atmo_api::app::bsky::actor::defs::ProfileViewDetailed;
use atmo_api::app::bsky::actor::profile::Profile;
use atmo_api::app::bsky::actor::{get_profile, get_profiles};
use atmo_api::com::atproto::repo::{get_record, put_record};
use atmo_types::{AtIdentifier, RecordKey};

use crate::agent::Agent;
use crate::error::{AnyError, Error};
use crate::records::{RecordRef, Swap};
use crate::session::{SessionError, SessionManager};

/// How many times [`Agent::upsert_profile`] reads and writes before giving
/// up on a profile that keeps changing under it.
pub const UPSERT_ATTEMPTS: usize = 5;

/// The most actors `app.bsky.actor.getProfiles` takes in one call.
pub const PROFILES_PER_CALL: usize = 25;

impl<M: SessionManager> Agent<M> {
    /// The profile view of an account, by DID or handle
    /// (`app.bsky.actor.getProfile`: answered by the AppView, through the
    /// PDS).
    pub async fn get_profile(
        &self,
        actor: impl Into<AtIdentifier>,
    ) -> Result<ProfileViewDetailed, Error<get_profile::Error>> {
        self.call::<get_profile::GetProfile>(get_profile::Parameters::new(actor.into()), ())
            .await
    }

    /// The profile views of several accounts (`app.bsky.actor.getProfiles`,
    /// one call per [`PROFILES_PER_CALL`] actors), in the order the server
    /// answers; accounts it does not know are left out.
    pub async fn get_profiles<A: Into<AtIdentifier>>(
        &self,
        actors: impl IntoIterator<Item = A>,
    ) -> Result<Vec<ProfileViewDetailed>, Error<get_profiles::Error>> {
        let actors: Vec<AtIdentifier> = actors.into_iter().map(Into::into).collect();
        let mut out = Vec::with_capacity(actors.len());
        for chunk in actors.chunks(PROFILES_PER_CALL) {
            let params = get_profiles::Parameters::new(chunk.to_vec());
            let page = self.call::<get_profiles::GetProfiles>(params, ()).await?;
            out.extend(page.profiles);
        }
        Ok(out)
    }

    /// Creates or edits the signed-in account's profile record
    /// (`app.bsky.actor.profile`, key `self`): reads it (an empty profile
    /// when there is none), lets `edit` change it, and writes it back only if
    /// nobody changed it meanwhile (`swapRecord`). When someone did (the
    /// write fails with `InvalidSwap`), it reads again and calls `edit`
    /// again, up to [`UPSERT_ATTEMPTS`] times; then the last `InvalidSwap`
    /// is returned.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// agent.upsert_profile(|p| p.display_name = Some("Alice".into())).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upsert_profile<F>(&self, mut edit: F) -> Result<RecordRef, AnyError>
    where
        F: FnMut(&mut Profile) + Send,
    {
        let did = self
            .did()
            .ok_or(AnyError::Session(SessionError::NoSession))?;
        let me = RecordKey::new("self")
            .map_err(|e| AnyError::Invalid(format!("record key self: {e}")))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (mut profile, swap) = match self
                .get_record::<Profile>(AtIdentifier::from(did.clone()), me.clone())
                .await
            {
                Ok(found) => {
                    let swap = match found.cid {
                        Some(cid) => Swap::record_is(cid),
                        None => {
                            return Err(Error::Invalid(format!(
                                "{} came without its CID: cannot update it safely",
                                found.uri
                            )))
                        }
                    };
                    (found.value, swap)
                }
                Err(Error::Api {
                    error: get_record::Error::RecordNotFound(_),
                    ..
                }) => (Profile::default(), Swap::record_absent()),
                Err(e) => return Err(e.into()),
            };
            edit(&mut profile);
            match self.put_record_with(me.clone(), &profile, swap).await {
                Err(Error::Api {
                    error: put_record::Error::InvalidSwap(_),
                    ..
                }) if attempt < UPSERT_ATTEMPTS => continue,
                other => return other.map_err(Into::into),
            }
        }
    }
}
