//! The write helpers: one read-modify-write each, as `@atproto/api` has them.

use atmo_api::app::bsky::actor::defs::{
    AdultContentPref, BskyAppProgressGuide, BskyAppStatePref, ContentLabelPref,
    ContentLabelPrefVisibility, FeedViewPref, HiddenPostsPref, InterestsPref, LabelerPrefItem,
    LabelersPref, LiveEventPreferences, MutedWord, MutedWordActorTarget, MutedWordTarget,
    MutedWordsPref, Nux, PersonalDetailsPref, PostInteractionSettingsPref, SavedFeed,
    SavedFeedType, SavedFeedsPref, SavedFeedsPrefV2, ThreadViewPref, ThreadViewPrefSort,
    VerificationPrefs,
};
use atmo_types::object::Open;
use atmo_types::{AtUri, Datetime, Did};

use super::list::{type_of, PreferenceList, PreferenceType};
use super::next_tid;
use super::read::LegacyFeeds;
use crate::agent::Agent;
use crate::error::{AnyError, Error};
use crate::session::SessionManager;

/// The type of a v1 saved feed URI: a feed generator or a list; `None` for
/// URIs of other collections.
pub(super) fn saved_feed_type_of(uri: &AtUri) -> Option<SavedFeedType> {
    match uri.collection() {
        Some("app.bsky.feed.generator") => Some(SavedFeedType::Feed),
        Some("app.bsky.graph.list") => Some(SavedFeedType::List),
        _ => None,
    }
}

/// Checks a saved feed as `@atproto/api` does: an id, and for a `feed` or
/// `list` a URI of that collection.
fn validate_saved_feed(feed: &SavedFeed) -> Result<(), AnyError> {
    if feed.id.is_empty() {
        return Err(Error::Invalid(
            "saved feed must have an id (use a TID)".to_owned(),
        ));
    }
    let want = match feed.r#type.known() {
        Some(SavedFeedType::Feed) => "app.bsky.feed.generator",
        Some(SavedFeedType::List) => "app.bsky.graph.list",
        _ => return Ok(()),
    };
    let uri = AtUri::new(feed.value.as_str()).map_err(|e| {
        AnyError::Invalid(format!(
            "saved feed {}: {:?} is not an AT URI: {e}",
            feed.id, feed.value
        ))
    })?;
    if uri.collection() != Some(want) {
        return Err(Error::Invalid(format!(
            "saved feed {} of type '{}' must be a {want} URI, got {uri}",
            feed.id,
            feed.r#type.as_str()
        )));
    }
    Ok(())
}

/// A feed to save with [`Agent::add_saved_feeds`] (it gets its id there).
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::SavedFeedType;
/// use atmo_client::bsky::NewSavedFeed;
/// let f = NewSavedFeed { r#type: SavedFeedType::Timeline, value: "following".into(), pinned: true };
/// assert_eq!(f.value, "following");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NewSavedFeed {
    /// `feed`, `list` or `timeline`.
    pub r#type: SavedFeedType,
    /// The feed's or list's AT URI, or `following` for the timeline.
    pub value: String,
    /// Pinned (shown as a tab).
    pub pinned: bool,
}

impl NewSavedFeed {
    /// A feed generator by URI.
    ///
    /// ```
    /// use atmo_client::bsky::NewSavedFeed;
    /// let f = NewSavedFeed::feed("at://did:plc:a/app.bsky.feed.generator/f", true);
    /// assert!(f.pinned);
    /// ```
    pub fn feed(uri: impl Into<String>, pinned: bool) -> Self {
        NewSavedFeed {
            r#type: SavedFeedType::Feed,
            value: uri.into(),
            pinned,
        }
    }

    /// A list by URI.
    ///
    /// ```
    /// use atmo_client::bsky::NewSavedFeed;
    /// let f = NewSavedFeed::list("at://did:plc:a/app.bsky.graph.list/l", false);
    /// assert!(!f.pinned);
    /// ```
    pub fn list(uri: impl Into<String>, pinned: bool) -> Self {
        NewSavedFeed {
            r#type: SavedFeedType::List,
            value: uri.into(),
            pinned,
        }
    }
}

/// The feed view settings to change with [`Agent::set_feed_view_prefs`]:
/// `None` keeps what is stored.
///
/// ```
/// use atmo_client::bsky::FeedViewPrefsUpdate;
/// let only_reposts = FeedViewPrefsUpdate { hide_reposts: Some(true), ..Default::default() };
/// assert_eq!(only_reposts.hide_replies, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedViewPrefsUpdate {
    /// Hide replies.
    pub hide_replies: Option<bool>,
    /// Hide replies by accounts the user does not follow.
    pub hide_replies_by_unfollowed: Option<bool>,
    /// Hide replies with fewer likes than this.
    pub hide_replies_by_like_count: Option<i64>,
    /// Hide reposts.
    pub hide_reposts: Option<bool>,
    /// Hide quote posts.
    pub hide_quote_posts: Option<bool>,
}

