//! The agent's side of moderation: the options a decision needs, fetched
//! from the account's preferences and its labelers' service records, and
//! the `atproto-accept-labelers` header that makes the AppView return
//! those labelers' labels.

use std::collections::HashMap;

use atmo_api::app::bsky::labeler::get_services::{self, GetServices};
use atmo_types::Did;

use super::{accept_labelers_header, label_defs_from_services, ModerationOpts};
use crate::agent::Agent;
use crate::bsky::{BskyPreferences, BSKY_LABELER_DID};
use crate::error::AnyError;
use crate::session::SessionManager;

/// How many labeler DIDs go into one `app.bsky.labeler.getServices` call;
/// more labelers than this are fetched in several calls.
pub const LABELERS_PER_CALL: usize = 25;

/// The labelers an app applies for everyone when it sets none of its own:
/// Bluesky's moderation labeler, as `@atproto/api` has by default.
fn default_app_labelers() -> Result<Vec<Did>, AnyError> {
    Did::new(BSKY_LABELER_DID)
        .map(|d| vec![d])
        .map_err(|e| AnyError::Invalid(format!("{BSKY_LABELER_DID}: {e}")))
}

/// The app's labelers and the ones the user subscribed to, read from
/// preferences laid out by [`BskyPreferences::from_items`]: the moderation
/// labelers are the app's first, then those of the `labelersPref` item.
fn split_labelers(prefs: &BskyPreferences) -> (Vec<Did>, Vec<Did>) {
    let all: Vec<Did> = prefs
        .moderation_prefs
        .labelers
        .iter()
        .map(|l| l.did.clone())
        .collect();
    let subscribed = prefs.labeler_dids();
    let app_count = all.len().saturating_sub(subscribed.len());
    let app: Vec<Did> = all[..app_count].to_vec();
    let subscribed = subscribed
        .into_iter()
        .filter(|d| !app.contains(d))
        .collect();
    (app, subscribed)
}

/// The `atproto-accept-labelers` value for these preferences: the app's
/// labelers with `;redact`, then the user's (each once).
///
/// ```
/// use atmo_client::bsky::{BskyPreferences, PreferenceList};
/// use atmo_client::moderation::accept_labelers_for;
/// use serde_json::json;
///
/// let list = PreferenceList::new(vec![json!({
///     "$type": "app.bsky.actor.defs#labelersPref",
///     "labelers": [{"did": "did:plc:mine"}],
/// })]);
/// let prefs = BskyPreferences::from_items(&list, &["did:plc:app".parse()?]);
/// assert_eq!(accept_labelers_for(&prefs), "did:plc:app;redact, did:plc:mine");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_labelers_for(prefs: &BskyPreferences) -> String {
    let (app, subscribed) = split_labelers(prefs);
    accept_labelers_header(&app, &subscribed, None)
}

