//! [`BskyPreferences`]: everything `getPreferences` returns, typed, read the
//! way `@atproto/api`'s `getPreferences` reads it.

use std::collections::BTreeMap;

use atmo_api::app::bsky::actor::defs::{
    BskyAppProgressGuide, ContentLabelPref, ContentLabelPrefVisibility, DeclaredAgePref, MutedWord,
    Nux, PostInteractionSettingsPref, PreferencesItem, SavedFeed, SavedFeedType,
    ThreadViewPrefSort,
};
use atmo_types::object::Open;
use atmo_types::{AtUri, Datetime, Did};

use super::list::PreferenceList;
use super::write::saved_feed_type_of;
use crate::agent::Agent;
use crate::error::AnyError;
use crate::session::SessionManager;

/// The DID of Bluesky's own moderation labeler, which `@atproto/api` lists
/// first among an app's labelers by default.
///
/// ```
/// use atmo_client::atmo_types::Did;
/// assert!(Did::new(atmo_client::bsky::BSKY_LABELER_DID).is_ok());
/// ```
pub const BSKY_LABELER_DID: &str = "did:plc:ar7c4by46qjdydhdevvrndac";

/// The global label settings before the user changes any
/// (`@atproto/api`'s `DEFAULT_LABEL_SETTINGS`).
///
/// ```
/// use atmo_client::bsky::DEFAULT_LABEL_SETTINGS;
/// assert!(DEFAULT_LABEL_SETTINGS.iter().any(|(l, _)| *l == "porn"));
/// ```
pub const DEFAULT_LABEL_SETTINGS: [(&str, ContentLabelPrefVisibility); 4] = [
    ("porn", ContentLabelPrefVisibility::Hide),
    ("sexual", ContentLabelPrefVisibility::Warn),
    ("nudity", ContentLabelPrefVisibility::Ignore),
    ("graphic-media", ContentLabelPrefVisibility::Warn),
];

/// Label names older apps wrote, and the current name each stands for:
/// read as both, and [`Agent::set_content_label_pref`] writes both.
///
/// ```
/// use atmo_client::bsky::LEGACY_LABEL_NAMES;
/// assert!(LEGACY_LABEL_NAMES.contains(&("nsfw", "porn")));
/// ```
pub const LEGACY_LABEL_NAMES: [(&str, &str); 3] = [
    ("gore", "graphic-media"),
    ("nsfw", "porn"),
    ("suggestive", "sexual"),
];

/// The v1 saved feeds (`savedFeedsPref`), when the account has them.
///
/// ```
/// use atmo_client::bsky::{BskyPreferences, PreferenceList};
/// let prefs = BskyPreferences::from_items(&PreferenceList::default(), &[]);
/// assert_eq!(prefs.feeds.saved, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LegacyFeeds {
    /// Saved feed and list URIs (pinned ones included).
    pub saved: Option<Vec<AtUri>>,
    /// Pinned feed and list URIs, in tab order.
    pub pinned: Option<Vec<AtUri>>,
}

/// How a feed shows (`feedViewPref`), with `@atproto/api`'s defaults for
/// what is not set.
///
/// ```
/// use atmo_client::bsky::FeedViewPreferences;
/// let d = FeedViewPreferences::default();
/// assert!(d.hide_replies_by_unfollowed && !d.hide_reposts);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedViewPreferences {
    /// Hide replies. Default `false`.
    pub hide_replies: bool,
    /// Hide replies by accounts the user does not follow. Default `true`.
    pub hide_replies_by_unfollowed: bool,
    /// Hide replies with fewer likes than this. Default `0`.
    pub hide_replies_by_like_count: i64,
    /// Hide reposts. Default `false`.
    pub hide_reposts: bool,
    /// Hide quote posts. Default `false`.
    pub hide_quote_posts: bool,
}

impl Default for FeedViewPreferences {
    fn default() -> Self {
        FeedViewPreferences {
            hide_replies: false,
            hide_replies_by_unfollowed: true,
            hide_replies_by_like_count: 0,
            hide_reposts: false,
            hide_quote_posts: false,
        }
    }
}