/// A muted word to add with [`Agent::add_muted_word`] (it gets its id
/// there).
///
/// ```
/// use atmo_client::bsky::NewMutedWord;
/// let w = NewMutedWord { expires_at: None, ..NewMutedWord::new("#tag") };
/// assert_eq!(w.value, "#tag");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NewMutedWord {
    /// The word, phrase or tag (a leading `#` is dropped).
    pub value: String,
    /// Where it applies: post text (`content`) and/or tags (`tag`).
    pub targets: Vec<Open<MutedWordTarget>>,
    /// Whose posts: `all` (the default) or `exclude-following`.
    pub actor_target: Option<Open<MutedWordActorTarget>>,
    /// When it stops applying.
    pub expires_at: Option<Datetime>,
}

impl NewMutedWord {
    /// A word muted in text and tags, for everyone, for ever.
    ///
    /// ```
    /// use atmo_client::bsky::NewMutedWord;
    /// let w = NewMutedWord::new("spoiler");
    /// assert_eq!(w.targets.len(), 2);
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        NewMutedWord {
            value: value.into(),
            targets: vec![MutedWordTarget::Content.into(), MutedWordTarget::Tag.into()],
            actor_target: None,
            expires_at: None,
        }
    }
}

/// A change to the live-event preferences
/// ([`Agent::update_live_event_preferences`]).
///
/// ```
/// use atmo_client::bsky::LiveEventAction;
/// let hide = LiveEventAction::HideFeed("event-1".into());
/// assert_ne!(hide, LiveEventAction::ToggleHideAllFeeds);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveEventAction {
    /// Hide the feed with this id.
    HideFeed(String),
    /// Show the feed with this id again.
    UnhideFeed(String),
    /// Flip "hide every live-event feed".
    ToggleHideAllFeeds,
}

/// A muted word's value as `@atproto/api` stores it: trimmed, without a
/// leading `#` (unless an emoji presentation selector follows it), without
/// the first run of line breaks and invisible joiners. An empty result
/// means there is nothing to mute.
///
/// ```
/// use atmo_client::bsky::sanitize_muted_word_value;
/// assert_eq!(sanitize_muted_word_value("  #rust "), "rust");
/// assert_eq!(sanitize_muted_word_value("#\u{fe0f}\u{20e3}"), "#\u{fe0f}\u{20e3}");
/// assert_eq!(sanitize_muted_word_value("a\u{200b}b"), "ab");
/// ```
pub fn sanitize_muted_word_value(value: &str) -> String {
    let trimmed = value.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let mut s = match trimmed.strip_prefix('#') {
        Some(rest) if !rest.starts_with('\u{fe0f}') => rest.to_owned(),
        _ => trimmed.to_owned(),
    };
    let invisible = |c: char| {
        matches!(
            c,
            '\r' | '\n' | '\u{00ad}' | '\u{2060}' | '\u{200d}' | '\u{200c}' | '\u{200b}'
        )
    };
    if let Some(start) = s.find(invisible) {
        let len: usize = s[start..]
            .chars()
            .take_while(|c| invisible(*c))
            .map(char::len_utf8)
            .sum();
        s.replace_range(start..start + len, "");
    }
    s
}

/// True while a muted word applies at `now`: it has no `expiresAt`, or it
/// is later than `now`.
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::MutedWord;
/// use atmo_client::atmo_types::Datetime;
/// use atmo_client::bsky::muted_word_is_active;
/// let mut w = MutedWord::new("x".into(), vec![]);
/// let now = Datetime::new("2025-01-01T00:00:00Z").unwrap();
/// assert!(muted_word_is_active(&w, &now));
/// w.expires_at = Some(Datetime::new("2024-12-31T00:00:00Z").unwrap());
/// assert!(!muted_word_is_active(&w, &now));
/// ```
pub fn muted_word_is_active(word: &MutedWord, now: &Datetime) -> bool {
    word.expires_at
        .as_ref()
        .is_none_or(|at| at.unix_micros() > now.unix_micros())
}

/// Whether a stored muted word is the one `wanted` names: by id, or for a
/// stored word without id (older apps), by value.
fn same_muted_word(stored: &MutedWord, wanted: &MutedWord) -> bool {
    match &stored.id {
        Some(id) => wanted.id.as_ref() == Some(id),
        None => stored.value == wanted.value,
    }
}

/// Gives every muted word without an id one.
fn give_ids(items: &mut [MutedWord]) {
    for item in items {
        if item.id.is_none() {
            item.id = Some(next_tid());
        }
    }
}

/// A new muted word from its parts: sanitized value, `all` by default.
fn muted_word_from(value: String, word: &NewMutedWord) -> MutedWord {
    let mut w = MutedWord::new(value, word.targets.clone());
    w.id = Some(next_tid());
    w.actor_target = word
        .actor_target
        .clone()
        .unwrap_or(Open::Known(MutedWordActorTarget::All));
    w.expires_at.clone_from(&word.expires_at);
    w
}

