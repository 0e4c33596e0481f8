//! The account's Bluesky preferences (`app.bsky.actor.getPreferences` and
//! `putPreferences`), read into [`BskyPreferences`] and changed by one
//! helper per setting, as `@atproto/api`'s agent has them.
//!
//! Every write helper is a read-modify-write ([`Agent::update_preferences`]):
//! it reads the items, changes the ones it is about, and writes the list
//! back, under a lock shared by the agent and its clones, so two helpers
//! called at once on one agent never lose each other's change. Items it
//! does not know (a newer preference type, properties our lexicons do not
//! declare) are written back exactly as they were read. Across separate
//! sessions, the later `putPreferences` wins, as with `@atproto/api`.
//!
//! | `@atproto/api` | here |
//! |---|---|
//! | `getPreferences` | [`Agent::get_preferences`], [`Agent::get_preferences_with_app_labelers`] |
//! | `overwriteSavedFeeds`, `updateSavedFeeds`, `addSavedFeeds`, `removeSavedFeeds` | [`Agent::overwrite_saved_feeds`], [`Agent::update_saved_feeds`], [`Agent::add_saved_feeds`], [`Agent::remove_saved_feeds`] |
//! | `setSavedFeeds`, `addSavedFeed`, `removeSavedFeed`, `addPinnedFeed`, `removePinnedFeed` (deprecated, v1) | [`Agent::set_saved_feeds`], [`Agent::add_saved_feed`], [`Agent::remove_saved_feed`], [`Agent::add_pinned_feed`], [`Agent::remove_pinned_feed`] |
//! | `setAdultContentEnabled`, `setContentLabelPref`, `addLabeler`, `removeLabeler` | [`Agent::set_adult_content_enabled`], [`Agent::set_content_label_pref`], [`Agent::add_labeler`], [`Agent::remove_labeler`] |
//! | `addMutedWord(s)`, `upsertMutedWords`, `updateMutedWord`, `removeMutedWord(s)` | [`Agent::add_muted_word`], [`Agent::add_muted_words`], [`Agent::upsert_muted_words`], [`Agent::update_muted_word`], [`Agent::remove_muted_word`], [`Agent::remove_muted_words`] |
//! | `hidePost`, `unhidePost` | [`Agent::hide_post`], [`Agent::unhide_post`] |
//! | `setPersonalDetails`, `setFeedViewPrefs`, `setThreadViewPrefs`, `setInterestsPref` | [`Agent::set_personal_details`], [`Agent::set_feed_view_prefs`], [`Agent::set_thread_view_prefs`], [`Agent::set_interests_pref`] |
//! | `bskyAppQueueNudges`, `bskyAppDismissNudges`, `bskyAppSetActiveProgressGuide`, `setIsBetaUser`, `bskyAppUpsertNux`, `bskyAppRemoveNuxs` | [`Agent::bsky_app_queue_nudges`], [`Agent::bsky_app_dismiss_nudges`], [`Agent::bsky_app_set_active_progress_guide`], [`Agent::set_is_beta_user`], [`Agent::bsky_app_upsert_nux`], [`Agent::bsky_app_remove_nuxs`] |
//! | `setPostInteractionSettings`, `setVerificationPrefs`, `updateLiveEventPreferences` | [`Agent::set_post_interaction_settings`], [`Agent::set_verification_prefs`], [`Agent::update_live_event_preferences`] |
//! | `updatePreferences` (private there) | [`Agent::update_preferences`] over a [`PreferenceList`] |
//!
//! The moderation part ([`ModerationPreferences`]) is plain data; the
//! items themselves are in [`BskyPreferences::items`] for code that reads
//! them its own way.
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
//! use atmo_client::atmo_api::app::bsky::actor::defs::ContentLabelPrefVisibility;
//! agent.set_adult_content_enabled(true).await?;
//! agent.set_content_label_pref("porn", ContentLabelPrefVisibility::Warn, None).await?;
//! let prefs = agent.get_preferences().await?;
//! assert!(prefs.moderation_prefs.adult_content_enabled);
//! # Ok(()) }
//! ```

mod list;
mod read;
mod write;

pub use list::{PreferenceList, PreferenceType};
pub use read::{
    BskyAppState, BskyPreferences, FeedViewPreferences, InterestsPreferences, LabelerPreferences,
    LegacyFeeds, LiveEventPreferencesView, ModerationPreferences, ThreadViewPreferences,
    BSKY_LABELER_DID, DEFAULT_LABEL_SETTINGS, LEGACY_LABEL_NAMES,
};
pub use write::{
    muted_word_is_active, sanitize_muted_word_value, FeedViewPrefsUpdate, LiveEventAction,
    NewMutedWord, NewSavedFeed,
};

#[allow(unused_imports)] // for the links in the docs above
use crate::agent::Agent;

/// A new TID for a saved feed's or muted word's `id`: the current time,
/// strictly after every TID this process made before (so ids made in one
/// call differ).
pub(crate) fn next_tid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = atmo_types::Tid::now(0).timestamp_micros();
    let mut prev = LAST.load(Ordering::Relaxed);
    let micros = loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(p) => prev = p,
        }
    };
    atmo_types::Tid::from_parts(micros, 0).as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_are_valid_and_increase() {
        let a = next_tid();
        let b = next_tid();
        assert!(b > a, "{a} {b}");
        assert!(atmo_types::Tid::new(&a).is_ok());
    }
}