/// How threads show (`threadViewPref`).
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::ThreadViewPrefSort;
/// use atmo_client::bsky::ThreadViewPreferences;
/// assert_eq!(ThreadViewPreferences::default().sort.known(), Some(ThreadViewPrefSort::Hotness));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadViewPreferences {
    /// Reply order. Default `hotness`.
    pub sort: Open<ThreadViewPrefSort>,
}

impl Default for ThreadViewPreferences {
    fn default() -> Self {
        ThreadViewPreferences {
            sort: Open::Known(ThreadViewPrefSort::Hotness),
        }
    }
}

/// A labeler the user listens to, with the label settings that apply to
/// its labels only.
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::ContentLabelPrefVisibility;
/// use atmo_client::bsky::{BskyPreferences, PreferenceList};
/// use serde_json::json;
/// let list = PreferenceList::new(vec![
///     json!({"$type": "app.bsky.actor.defs#labelersPref", "labelers": [{"did": "did:plc:l"}]}),
///     json!({"$type": "app.bsky.actor.defs#contentLabelPref", "labelerDid": "did:plc:l",
///            "label": "spam", "visibility": "hide"}),
/// ]);
/// let prefs = BskyPreferences::from_items(&list, &[]);
/// assert_eq!(prefs.moderation_prefs.labelers[0].labels["spam"], ContentLabelPrefVisibility::Hide);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LabelerPreferences {
    /// The labeler's DID.
    pub did: Did,
    /// Per label value (legacy `show` read as `ignore`).
    pub labels: BTreeMap<String, ContentLabelPrefVisibility>,
}

/// The moderation preferences, as plain data: what a moderation decision
/// needs from the user (`@atproto/api`'s `ModerationPrefs`).
///
/// ```
/// use atmo_client::bsky::{BskyPreferences, PreferenceList};
/// let prefs = BskyPreferences::from_items(&PreferenceList::default(), &[]);
/// assert!(prefs.moderation_prefs.muted_words.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ModerationPreferences {
    /// Adult content turned on (`adultContentPref`). Default `false`.
    pub adult_content_enabled: bool,
    /// Global settings per label value: [`DEFAULT_LABEL_SETTINGS`], then the
    /// user's; legacy names also set their current names, and legacy
    /// `show` reads as `ignore`.
    pub labels: BTreeMap<String, ContentLabelPrefVisibility>,
    /// The app's labelers, then the ones the user subscribed to
    /// (`labelersPref`), each with its own label settings.
    pub labelers: Vec<LabelerPreferences>,
    /// Muted words and tags (`actorTarget` defaults to `all`), expired ones
    /// included: see [`super::muted_word_is_active`].
    pub muted_words: Vec<MutedWord>,
    /// Posts the user hid.
    pub hidden_posts: Vec<AtUri>,
}

impl ModerationPreferences {
    /// Adult content off, the default label settings, these labelers.
    ///
    /// ```
    /// use atmo_client::bsky::ModerationPreferences;
    /// let m = ModerationPreferences::new(&[]);
    /// assert!(!m.adult_content_enabled);
    /// assert_eq!(m.labels.len(), 4);
    /// ```
    pub fn new(app_labelers: &[Did]) -> Self {
        ModerationPreferences {
            adult_content_enabled: false,
            labels: DEFAULT_LABEL_SETTINGS
                .iter()
                .map(|(l, v)| ((*l).to_owned(), *v))
                .collect(),
            labelers: app_labelers
                .iter()
                .map(|did| LabelerPreferences {
                    did: did.clone(),
                    labels: BTreeMap::new(),
                })
                .collect(),
            muted_words: Vec::new(),
            hidden_posts: Vec::new(),
        }
    }
}