/// Appends the sanitized words to the muted words item (created when
/// missing), giving old words ids.
fn add_muted_words_to(list: &mut PreferenceList, words: &[NewMutedWord]) {
    let new: Vec<MutedWord> = words
        .iter()
        .filter_map(|w| {
            let value = sanitize_muted_word_value(&w.value);
            (!value.is_empty()).then(|| muted_word_from(value, w))
        })
        .collect();
    if new.is_empty() {
        return;
    }
    let pref = match list.last::<MutedWordsPref>() {
        Some(mut pref) => {
            pref.items.extend(new);
            give_ids(&mut pref.items);
            pref
        }
        None => MutedWordsPref::new(new),
    };
    list.replace(pref);
}

/// `uris` without duplicates, in first-seen order.
fn unique(uris: impl IntoIterator<Item = AtUri>) -> Vec<AtUri> {
    let mut out: Vec<AtUri> = Vec::new();
    for uri in uris {
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    out
}

/// The JSON string at `key` of an item.
fn str_at<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(serde_json::Value::as_str)
}

/// The legacy name `@atproto/api` also writes for a global label setting.
fn legacy_name_of(label: &str) -> Option<&'static str> {
    super::LEGACY_LABEL_NAMES
        .iter()
        .find(|(_, current)| *current == label)
        .map(|(legacy, _)| *legacy)
}

/// Sets a content label preference in `list` as `@atproto/api` does: the
/// item for (`label`, `labeler`) is replaced at the end, keeping its other
/// properties.
fn set_label_pref(
    list: &mut PreferenceList,
    label: &str,
    labeler: Option<&Did>,
    visibility: ContentLabelPrefVisibility,
) {
    let matches = |v: &serde_json::Value| {
        type_of(v) == Some(ContentLabelPref::TYPE)
            && str_at(v, "label") == Some(label)
            && str_at(v, "labelerDid") == labeler.map(Did::as_str)
    };
    let mut pref = list
        .all::<ContentLabelPref>()
        .into_iter()
        .rev()
        .find(|p| p.label == label && p.labeler_did.as_ref() == labeler)
        .unwrap_or_else(|| ContentLabelPref::new(label.to_owned(), visibility.into()));
    pref.labeler_did = labeler.cloned();
    pref.visibility = visibility.into();
    list.retain(|v| !matches(v));
    list.push(pref);
}

/// The saved feeds (v2) read-modify-write of `@atproto/api`
/// (`updateSavedFeedsV2Preferences`): `edit` gets the stored feeds and
/// returns the new ones, stored pinned first (otherwise in order). When a
/// v1 item exists it gets the feeds and lists too (v2 is written back to
/// v1, never the other way). Returns what `edit` returned.
async fn update_saved_feeds_v2<M, F>(agent: &Agent<M>, edit: F) -> Result<Vec<SavedFeed>, AnyError>
where
    M: SessionManager,
    F: FnOnce(Vec<SavedFeed>) -> Vec<SavedFeed> + Send,
{
    agent
        .update_preferences(|list| {
            let mut v2 = list
                .last::<SavedFeedsPrefV2>()
                .unwrap_or_else(|| SavedFeedsPrefV2::new(Vec::new()));
            let feeds = edit(std::mem::take(&mut v2.items));
            let mut sorted = feeds.clone();
            sorted.sort_by_key(|f| !f.pinned);
            v2.items = sorted;
            if let Some(mut v1) = list.last::<SavedFeedsPref>() {
                let mut saved = Vec::new();
                let mut pinned = Vec::new();
                for f in &v2.items {
                    if !matches!(
                        f.r#type.known(),
                        Some(SavedFeedType::Feed | SavedFeedType::List)
                    ) {
                        continue;
                    }
                    let Ok(uri) = AtUri::new(f.value.as_str()) else {
                        continue;
                    };
                    if f.pinned {
                        pinned.push(uri.clone());
                    }
                    saved.push(uri);
                }
                v1.saved = unique(std::mem::take(&mut v1.saved).into_iter().chain(saved));
                v1.pinned = unique(std::mem::take(&mut v1.pinned).into_iter().chain(pinned));
                list.replace(v2);
                list.replace(v1);
            } else {
                list.replace(v2);
            }
            Ok(feeds)
        })
        .await
}