impl<M: SessionManager> Agent<M> {
    /// Everything [`moderate_post`](super::moderate_post) and the other
    /// `moderate_*` functions need for the signed-in user, as
    /// `@atproto/api`'s `getPreferences` plus `getLabelDefinitions` give
    /// it: the preferences ([`Agent::get_preferences`], with Bluesky's
    /// moderation labeler [`BSKY_LABELER_DID`] as the app's labeler), and
    /// the label values each labeler in them defines, from
    /// `app.bsky.labeler.getServices` (detailed).
    ///
    /// Pair it with [`Agent::with_labelers_from`], so that the views the
    /// AppView returns carry those labelers' labels.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::moderation::{moderate_profile, ModerationContext};
    /// let opts = agent.moderation_opts().await?;
    /// let alice: atmo_client::atmo_types::Did = "did:plc:alice".parse()?;
    /// let profile = agent.get_profile(alice).await?;
    /// if moderate_profile(&profile, &opts).ui(ModerationContext::ProfileView).blur() {
    ///     println!("behind a warning");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn moderation_opts(&self) -> Result<ModerationOpts, AnyError> {
        self.moderation_opts_with_app_labelers(&default_app_labelers()?)
            .await
    }

    /// [`Agent::moderation_opts`] with these labelers as the app's instead
    /// of Bluesky's (`@atproto/api`'s `appLabelers`): an app running its
    /// own moderation service, or a test network, names it here; an empty
    /// list applies only the user's labelers.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let app = ["did:plc:my-apps-labeler".parse()?];
    /// let opts = agent.moderation_opts_with_app_labelers(&app).await?;
    /// assert_eq!(opts.prefs.labelers[0].did, app[0]);
    /// # Ok(()) }
    /// ```
    pub async fn moderation_opts_with_app_labelers(
        &self,
        app_labelers: &[Did],
    ) -> Result<ModerationOpts, AnyError> {
        let prefs = self.get_preferences_with_app_labelers(app_labelers).await?;
        self.moderation_opts_from(&prefs).await
    }

    /// The moderation options for preferences already read (one
    /// `getServices` call per [`LABELERS_PER_CALL`] labelers, none when
    /// there are none): the user, the preferences as
    /// [`ModerationPrefs`](super::ModerationPrefs), and the definitions of
    /// every labeler in them that has a service record. A labeler the
    /// AppView does not know has no definitions, so its custom values are
    /// ignored, as in `@atproto/api`.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let prefs = agent.get_preferences().await?;
    /// let opts = agent.moderation_opts_from(&prefs).await?;
    /// let reader = agent.with_labelers_from(&prefs);
    /// # let _ = (opts, reader);
    /// # Ok(()) }
    /// ```
    pub async fn moderation_opts_from(
        &self,
        prefs: &BskyPreferences,
    ) -> Result<ModerationOpts, AnyError> {
        let dids: Vec<Did> = prefs
            .moderation_prefs
            .labelers
            .iter()
            .map(|l| l.did.clone())
            .collect();
        let label_defs = self.label_definitions(&dids).await?;
        Ok(ModerationOpts {
            user_did: self.did(),
            prefs: prefs.moderation_prefs.to_moderation_prefs(),
            label_defs,
        })
    }

    /// The label values these labelers define, interpreted, by labeler DID
    /// (`@atproto/api`'s `getLabelDefinitions`): their detailed views from
    /// `app.bsky.labeler.getServices`. Labelers without a service record
    /// are absent from the map.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let labeler: atmo_client::atmo_types::Did = "did:plc:ar7c4by46qjdydhdevvrndac".parse()?;
    /// let defs = agent.label_definitions(&[labeler.clone()]).await?;
    /// for def in defs.get(&labeler).into_iter().flatten() {
    ///     println!("{}: {:?}", def.identifier, def.default_setting);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn label_definitions(
        &self,
        labelers: &[Did],
    ) -> Result<HashMap<Did, Vec<super::InterpretedLabelValueDefinition>>, AnyError> {
        let mut defs = HashMap::new();
        let mut unique: Vec<Did> = Vec::with_capacity(labelers.len());
        for did in labelers {
            if !unique.contains(did) {
                unique.push(did.clone());
            }
        }
        for chunk in unique.chunks(LABELERS_PER_CALL) {
            let mut params = get_services::Parameters::new(chunk.to_vec());
            params.detailed = true;
            let answer = self.call::<GetServices>(params, ()).await?;
            defs.extend(label_defs_from_services(&answer));
        }
        Ok(defs)
    }

    /// A clone sharing the session whose calls send
    /// `atproto-accept-labelers` for these preferences ([`accept_labelers_for`]:
    /// the app's labelers with `;redact`, then the user's), as
    /// `@atproto/api`'s agent does once the app configures its labelers,
    /// so the AppView's views carry the labels the user's moderation
    /// applies. Without the header the AppView picks labelers of its own.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::feed::get_timeline::{GetTimeline, Parameters};
    /// let prefs = agent.get_preferences().await?;
    /// let reader = agent.with_labelers_from(&prefs);
    /// let timeline = reader.call::<GetTimeline>(Parameters::default(), ()).await?;
    /// println!("{} posts", timeline.feed.len());
    /// # Ok(()) }
    /// ```
    pub fn with_labelers_from(&self, prefs: &BskyPreferences) -> Self {
        let (app, subscribed) = split_labelers(prefs);
        let values: Vec<String> = app
            .iter()
            .map(|d| format!("{d};redact"))
            .chain(subscribed.iter().map(|d| d.as_str().to_owned()))
            .collect();
        self.with_accept_labelers(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bsky::PreferenceList;
    use serde_json::json;

    fn did(s: &str) -> Did {
        Did::new(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn moderation_agent_header_lists_app_then_subscribed_once() {
        let list = PreferenceList::new(vec![json!({
            "$type": "app.bsky.actor.defs#labelersPref",
            "labelers": [{"did": "did:plc:app"}, {"did": "did:plc:b"}],
        })]);
        let prefs = BskyPreferences::from_items(&list, &[did("did:plc:app")]);
        assert_eq!(accept_labelers_for(&prefs), "did:plc:app;redact, did:plc:b");
    }

    #[test]
    fn moderation_agent_header_without_labelers_pref_is_the_app_labelers() {
        let prefs = BskyPreferences::from_items(&PreferenceList::default(), &[did("did:plc:a")]);
        assert_eq!(accept_labelers_for(&prefs), "did:plc:a;redact");
        let none = BskyPreferences::from_items(&PreferenceList::default(), &[]);
        assert_eq!(accept_labelers_for(&none), "");
    }
}