impl ModerationPreferences {
    /// The same preferences as the moderation module takes them
    /// ([`crate::moderation::ModerationPrefs`], for
    /// [`crate::moderation::ModerationOpts`]); equal to
    /// [`crate::moderation::ModerationPrefs::from_preferences`] over
    /// [`BskyPreferences::items`] with the same app labelers.
    ///
    /// ```
    /// use atmo_client::bsky::{BskyPreferences, PreferenceList};
    /// use atmo_client::moderation::{LabelPreference, ModerationPrefs};
    /// use serde_json::json;
    /// let list = PreferenceList::new(vec![json!({
    ///     "$type": "app.bsky.actor.defs#contentLabelPref", "label": "nsfw", "visibility": "show",
    /// })]);
    /// let prefs = BskyPreferences::from_items(&list, &[]);
    /// let moderation = prefs.moderation_prefs.to_moderation_prefs();
    /// assert_eq!(moderation.labels["porn"], LabelPreference::Ignore);
    /// assert_eq!(moderation, ModerationPrefs::from_preferences(&prefs.items, &[]));
    /// ```
    pub fn to_moderation_prefs(&self) -> crate::moderation::ModerationPrefs {
        use crate::moderation::{LabelPreference, LabelerPrefs, ModerationPrefs};
        let labels = |m: &BTreeMap<String, ContentLabelPrefVisibility>| {
            m.iter()
                .map(|(k, v)| (k.clone(), LabelPreference::from(*v)))
                .collect()
        };
        let mut out = ModerationPrefs::empty();
        out.adult_content_enabled = self.adult_content_enabled;
        out.labels = labels(&self.labels);
        out.labelers = self
            .labelers
            .iter()
            .map(|l| {
                let mut p = LabelerPrefs::new(l.did.clone());
                p.labels = labels(&l.labels);
                p
            })
            .collect();
        out.muted_words.clone_from(&self.muted_words);
        out.hidden_posts.clone_from(&self.hidden_posts);
        out
    }
}

/// Interests gathered at onboarding (`interestsPref`).
///
/// ```
/// use atmo_client::bsky::{BskyPreferences, PreferenceList};
/// use serde_json::json;
/// let list = PreferenceList::new(vec![
///     json!({"$type": "app.bsky.actor.defs#interestsPref", "tags": ["art"]}),
/// ]);
/// assert_eq!(BskyPreferences::from_items(&list, &[]).interests.tags, ["art"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InterestsPreferences {
    /// Interest tags.
    pub tags: Vec<String>,
    /// When they were last changed.
    pub updated_at: Option<Datetime>,
}

/// The Bluesky app's own state (`bskyAppStatePref`).
///
/// ```
/// use atmo_client::bsky::{BskyPreferences, PreferenceList};
/// use serde_json::json;
/// let list = PreferenceList::new(vec![
///     json!({"$type": "app.bsky.actor.defs#bskyAppStatePref", "queuedNudges": ["tour"]}),
/// ]);
/// let state = BskyPreferences::from_items(&list, &[]).bsky_app_state;
/// assert_eq!(state.queued_nudges, ["tour"]);
/// assert!(state.nuxs.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BskyAppState {
    /// Nudges (modals, tours, dots) waiting to be shown.
    pub queued_nudges: Vec<String>,
    /// The progress guide under way.
    pub active_progress_guide: Option<BskyAppProgressGuide>,
    /// New-user experiences seen.
    pub nuxs: Vec<Nux>,
    /// Taking part in the beta programme, when said.
    pub is_beta_user: Option<bool>,
}

/// Live-event feed settings (`liveEventPreferences`).
///
/// ```
/// use atmo_client::bsky::LiveEventPreferencesView;
/// assert!(!LiveEventPreferencesView::default().hide_all_feeds);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveEventPreferencesView {
    /// Feed ids hidden from live events.
    pub hidden_feed_ids: Vec<String>,
    /// Every live-event feed hidden.
    pub hide_all_feeds: bool,
}