/// The v1 saved feeds read-modify-write (`updateFeedPreferences`).
async fn update_feeds_v1<M, F>(agent: &Agent<M>, edit: F) -> Result<LegacyFeeds, AnyError>
where
    M: SessionManager,
    F: FnOnce(Vec<AtUri>, Vec<AtUri>) -> (Vec<AtUri>, Vec<AtUri>) + Send,
{
    agent
        .update_preferences(|list| {
            let mut v1 = list
                .last::<SavedFeedsPref>()
                .unwrap_or_else(|| SavedFeedsPref::new(Vec::new(), Vec::new()));
            let (saved, pinned) = edit(
                std::mem::take(&mut v1.saved),
                std::mem::take(&mut v1.pinned),
            );
            v1.saved.clone_from(&saved);
            v1.pinned.clone_from(&pinned);
            list.replace(v1);
            Ok(LegacyFeeds {
                saved: Some(saved),
                pinned: Some(pinned),
            })
        })
        .await
}

/// The app state item, changed by `edit` and written back.
async fn update_app_state<M, F>(agent: &Agent<M>, edit: F) -> Result<(), AnyError>
where
    M: SessionManager,
    F: FnOnce(&mut BskyAppStatePref) + Send,
{
    agent
        .update_preferences(|list| {
            let mut pref = list.last::<BskyAppStatePref>().unwrap_or_default();
            edit(&mut pref);
            list.replace(pref);
            Ok(())
        })
        .await
}