/// Everything `app.bsky.actor.getPreferences` returns, typed
/// (`@atproto/api`'s `BskyPreferences`), with its defaults where the
/// account has no item. When an item type appears more than once, the last
/// one counts (per feed for feed view preferences).
#[derive(Clone, Debug, PartialEq)]
pub struct BskyPreferences {
    /// The v1 saved and pinned feeds, when the account still has them.
    pub feeds: LegacyFeeds,
    /// The saved feeds (v2), pinned ones first. Read from the v1 item when
    /// there is no v2 one (see [`BskyPreferences::from_items`]).
    pub saved_feeds: Vec<SavedFeed>,
    /// Per feed (`home` always present, with the defaults).
    pub feed_view_prefs: BTreeMap<String, FeedViewPreferences>,
    /// Thread view.
    pub thread_view_prefs: ThreadViewPreferences,
    /// Moderation.
    pub moderation_prefs: ModerationPreferences,
    /// Birth date (`personalDetailsPref`).
    pub birth_date: Option<Datetime>,
    /// The age the server derived from the birth date (`declaredAgePref`,
    /// read-only: the PDS drops it from writes).
    pub declared_age: Option<DeclaredAgePref>,
    /// Interests.
    pub interests: InterestsPreferences,
    /// The app's state.
    pub bsky_app_state: BskyAppState,
    /// Default reply and quote rules for new posts.
    pub post_interaction_settings: PostInteractionSettingsPref,
    /// Hide verification badges. Default `false`.
    pub hide_verification_badges: bool,
    /// Live events.
    pub live_event_preferences: LiveEventPreferencesView,
    /// Every item that decoded, in order (types this build does not know
    /// as [`PreferencesItem::Unknown`]), for code that reads them itself.
    pub items: Vec<PreferencesItem>,
    /// True when the items had no `savedFeedsPrefV2`, so
    /// [`BskyPreferences::saved_feeds`] was migrated from v1 (or is the
    /// default Following feed); [`Agent::get_preferences`] then stores it.
    pub saved_feeds_migrated: bool,
}