impl<M: SessionManager> Agent<M> {
    /// Replaces the saved feeds (v2) with `feeds` (`overwriteSavedFeeds`):
    /// each must have an id, feeds and lists URIs of their collection; a
    /// repeated id keeps its last occurrence. Stored pinned first. Returns
    /// the feeds as given (deduplicated).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::actor::defs::{SavedFeed, SavedFeedType};
    /// let following = SavedFeed::new("3kabc".into(), SavedFeedType::Timeline.into(), "following".into(), true);
    /// agent.overwrite_saved_feeds(vec![following]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn overwrite_saved_feeds(
        &self,
        feeds: Vec<SavedFeed>,
    ) -> Result<Vec<SavedFeed>, AnyError> {
        for f in &feeds {
            validate_saved_feed(f)?;
        }
        let mut unique: Vec<SavedFeed> = Vec::with_capacity(feeds.len());
        for f in feeds {
            unique.retain(|u| u.id != f.id);
            unique.push(f);
        }
        update_saved_feeds_v2(self, move |_| unique).await
    }

    /// Changes whether saved feeds are pinned, matched by id
    /// (`updateSavedFeeds`: only `pinned` changes). Returns every saved
    /// feed.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let mut feed = agent.get_preferences().await?.saved_feeds[0].clone();
    /// feed.pinned = false;
    /// agent.update_saved_feeds(vec![feed]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_saved_feeds(
        &self,
        updates: Vec<SavedFeed>,
    ) -> Result<Vec<SavedFeed>, AnyError> {
        for f in &updates {
            validate_saved_feed(f)?;
        }
        update_saved_feeds_v2(self, move |stored| {
            stored
                .into_iter()
                .map(|mut f| {
                    if let Some(u) = updates.iter().find(|u| u.id == f.id) {
                        f.pinned = u.pinned;
                    }
                    f
                })
                .collect()
        })
        .await
    }

    /// Saves feeds after the stored ones, each with a new TID as id
    /// (`addSavedFeeds`). Returns every saved feed.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::bsky::NewSavedFeed;
    /// agent
    ///     .add_saved_feeds(vec![NewSavedFeed::feed("at://did:plc:a/app.bsky.feed.generator/f", true)])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_saved_feeds(
        &self,
        feeds: Vec<NewSavedFeed>,
    ) -> Result<Vec<SavedFeed>, AnyError> {
        let new: Vec<SavedFeed> = feeds
            .into_iter()
            .map(|f| SavedFeed::new(next_tid(), f.r#type.into(), f.value, f.pinned))
            .collect();
        for f in &new {
            validate_saved_feed(f)?;
        }
        update_saved_feeds_v2(self, move |mut stored| {
            stored.extend(new);
            stored
        })
        .await
    }

    /// Removes saved feeds by id (`removeSavedFeeds`). Returns every saved
    /// feed left.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// agent.remove_saved_feeds(["3kabc"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove_saved_feeds<S: AsRef<str>>(
        &self,
        ids: impl IntoIterator<Item = S>,
    ) -> Result<Vec<SavedFeed>, AnyError> {
        let ids: Vec<String> = ids.into_iter().map(|s| s.as_ref().to_owned()).collect();
        update_saved_feeds_v2(self, move |stored| {
            stored
                .into_iter()
                .filter(|f| !ids.contains(&f.id))
                .collect()
        })
        .await
    }

    /// Replaces the v1 saved and pinned feeds (`setSavedFeeds`).
    ///
    /// ```no_run
    /// # #![allow(deprecated)]
    /// # async fn demo(agent: atmo_client::AtpAgent, uri: atmo_client::atmo_types::AtUri) -> Result<(), atmo_client::AnyError> {
    /// agent.set_saved_feeds(vec![uri.clone()], vec![uri]).await?;
    /// # Ok(()) }
    /// ```
    #[deprecated(note = "v1 saved feeds: use `overwrite_saved_feeds`")]
    pub async fn set_saved_feeds(
        &self,
        saved: Vec<AtUri>,
        pinned: Vec<AtUri>,
    ) -> Result<LegacyFeeds, AnyError> {
        update_feeds_v1(self, move |_, _| (saved, pinned)).await
    }

    /// Saves a feed in v1 (moved to the end when already saved)
    /// (`addSavedFeed`).
    ///
    /// ```no_run
    /// # #![allow(deprecated)]
    /// # async fn demo(agent: atmo_client::AtpAgent, uri: atmo_client::atmo_types::AtUri) -> Result<(), atmo_client::AnyError> {
    /// agent.add_saved_feed(uri).await?;
    /// # Ok(()) }
    /// ```
    #[deprecated(note = "v1 saved feeds: use `add_saved_feeds`")]
    pub async fn add_saved_feed(&self, uri: AtUri) -> Result<LegacyFeeds, AnyError> {
        update_feeds_v1(self, move |mut saved, pinned| {
            saved.retain(|u| *u != uri);
            saved.push(uri);
            (saved, pinned)
        })
        .await
    }

    /// Removes a feed from the v1 saved and pinned feeds
    /// (`removeSavedFeed`).
    ///
    /// ```no_run
    /// # #![allow(deprecated)]
    /// # async fn demo(agent: atmo_client::AtpAgent, uri: atmo_client::atmo_types::AtUri) -> Result<(), atmo_client::AnyError> {
    /// agent.remove_saved_feed(uri).await?;
    /// # Ok(()) }
    /// ```
    #[deprecated(note = "v1 saved feeds: use `remove_saved_feeds`")]
    pub async fn remove_saved_feed(&self, uri: AtUri) -> Result<LegacyFeeds, AnyError> {
        update_feeds_v1(self, move |mut saved, mut pinned| {
            saved.retain(|u| *u != uri);
            pinned.retain(|u| *u != uri);
            (saved, pinned)
        })
        .await
    }

    /// Saves and pins a feed in v1 (moved to the end of both)
    /// (`addPinnedFeed`).
    ///
    /// ```no_run
    /// # #![allow(deprecated)]
    /// # async fn demo(agent: atmo_client::AtpAgent, uri: atmo_client::atmo_types::AtUri) -> Result<(), atmo_client::AnyError> {
    /// agent.add_pinned_feed(uri).await?;
    /// # Ok(()) }
    /// ```
    #[deprecated(note = "v1 saved feeds: use `add_saved_feeds` or `update_saved_feeds`")]
    pub async fn add_pinned_feed(&self, uri: AtUri) -> Result<LegacyFeeds, AnyError> {
        update_feeds_v1(self, move |mut saved, mut pinned| {
            saved.retain(|u| *u != uri);
            saved.push(uri.clone());
            pinned.retain(|u| *u != uri);
            pinned.push(uri);
            (saved, pinned)
        })
        .await
    }

    /// Unpins a feed in v1; it stays saved (`removePinnedFeed`).
    ///
    /// ```no_run
    /// # #![allow(deprecated)]
    /// # async fn demo(agent: atmo_client::AtpAgent, uri: atmo_client::atmo_types::AtUri) -> Result<(), atmo_client::AnyError> {
    /// agent.remove_pinned_feed(uri).await?;
    /// # Ok(()) }
    /// ```
    #[deprecated(note = "v1 saved feeds: use `update_saved_feeds` or `remove_saved_feeds`")]
    pub async fn remove_pinned_feed(&self, uri: AtUri) -> Result<LegacyFeeds, AnyError> {
        update_feeds_v1(self, move |saved, mut pinned| {
            pinned.retain(|u| *u != uri);
            (saved, pinned)
        })
        .await
    }

    /// Turns adult content on or off (`setAdultContentEnabled`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// agent.set_adult_content_enabled(true).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_adult_content_enabled(&self, enabled: bool) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list
                .last::<AdultContentPref>()
                .unwrap_or_else(|| AdultContentPref::new(enabled));
            pref.enabled = enabled;
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Sets what to do with a label value (`setContentLabelPref`): for one
    /// labeler's labels, or for everyone's with `labeler` `None`. A global
    /// setting of `porn`, `sexual` or `graphic-media` is also written under
    /// its legacy name (`nsfw`, `suggestive`, `gore`) for older apps.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::actor::defs::ContentLabelPrefVisibility;
    /// agent.set_content_label_pref("graphic-media", ContentLabelPrefVisibility::Hide, None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_content_label_pref(
        &self,
        label: &str,
        visibility: ContentLabelPrefVisibility,
        labeler: Option<&Did>,
    ) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            set_label_pref(list, label, labeler, visibility);
            if labeler.is_none() {
                if let Some(legacy) = legacy_name_of(label) {
                    set_label_pref(list, legacy, None, visibility);
                }
            }
            Ok(())
        })
        .await
    }

    /// Subscribes to a labeler (`addLabeler`; nothing changes when already
    /// subscribed). Calls after this should send its DID in
    /// `atproto-accept-labelers` ([`Agent::with_accept_labelers`]).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent, labeler: atmo_client::atmo_types::Did) -> Result<(), atmo_client::AnyError> {
    /// agent.add_labeler(&labeler).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_labeler(&self, did: &Did) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list
                .last::<LabelersPref>()
                .unwrap_or_else(|| LabelersPref::new(Vec::new()));
            if !pref.labelers.iter().any(|l| l.did == *did) {
                pref.labelers.push(LabelerPrefItem::new(did.clone()));
            }
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Unsubscribes from a labeler (`removeLabeler`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent, labeler: atmo_client::atmo_types::Did) -> Result<(), atmo_client::AnyError> {
    /// agent.remove_labeler(&labeler).await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove_labeler(&self, did: &Did) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list
                .last::<LabelersPref>()
                .unwrap_or_else(|| LabelersPref::new(Vec::new()));
            pref.labelers.retain(|l| l.did != *did);
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Sets the birth date (`setPersonalDetails`). The PDS takes this only
    /// from a session with full access (not an app password).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_types::Datetime;
    /// agent.set_personal_details(Datetime::new("1990-04-01T00:00:00.000Z")?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_personal_details(&self, birth_date: Datetime) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list.last::<PersonalDetailsPref>().unwrap_or_default();
            pref.birth_date = Some(birth_date);
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Changes how one feed shows (`setFeedViewPrefs`; `home` for the
    /// Following timeline): the settings given, over the stored ones.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::bsky::FeedViewPrefsUpdate;
    /// let update = FeedViewPrefsUpdate { hide_reposts: Some(true), ..Default::default() };
    /// agent.set_feed_view_prefs("home", update).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_feed_view_prefs(
        &self,
        feed: &str,
        update: FeedViewPrefsUpdate,
    ) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list
                .all::<FeedViewPref>()
                .into_iter()
                .rev()
                .find(|p| p.feed == feed)
                .unwrap_or_else(|| FeedViewPref::new(feed.to_owned()));
            if update.hide_replies.is_some() {
                pref.hide_replies = update.hide_replies;
            }
            if let Some(v) = update.hide_replies_by_unfollowed {
                pref.hide_replies_by_unfollowed = v;
            }
            if update.hide_replies_by_like_count.is_some() {
                pref.hide_replies_by_like_count = update.hide_replies_by_like_count;
            }
            if update.hide_reposts.is_some() {
                pref.hide_reposts = update.hide_reposts;
            }
            if update.hide_quote_posts.is_some() {
                pref.hide_quote_posts = update.hide_quote_posts;
            }
            list.retain(|v| {
                !(type_of(v) == Some(FeedViewPref::TYPE) && str_at(v, "feed") == Some(feed))
            });
            list.push(pref);
            Ok(())
        })
        .await
    }

    /// Sets the reply order of threads (`setThreadViewPrefs`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::actor::defs::ThreadViewPrefSort;
    /// agent.set_thread_view_prefs(ThreadViewPrefSort::Newest).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_thread_view_prefs(
        &self,
        sort: impl Into<Open<ThreadViewPrefSort>> + Send,
    ) -> Result<(), AnyError> {
        let sort = sort.into();
        self.update_preferences(|list| {
            let mut pref = list.last::<ThreadViewPref>().unwrap_or_default();
            pref.sort = Some(sort);
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Sets the interest tags, stamped with the current time
    /// (`setInterestsPref`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// agent.set_interests_pref(vec!["art".into(), "science".into()]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_interests_pref(&self, tags: Vec<String>) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list
                .last::<InterestsPref>()
                .unwrap_or_else(|| InterestsPref::new(Vec::new()));
            pref.tags = tags;
            pref.updated_at = Some(Datetime::now());
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Mutes a word or tag (`addMutedWord`): its value sanitized
    /// ([`sanitize_muted_word_value`]; nothing happens when that leaves it
    /// empty), a new TID as id, `all` accounts unless said. Words stored
    /// without an id get one.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::bsky::NewMutedWord;
    /// agent.add_muted_word(NewMutedWord::new("spoilers")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_muted_word(&self, word: NewMutedWord) -> Result<(), AnyError> {
        self.add_muted_words(vec![word]).await
    }

    /// Mutes several words (`addMutedWords`), in one write.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::bsky::NewMutedWord;
    /// agent.add_muted_words(vec![NewMutedWord::new("a"), NewMutedWord::new("b")]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_muted_words(&self, words: Vec<NewMutedWord>) -> Result<(), AnyError> {
        if words
            .iter()
            .all(|w| sanitize_muted_word_value(&w.value).is_empty())
        {
            return Ok(());
        }
        self.update_preferences(|list| {
            add_muted_words_to(list, &words);
            Ok(())
        })
        .await
    }

    /// The former name of [`Agent::add_muted_words`] (`upsertMutedWords`):
    /// it adds, it never updates.
    ///
    /// ```no_run
    /// # #![allow(deprecated)]
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::bsky::NewMutedWord;
    /// agent.upsert_muted_words(vec![NewMutedWord::new("a")]).await?;
    /// # Ok(()) }
    /// ```
    #[deprecated(note = "use `add_muted_words` or `add_muted_word`")]
    pub async fn upsert_muted_words(&self, words: Vec<NewMutedWord>) -> Result<(), AnyError> {
        self.add_muted_words(words).await
    }

    /// Changes a muted word (`updateMutedWord`), found by id (or, for a
    /// stored word without id, by value): it becomes `word` (value
    /// sanitized, the stored value kept if that leaves it empty; `all`
    /// accounts unless said; its id kept or made). Nothing changes when it
    /// is not found.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_types::Datetime;
    /// let prefs = agent.get_preferences().await?;
    /// let mut word = prefs.moderation_prefs.muted_words[0].clone();
    /// word.expires_at = Some(Datetime::new("2030-01-01T00:00:00.000Z")?);
    /// agent.update_muted_word(word).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_muted_word(&self, word: MutedWord) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let Some(mut pref) = list.last::<MutedWordsPref>() else {
                return Ok(());
            };
            for stored in &mut pref.items {
                if same_muted_word(stored, &word) {
                    let value = sanitize_muted_word_value(&word.value);
                    let mut next = MutedWord::new(
                        if value.is_empty() {
                            stored.value.clone()
                        } else {
                            value
                        },
                        word.targets.clone(),
                    );
                    next.id = Some(stored.id.clone().unwrap_or_else(next_tid));
                    next.actor_target = word.actor_target.clone();
                    next.expires_at.clone_from(&word.expires_at);
                    *stored = next;
                }
            }
            give_ids(&mut pref.items);
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Unmutes a word (`removeMutedWord`), found by id (or, for a stored
    /// word without id, by value).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let prefs = agent.get_preferences().await?;
    /// agent.remove_muted_word(&prefs.moderation_prefs.muted_words[0]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove_muted_word(&self, word: &MutedWord) -> Result<(), AnyError> {
        self.remove_muted_words(std::slice::from_ref(word)).await
    }

    /// Unmutes several words (`removeMutedWords`), in one write.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let prefs = agent.get_preferences().await?;
    /// agent.remove_muted_words(&prefs.moderation_prefs.muted_words).await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove_muted_words(&self, words: &[MutedWord]) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let Some(mut pref) = list.last::<MutedWordsPref>() else {
                return Ok(());
            };
            for word in words {
                if let Some(i) = pref.items.iter().position(|s| same_muted_word(s, word)) {
                    pref.items.remove(i);
                }
            }
            give_ids(&mut pref.items);
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Hides a post from the user's views (`hidePost`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent, post: atmo_client::atmo_types::AtUri) -> Result<(), atmo_client::AnyError> {
    /// agent.hide_post(&post).await?;
    /// # Ok(()) }
    /// ```
    pub async fn hide_post(&self, uri: &AtUri) -> Result<(), AnyError> {
        self.update_hidden_post(uri, true).await
    }

    /// Shows a hidden post again (`unhidePost`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent, post: atmo_client::atmo_types::AtUri) -> Result<(), atmo_client::AnyError> {
    /// agent.unhide_post(&post).await?;
    /// # Ok(()) }
    /// ```
    pub async fn unhide_post(&self, uri: &AtUri) -> Result<(), AnyError> {
        self.update_hidden_post(uri, false).await
    }

    async fn update_hidden_post(&self, uri: &AtUri, hide: bool) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list
                .last::<HiddenPostsPref>()
                .unwrap_or_else(|| HiddenPostsPref::new(Vec::new()));
            pref.items = unique(std::mem::take(&mut pref.items));
            if hide {
                if !pref.items.contains(uri) {
                    pref.items.push(uri.clone());
                }
            } else {
                pref.items.retain(|u| u != uri);
            }
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Queues nudges for the app to show (`bskyAppQueueNudges`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// agent.bsky_app_queue_nudges(vec!["tour".into()]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn bsky_app_queue_nudges(&self, nudges: Vec<String>) -> Result<(), AnyError> {
        update_app_state(self, move |p| {
            p.queued_nudges.get_or_insert_with(Vec::new).extend(nudges);
        })
        .await
    }

    /// Removes nudges from the queue (`bskyAppDismissNudges`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// agent.bsky_app_dismiss_nudges(&["tour"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn bsky_app_dismiss_nudges<S: AsRef<str> + Sync>(
        &self,
        nudges: &[S],
    ) -> Result<(), AnyError> {
        update_app_state(self, |p| {
            let mut queued = p.queued_nudges.take().unwrap_or_default();
            queued.retain(|n| !nudges.iter().any(|d| d.as_ref() == n));
            p.queued_nudges = Some(queued);
        })
        .await
    }

    /// Sets the active progress guide, or clears it with `None`
    /// (`bskyAppSetActiveProgressGuide`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::actor::defs::BskyAppProgressGuide;
    /// agent.bsky_app_set_active_progress_guide(Some(BskyAppProgressGuide::new("like-10".into()))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn bsky_app_set_active_progress_guide(
        &self,
        guide: Option<BskyAppProgressGuide>,
    ) -> Result<(), AnyError> {
        update_app_state(self, move |p| p.active_progress_guide = guide).await
    }

    /// Says whether the user takes part in the beta programme
    /// (`setIsBetaUser`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// agent.set_is_beta_user(true).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_is_beta_user(&self, beta: bool) -> Result<(), AnyError> {
        update_app_state(self, move |p| p.is_beta_user = Some(beta)).await
    }

    /// Records a new-user experience (`bskyAppUpsertNux`): one with the
    /// same id is replaced, the new one goes last. As `@atproto/api`
    /// checks: an id of at most 64 characters, data of at most 300.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::actor::defs::Nux;
    /// agent.bsky_app_upsert_nux(Nux::new("welcome".into(), true)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn bsky_app_upsert_nux(&self, nux: Nux) -> Result<(), AnyError> {
        if nux.id.chars().count() > 64 {
            return Err(Error::Invalid(format!(
                "nux id {:?} is longer than 64 characters",
                nux.id
            )));
        }
        if nux.data.as_ref().is_some_and(|d| d.chars().count() > 300) {
            return Err(Error::Invalid(format!(
                "nux {:?}: data is longer than 300 characters",
                nux.id
            )));
        }
        update_app_state(self, move |p| {
            let nuxs = p.nuxs.get_or_insert_with(Vec::new);
            nuxs.retain(|n| n.id != nux.id);
            nuxs.push(nux);
        })
        .await
    }

    /// Forgets new-user experiences by id (`bskyAppRemoveNuxs`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// agent.bsky_app_remove_nuxs(&["welcome"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn bsky_app_remove_nuxs<S: AsRef<str> + Sync>(
        &self,
        ids: &[S],
    ) -> Result<(), AnyError> {
        update_app_state(self, |p| {
            let mut nuxs = p.nuxs.take().unwrap_or_default();
            nuxs.retain(|n| !ids.iter().any(|id| id.as_ref() == n.id));
            p.nuxs = Some(nuxs);
        })
        .await
    }

    /// Sets the default reply (threadgate) and quote (postgate) rules for
    /// new posts (`setPostInteractionSettings`); `None` rules mean anyone.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::actor::defs::PostInteractionSettingsPref;
    /// let nobody_replies = PostInteractionSettingsPref {
    ///     threadgate_allow_rules: Some(vec![]),
    ///     ..Default::default()
    /// };
    /// agent.set_post_interaction_settings(nobody_replies).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_post_interaction_settings(
        &self,
        settings: PostInteractionSettingsPref,
    ) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list
                .last::<PostInteractionSettingsPref>()
                .unwrap_or_default();
            pref.threadgate_allow_rules = settings.threadgate_allow_rules;
            pref.postgate_embedding_rules = settings.postgate_embedding_rules;
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Shows or hides verification badges (`setVerificationPrefs`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::actor::defs::VerificationPrefs;
    /// agent.set_verification_prefs(VerificationPrefs { hide_badges: true, ..Default::default() }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_verification_prefs(
        &self,
        settings: VerificationPrefs,
    ) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list.last::<VerificationPrefs>().unwrap_or_default();
            pref.hide_badges = settings.hide_badges;
            list.replace(pref);
            Ok(())
        })
        .await
    }

    /// Hides or shows live-event feeds (`updateLiveEventPreferences`).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::bsky::LiveEventAction;
    /// agent.update_live_event_preferences(LiveEventAction::HideFeed("event-1".into())).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_live_event_preferences(
        &self,
        action: LiveEventAction,
    ) -> Result<(), AnyError> {
        self.update_preferences(|list| {
            let mut pref = list.last::<LiveEventPreferences>().unwrap_or_default();
            let mut hidden = pref.hidden_feed_ids.take().unwrap_or_default();
            let mut seen = Vec::with_capacity(hidden.len());
            hidden.retain(|id| {
                let first = !seen.contains(id);
                seen.push(id.clone());
                first
            });
            match action {
                LiveEventAction::HideFeed(id) => {
                    if !hidden.contains(&id) {
                        hidden.push(id);
                    }
                }
                LiveEventAction::UnhideFeed(id) => hidden.retain(|h| *h != id),
                LiveEventAction::ToggleHideAllFeeds => pref.hide_all_feeds = !pref.hide_all_feeds,
            }
            pref.hidden_feed_ids = Some(hidden);
            list.replace(pref);
            Ok(())
        })
        .await
    }
}