impl BskyPreferences {
    /// Reads preference items as `@atproto/api` does, with `app_labelers`
    /// listed first among the labelers. Malformed items of a known type
    /// are skipped. Without a `savedFeedsPrefV2`, the saved feeds are
    /// migrated from v1 (the Following timeline first, pinned, then the
    /// pinned feeds and lists, then the other saved ones; URIs of other
    /// collections dropped) or, without v1 either, are the Following
    /// timeline alone, with [`BskyPreferences::saved_feeds_migrated`] set;
    /// new ids are TIDs.
    ///
    /// ```
    /// use atmo_client::bsky::{BskyPreferences, PreferenceList};
    /// use serde_json::json;
    /// let list = PreferenceList::new(vec![json!({
    ///     "$type": "app.bsky.actor.defs#savedFeedsPref",
    ///     "saved": ["at://did:plc:a/app.bsky.feed.generator/f"],
    ///     "pinned": ["at://did:plc:a/app.bsky.feed.generator/f"],
    /// })]);
    /// let prefs = BskyPreferences::from_items(&list, &[]);
    /// assert!(prefs.saved_feeds_migrated);
    /// assert_eq!(prefs.saved_feeds[0].value, "following");
    /// assert_eq!(prefs.saved_feeds[1].value, "at://did:plc:a/app.bsky.feed.generator/f");
    /// ```
    pub fn from_items(list: &PreferenceList, app_labelers: &[Did]) -> Self {
        let items = list.items();
        let mut prefs = BskyPreferences {
            feeds: LegacyFeeds::default(),
            saved_feeds: Vec::new(),
            feed_view_prefs: BTreeMap::from([("home".to_owned(), FeedViewPreferences::default())]),
            thread_view_prefs: ThreadViewPreferences::default(),
            moderation_prefs: ModerationPreferences::new(app_labelers),
            birth_date: None,
            declared_age: None,
            interests: InterestsPreferences::default(),
            bsky_app_state: BskyAppState::default(),
            post_interaction_settings: PostInteractionSettingsPref::default(),
            hide_verification_badges: false,
            live_event_preferences: LiveEventPreferencesView::default(),
            items: Vec::new(),
            saved_feeds_migrated: false,
        };
        let mut saved_v2 = None;
        let mut label_prefs: Vec<&ContentLabelPref> = Vec::new();
        for item in &items {
            match item {
                PreferencesItem::AdultContentPref(p) => {
                    prefs.moderation_prefs.adult_content_enabled = p.enabled;
                }
                PreferencesItem::ContentLabelPref(p) => label_prefs.push(p),
                PreferencesItem::LabelersPref(p) => {
                    prefs.moderation_prefs.labelers = app_labelers
                        .iter()
                        .chain(p.labelers.iter().map(|l| &l.did))
                        .map(|did| LabelerPreferences {
                            did: did.clone(),
                            labels: BTreeMap::new(),
                        })
                        .collect();
                }
                PreferencesItem::SavedFeedsPrefV2(p) => saved_v2 = Some(p.items.clone()),
                PreferencesItem::SavedFeedsPref(p) => {
                    prefs.feeds.saved = Some(p.saved.clone());
                    prefs.feeds.pinned = Some(p.pinned.clone());
                }
                PreferencesItem::PersonalDetailsPref(p) => {
                    if p.birth_date.is_some() {
                        prefs.birth_date.clone_from(&p.birth_date);
                    }
                }
                PreferencesItem::DeclaredAgePref(p) => prefs.declared_age = Some((**p).clone()),
                PreferencesItem::FeedViewPref(p) => {
                    let d = FeedViewPreferences::default();
                    prefs.feed_view_prefs.insert(
                        p.feed.clone(),
                        FeedViewPreferences {
                            hide_replies: p.hide_replies.unwrap_or(d.hide_replies),
                            hide_replies_by_unfollowed: p.hide_replies_by_unfollowed,
                            hide_replies_by_like_count: p
                                .hide_replies_by_like_count
                                .unwrap_or(d.hide_replies_by_like_count),
                            hide_reposts: p.hide_reposts.unwrap_or(d.hide_reposts),
                            hide_quote_posts: p.hide_quote_posts.unwrap_or(d.hide_quote_posts),
                        },
                    );
                }
                PreferencesItem::ThreadViewPref(p) => {
                    if let Some(sort) = &p.sort {
                        prefs.thread_view_prefs.sort = sort.clone();
                    }
                }
                PreferencesItem::InterestsPref(p) => {
                    prefs.interests.tags.clone_from(&p.tags);
                    if p.updated_at.is_some() {
                        prefs.interests.updated_at.clone_from(&p.updated_at);
                    }
                }
                PreferencesItem::MutedWordsPref(p) => {
                    prefs.moderation_prefs.muted_words.clone_from(&p.items);
                }
                PreferencesItem::HiddenPostsPref(p) => {
                    prefs.moderation_prefs.hidden_posts.clone_from(&p.items);
                }
                PreferencesItem::BskyAppStatePref(p) => {
                    prefs.bsky_app_state.queued_nudges =
                        p.queued_nudges.clone().unwrap_or_default();
                    prefs
                        .bsky_app_state
                        .active_progress_guide
                        .clone_from(&p.active_progress_guide);
                    prefs.bsky_app_state.nuxs = p.nuxs.clone().unwrap_or_default();
                    if p.is_beta_user.is_some() {
                        prefs.bsky_app_state.is_beta_user = p.is_beta_user;
                    }
                }
                PreferencesItem::PostInteractionSettingsPref(p) => {
                    prefs.post_interaction_settings.threadgate_allow_rules =
                        p.threadgate_allow_rules.clone();
                    prefs.post_interaction_settings.postgate_embedding_rules =
                        p.postgate_embedding_rules.clone();
                }
                PreferencesItem::VerificationPrefs(p) => {
                    prefs.hide_verification_badges = p.hide_badges;
                }
                PreferencesItem::LiveEventPreferences(p) => {
                    prefs.live_event_preferences = LiveEventPreferencesView {
                        hidden_feed_ids: p.hidden_feed_ids.clone().unwrap_or_default(),
                        hide_all_feeds: p.hide_all_feeds,
                    };
                }
                PreferencesItem::Unknown(_) => {}
            }
        }
        match saved_v2 {
            Some(items) => prefs.saved_feeds = items,
            None => {
                prefs.saved_feeds = migrate_saved_feeds(&prefs.feeds);
                prefs.saved_feeds_migrated = true;
            }
        }
        let moderation = &mut prefs.moderation_prefs;
        for pref in label_prefs {
            let Some(mut visibility) = pref.visibility.known() else {
                continue;
            };
            if visibility == ContentLabelPrefVisibility::Show {
                visibility = ContentLabelPrefVisibility::Ignore;
            }
            match &pref.labeler_did {
                Some(did) => {
                    if let Some(labeler) = moderation.labelers.iter_mut().find(|l| l.did == *did) {
                        labeler.labels.insert(pref.label.clone(), visibility);
                    }
                }
                None => {
                    moderation.labels.insert(pref.label.clone(), visibility);
                }
            }
        }
        for (legacy, current) in LEGACY_LABEL_NAMES {
            if let Some(v) = moderation.labels.get(legacy).copied() {
                moderation.labels.insert(current.to_owned(), v);
            }
        }
        prefs.items = items;
        prefs
    }

    /// The DIDs of the labelers the user subscribed to (`labelersPref`),
    /// for `atproto-accept-labelers` ([`Agent::with_accept_labelers`]).
    ///
    /// ```
    /// use atmo_client::bsky::{BskyPreferences, PreferenceList};
    /// use serde_json::json;
    /// let list = PreferenceList::new(vec![json!({
    ///     "$type": "app.bsky.actor.defs#labelersPref",
    ///     "labelers": [{"did": "did:plc:labeler"}],
    /// })]);
    /// let prefs = BskyPreferences::from_items(&list, &[]);
    /// assert_eq!(prefs.labeler_dids()[0].as_str(), "did:plc:labeler");
    /// ```
    pub fn labeler_dids(&self) -> Vec<Did> {
        self.items
            .iter()
            .rev()
            .find_map(|i| match i {
                PreferencesItem::LabelersPref(p) => {
                    Some(p.labelers.iter().map(|l| l.did.clone()).collect())
                }
                _ => None,
            })
            .unwrap_or_default()
    }
}

/// The Following timeline as a saved, pinned feed.
pub(super) fn following_timeline() -> SavedFeed {
    SavedFeed::new(
        super::next_tid(),
        SavedFeedType::Timeline.into(),
        "following".to_owned(),
        true,
    )
}

/// The v2 saved feeds made from v1 ones (as `@atproto/api` migrates them).
fn migrate_saved_feeds(v1: &LegacyFeeds) -> Vec<SavedFeed> {
    let (Some(saved), Some(pinned)) = (&v1.saved, &v1.pinned) else {
        return vec![following_timeline()];
    };
    let mut out = vec![following_timeline()];
    let mut seen: Vec<&str> = Vec::new();
    for (uris, is_pinned) in [(pinned, true), (saved, false)] {
        for uri in uris {
            if seen.contains(&uri.as_str()) {
                continue;
            }
            let Some(kind) = saved_feed_type_of(uri) else {
                continue;
            };
            seen.push(uri.as_str());
            out.push(SavedFeed::new(
                super::next_tid(),
                kind.into(),
                uri.as_str().to_owned(),
                is_pinned,
            ));
        }
    }
    out
}

impl<M: SessionManager> Agent<M> {
    /// The account's preferences, typed ([`BskyPreferences`]), with
    /// Bluesky's moderation labeler ([`BSKY_LABELER_DID`]) as the app's
    /// labeler, as `@atproto/api` has by default.
    ///
    /// Like `@atproto/api`, an account without v2 saved feeds gets them
    /// now: migrated from v1 (see [`BskyPreferences::from_items`]) and
    /// stored with [`Agent::overwrite_saved_feeds`], so the migration runs
    /// once.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let prefs = agent.get_preferences().await?;
    /// for feed in prefs.saved_feeds.iter().filter(|f| f.pinned) {
    ///     println!("{}", feed.value);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_preferences(&self) -> Result<BskyPreferences, AnyError> {
        let app = Did::new(BSKY_LABELER_DID)
            .map_err(|e| AnyError::Invalid(format!("{BSKY_LABELER_DID}: {e}")))?;
        self.get_preferences_with_app_labelers(&[app]).await
    }

    /// [`Agent::get_preferences`] with these labelers listed first among
    /// the moderation labelers instead of Bluesky's (`@atproto/api`'s
    /// `appLabelers`; none for an app that applies only the user's).
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// let prefs = agent.get_preferences_with_app_labelers(&[]).await?;
    /// println!("{} labelers", prefs.moderation_prefs.labelers.len());
    /// # Ok(()) }
    /// ```
    pub async fn get_preferences_with_app_labelers(
        &self,
        app_labelers: &[Did],
    ) -> Result<BskyPreferences, AnyError> {
        let list = PreferenceList::new(self.get_preferences_raw().await?);
        let mut prefs = BskyPreferences::from_items(&list, app_labelers);
        if prefs.saved_feeds_migrated {
            prefs.saved_feeds = self.overwrite_saved_feeds(prefs.saved_feeds).await?;
        }
        Ok(prefs)
    }
}
