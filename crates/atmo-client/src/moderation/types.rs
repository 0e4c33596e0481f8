//! The vocabulary of moderation: where something is shown, what the app does
//! there, what a label asks for, and the viewer's preferences.

use std::collections::HashMap;

use atmo_api::app::bsky::actor::defs::{
    AdultContentPref, ContentLabelPref, ContentLabelPrefVisibility, HiddenPostsPref, LabelersPref,
    MutedWord, MutedWordsPref, PreferencesItem,
};
use atmo_types::{AtUri, Did};

use super::labels::{InterpretedLabelValueDefinition, DEFAULT_LABEL_SETTINGS};

/// The DID of Bluesky's own moderation service, which `@atproto/api` always
/// counts among the labelers an app listens to (`BSKY_LABELER_DID`).
///
/// ```
/// assert!(atmo_client::moderation::BSKY_LABELER_DID.starts_with("did:plc:"));
/// ```
pub const BSKY_LABELER_DID: &str = "did:plc:ar7c4by46qjdydhdevvrndac";

/// Where a piece of UI shows the subject; [`super::ModerationDecision::ui`]
/// answers per context.
///
/// ```
/// use atmo_client::moderation::ModerationContext;
/// assert_eq!(ModerationContext::ALL.len(), 8);
/// assert_eq!(ModerationContext::ContentList.as_str(), "contentList");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModerationContext {
    /// A profile in a list of accounts (search results, followers).
    ProfileList,
    /// A profile's own page.
    ProfileView,
    /// An avatar, anywhere it is shown.
    Avatar,
    /// A profile's banner image.
    Banner,
    /// A display name, anywhere it is shown.
    DisplayName,
    /// A post (or other content) in a feed or list.
    ContentList,
    /// A post (or other content) shown on its own, e.g. a thread's anchor.
    ContentView,
    /// The images, video or link card of a post.
    ContentMedia,
}

impl ModerationContext {
    /// Every context, in `@atproto/api`'s order.
    pub const ALL: [ModerationContext; 8] = [
        ModerationContext::ProfileList,
        ModerationContext::ProfileView,
        ModerationContext::Avatar,
        ModerationContext::Banner,
        ModerationContext::DisplayName,
        ModerationContext::ContentList,
        ModerationContext::ContentView,
        ModerationContext::ContentMedia,
    ];

    /// The name `@atproto/api` uses (`profileList`, `contentMedia`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationContext::ProfileList => "profileList",
            ModerationContext::ProfileView => "profileView",
            ModerationContext::Avatar => "avatar",
            ModerationContext::Banner => "banner",
            ModerationContext::DisplayName => "displayName",
            ModerationContext::ContentList => "contentList",
            ModerationContext::ContentView => "contentView",
            ModerationContext::ContentMedia => "contentMedia",
        }
    }

    /// The context with that `@atproto/api` name.
    ///
    /// ```
    /// use atmo_client::moderation::ModerationContext;
    /// assert_eq!(ModerationContext::parse("avatar"), Some(ModerationContext::Avatar));
    /// assert_eq!(ModerationContext::parse("nope"), None);
    /// ```
    pub fn parse(name: &str) -> Option<ModerationContext> {
        ModerationContext::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// What a behaviour asks the app to do in one context.
///
/// ```
/// use atmo_client::moderation::ModerationAction;
/// assert_eq!(ModerationAction::Blur.as_str(), "blur");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModerationAction {
    /// Cover the content behind an interstitial the user may click through
    /// (unless the UI says `no_override`).
    Blur,
    /// Show a warning badge.
    Alert,
    /// Show an informational badge.
    Inform,
}

impl ModerationAction {
    /// `blur`, `alert` or `inform`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationAction::Blur => "blur",
            ModerationAction::Alert => "alert",
            ModerationAction::Inform => "inform",
        }
    }
}

/// One action (or none) per [`ModerationContext`]: what a cause does where.
///
/// ```
/// use atmo_client::moderation::{ModerationAction, ModerationBehavior, ModerationContext};
/// let b = ModerationBehavior::MUTE;
/// assert_eq!(b.get(ModerationContext::ContentList), Some(ModerationAction::Blur));
/// assert_eq!(b.get(ModerationContext::Avatar), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ModerationBehavior {
    /// In a list of profiles.
    pub profile_list: Option<ModerationAction>,
    /// On the profile page.
    pub profile_view: Option<ModerationAction>,
    /// On the avatar.
    pub avatar: Option<ModerationAction>,
    /// On the banner.
    pub banner: Option<ModerationAction>,
    /// On the display name.
    pub display_name: Option<ModerationAction>,
    /// In a feed.
    pub content_list: Option<ModerationAction>,
    /// Content shown on its own.
    pub content_view: Option<ModerationAction>,
    /// On the content's media.
    pub content_media: Option<ModerationAction>,
}

const B: Option<ModerationAction> = Some(ModerationAction::Blur);
const A: Option<ModerationAction> = Some(ModerationAction::Alert);
const I: Option<ModerationAction> = Some(ModerationAction::Inform);

impl ModerationBehavior {
    /// Nothing anywhere.
    pub const NONE: ModerationBehavior = ModerationBehavior {
        profile_list: None,
        profile_view: None,
        avatar: None,
        banner: None,
        display_name: None,
        content_list: None,
        content_view: None,
        content_media: None,
    };
    /// What a block (either way) does: blur lists, avatar, banner and
    /// content, alert on the profile.
    pub const BLOCK: ModerationBehavior = ModerationBehavior {
        profile_list: B,
        profile_view: A,
        avatar: B,
        banner: B,
        content_list: B,
        content_view: B,
        ..ModerationBehavior::NONE
    };
    /// What a muted account does: inform in profile lists, alert on the
    /// profile, blur in feeds, inform on the content itself.
    pub const MUTE: ModerationBehavior = ModerationBehavior {
        profile_list: I,
        profile_view: A,
        content_list: B,
        content_view: I,
        ..ModerationBehavior::NONE
    };
    /// What a muted word does: blur the content in feeds and on its own.
    pub const MUTE_WORD: ModerationBehavior = ModerationBehavior {
        content_list: B,
        content_view: B,
        ..ModerationBehavior::NONE
    };
    /// What a hidden post does: blur it in feeds and on its own.
    pub const HIDE: ModerationBehavior = ModerationBehavior {
        content_list: B,
        content_view: B,
        ..ModerationBehavior::NONE
    };

    /// The action in `context`.
    pub fn get(&self, context: ModerationContext) -> Option<ModerationAction> {
        match context {
            ModerationContext::ProfileList => self.profile_list,
            ModerationContext::ProfileView => self.profile_view,
            ModerationContext::Avatar => self.avatar,
            ModerationContext::Banner => self.banner,
            ModerationContext::DisplayName => self.display_name,
            ModerationContext::ContentList => self.content_list,
            ModerationContext::ContentView => self.content_view,
            ModerationContext::ContentMedia => self.content_media,
        }
    }
}

/// What a label was put on: the account (the DID), the profile record, or a
/// piece of content (a post, a list, a feed...).
///
/// ```
/// use atmo_client::moderation::LabelTarget;
/// assert_eq!(LabelTarget::Account.as_str(), "account");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelTarget {
    /// The account itself.
    Account,
    /// The account's `app.bsky.actor.profile/self` record.
    Profile,
    /// A post, list, feed generator or other content.
    Content,
}

impl LabelTarget {
    /// `account`, `profile` or `content`.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelTarget::Account => "account",
            LabelTarget::Profile => "profile",
            LabelTarget::Content => "content",
        }
    }
}

/// What the viewer wants done with a label value.
///
/// ```
/// use atmo_client::moderation::LabelPreference;
/// assert_eq!(LabelPreference::parse("show"), Some(LabelPreference::Ignore));
/// assert_eq!(LabelPreference::Hide.as_str(), "hide");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelPreference {
    /// Show the content as if it were not labelled.
    Ignore,
    /// Show it behind a warning.
    Warn,
    /// Filter it out of lists and cover it everywhere else.
    Hide,
}

impl LabelPreference {
    /// `ignore`, `warn` or `hide`.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelPreference::Ignore => "ignore",
            LabelPreference::Warn => "warn",
            LabelPreference::Hide => "hide",
        }
    }

    /// From the wire; the legacy `show` is `ignore`, as `@atproto/api` reads
    /// it.
    pub fn parse(value: &str) -> Option<LabelPreference> {
        match value {
            "ignore" | "show" => Some(LabelPreference::Ignore),
            "warn" => Some(LabelPreference::Warn),
            "hide" => Some(LabelPreference::Hide),
            _ => None,
        }
    }
}

impl From<ContentLabelPrefVisibility> for LabelPreference {
    fn from(v: ContentLabelPrefVisibility) -> Self {
        match v {
            ContentLabelPrefVisibility::Ignore | ContentLabelPrefVisibility::Show => {
                LabelPreference::Ignore
            }
            ContentLabelPrefVisibility::Warn => LabelPreference::Warn,
            ContentLabelPrefVisibility::Hide => LabelPreference::Hide,
        }
    }
}

/// The viewer's settings for one labeler they subscribe to.
///
/// ```
/// use atmo_client::moderation::{LabelPreference, LabelerPrefs};
/// let mut l = LabelerPrefs::new("did:plc:labeler".parse()?);
/// l.labels.insert("spoiler".into(), LabelPreference::Hide);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelerPrefs {
    /// The labeler's DID.
    pub did: Did,
    /// Per label value, overriding the global setting for this labeler's
    /// labels.
    pub labels: HashMap<String, LabelPreference>,
}

impl LabelerPrefs {
    /// A labeler with no per-label settings.
    pub fn new(did: Did) -> Self {
        LabelerPrefs {
            did,
            labels: HashMap::new(),
        }
    }
}

/// The viewer's moderation preferences, as `@atproto/api` reads them from
/// `getPreferences` (`ModerationPrefs`).
///
/// [`ModerationPrefs::default`] is what `@atproto/api` starts from: adult
/// content off, the default label settings (`porn` hide, `sexual` warn,
/// `nudity` ignore, `graphic-media` warn), Bluesky's labeler, no muted
/// words, no hidden posts. [`ModerationPrefs::empty`] has nothing at all.
///
/// ```
/// use atmo_client::moderation::{LabelPreference, ModerationPrefs};
/// let prefs = ModerationPrefs::default();
/// assert!(!prefs.adult_content_enabled);
/// assert_eq!(prefs.labels.get("porn"), Some(&LabelPreference::Hide));
/// assert_eq!(prefs.labelers.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ModerationPrefs {
    /// Whether the viewer has turned adult content on; while off, labels
    /// flagged adult-only hide and cannot be clicked through.
    pub adult_content_enabled: bool,
    /// Global settings per label value (for every labeler).
    pub labels: HashMap<String, LabelPreference>,
    /// The labelers the viewer listens to; labels from any other labeler
    /// are ignored (self-labels always count).
    pub labelers: Vec<LabelerPrefs>,
    /// Muted words and tags.
    pub muted_words: Vec<MutedWord>,
    /// Posts the viewer has hidden.
    pub hidden_posts: Vec<AtUri>,
}

impl Default for ModerationPrefs {
    fn default() -> Self {
        let mut prefs = ModerationPrefs::empty();
        for (label, pref) in DEFAULT_LABEL_SETTINGS {
            prefs.labels.insert((*label).to_owned(), *pref);
        }
        if let Ok(did) = BSKY_LABELER_DID.parse() {
            prefs.labelers.push(LabelerPrefs::new(did));
        }
        prefs
    }
}

/// Label names older preferences use, and the value each stands for now.
const LEGACY_LABELS: [(&str, &str); 3] = [
    ("gore", "graphic-media"),
    ("nsfw", "porn"),
    ("suggestive", "sexual"),
];

impl ModerationPrefs {
    /// No settings, no labelers, adult content off.
    pub fn empty() -> Self {
        ModerationPrefs {
            adult_content_enabled: false,
            labels: HashMap::new(),
            labelers: Vec::new(),
            muted_words: Vec::new(),
            hidden_posts: Vec::new(),
        }
    }

    /// The moderation part of a `getPreferences` answer, read the way
    /// `@atproto/api`'s `getPreferences` reads it: starting from
    /// [`ModerationPrefs::default`] with `app_labelers` (usually
    /// `[BSKY_LABELER_DID]`) as the labelers, then each item in order (a
    /// later item of the same type wins); per-labeler label settings apply
    /// only to labelers in the list; the legacy `show` reads as `ignore`,
    /// and legacy label names (`nsfw`, `suggestive`, `gore`) also set the
    /// current ones. Items of other types are skipped.
    ///
    /// ```
    /// use atmo_client::atmo_api::app::bsky::actor::defs::{
    ///     AdultContentPref, ContentLabelPref, ContentLabelPrefVisibility, PreferencesItem,
    /// };
    /// use atmo_client::moderation::{LabelPreference, ModerationPrefs};
    ///
    /// let items = vec![
    ///     PreferencesItem::AdultContentPref(Box::new(AdultContentPref::new(true))),
    ///     PreferencesItem::ContentLabelPref(Box::new(ContentLabelPref::new(
    ///         "nsfw".into(),
    ///         ContentLabelPrefVisibility::Show.into(),
    ///     ))),
    /// ];
    /// let prefs = ModerationPrefs::from_preferences(&items, &[]);
    /// assert!(prefs.adult_content_enabled);
    /// assert_eq!(prefs.labels["porn"], LabelPreference::Ignore);
    /// ```
    pub fn from_preferences(items: &[PreferencesItem], app_labelers: &[Did]) -> Self {
        let mut prefs = ModerationPrefs {
            labelers: app_labelers
                .iter()
                .cloned()
                .map(LabelerPrefs::new)
                .collect(),
            ..ModerationPrefs::default()
        };
        let mut label_prefs = Vec::new();
        for item in items {
            match item {
                PreferencesItem::AdultContentPref(p) => prefs.apply_adult_content(p),
                PreferencesItem::ContentLabelPref(p) => label_prefs.push(&**p),
                PreferencesItem::LabelersPref(p) => prefs.apply_labelers(p, app_labelers),
                PreferencesItem::MutedWordsPref(p) => prefs.apply_muted_words(p),
                PreferencesItem::HiddenPostsPref(p) => prefs.apply_hidden_posts(p),
                _ => {}
            }
        }
        for p in label_prefs {
            prefs.apply_content_label(p);
        }
        prefs.remap_legacy_labels();
        prefs
    }

    /// Takes an `adultContentPref`.
    ///
    /// ```
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::AdultContentPref;
    /// # use atmo_client::moderation::ModerationPrefs;
    /// let mut prefs = ModerationPrefs::default();
    /// prefs.apply_adult_content(&AdultContentPref::new(true));
    /// assert!(prefs.adult_content_enabled);
    /// ```
    pub fn apply_adult_content(&mut self, pref: &AdultContentPref) {
        self.adult_content_enabled = pref.enabled;
    }

    /// Takes a `contentLabelPref`: a global setting, or one for a labeler
    /// already in [`ModerationPrefs::labelers`] (others are dropped, as
    /// `@atproto/api` drops them). An unknown visibility is skipped.
    ///
    /// ```
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::{ContentLabelPref, ContentLabelPrefVisibility};
    /// # use atmo_client::moderation::{LabelPreference, ModerationPrefs};
    /// let mut prefs = ModerationPrefs::default();
    /// prefs.apply_content_label(&ContentLabelPref::new("gore".into(), ContentLabelPrefVisibility::Hide.into()));
    /// assert_eq!(prefs.labels["gore"], LabelPreference::Hide);
    /// ```
    pub fn apply_content_label(&mut self, pref: &ContentLabelPref) {
        let Some(visibility) = pref.visibility.known() else {
            return;
        };
        let setting = LabelPreference::from(visibility);
        match &pref.labeler_did {
            Some(did) => {
                if let Some(labeler) = self.labelers.iter_mut().find(|l| l.did == *did) {
                    labeler.labels.insert(pref.label.clone(), setting);
                }
            }
            None => {
                self.labels.insert(pref.label.clone(), setting);
            }
        }
    }

    /// Takes a `labelersPref`: the labelers become `app_labelers` followed
    /// by the ones listed, with no per-label settings yet.
    ///
    /// ```
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::{LabelersPref, LabelerPrefItem};
    /// # use atmo_client::moderation::ModerationPrefs;
    /// let mut prefs = ModerationPrefs::empty();
    /// prefs.apply_labelers(&LabelersPref::new(vec![LabelerPrefItem::new("did:plc:l".parse()?)]), &[]);
    /// assert_eq!(prefs.labelers[0].did.as_str(), "did:plc:l");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_labelers(&mut self, pref: &LabelersPref, app_labelers: &[Did]) {
        self.labelers = app_labelers
            .iter()
            .cloned()
            .chain(pref.labelers.iter().map(|l| l.did.clone()))
            .map(LabelerPrefs::new)
            .collect();
    }

    /// Takes a `mutedWordsPref`.
    ///
    /// ```
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::{MutedWord, MutedWordTarget, MutedWordsPref};
    /// # use atmo_client::moderation::ModerationPrefs;
    /// let mut prefs = ModerationPrefs::empty();
    /// let word = MutedWord::new("spoiler".into(), vec![MutedWordTarget::Content.into()]);
    /// prefs.apply_muted_words(&MutedWordsPref::new(vec![word]));
    /// assert_eq!(prefs.muted_words.len(), 1);
    /// ```
    pub fn apply_muted_words(&mut self, pref: &MutedWordsPref) {
        self.muted_words = pref.items.clone();
    }

    /// Takes a `hiddenPostsPref`.
    ///
    /// ```
    /// # use atmo_client::atmo_api::app::bsky::actor::defs::HiddenPostsPref;
    /// # use atmo_client::moderation::ModerationPrefs;
    /// let mut prefs = ModerationPrefs::empty();
    /// prefs.apply_hidden_posts(&HiddenPostsPref::new(vec!["at://did:plc:a/app.bsky.feed.post/1".parse()?]));
    /// assert_eq!(prefs.hidden_posts.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_hidden_posts(&mut self, pref: &HiddenPostsPref) {
        self.hidden_posts = pref.items.clone();
    }

    /// Copies each legacy label name's global setting (`nsfw`, `suggestive`,
    /// `gore`) to the value it stands for now (`porn`, `sexual`,
    /// `graphic-media`), as `@atproto/api` does on read.
    ///
    /// ```
    /// # use atmo_client::moderation::{LabelPreference, ModerationPrefs};
    /// let mut prefs = ModerationPrefs::empty();
    /// prefs.labels.insert("suggestive".into(), LabelPreference::Hide);
    /// prefs.remap_legacy_labels();
    /// assert_eq!(prefs.labels["sexual"], LabelPreference::Hide);
    /// ```
    pub fn remap_legacy_labels(&mut self) {
        for (legacy, current) in LEGACY_LABELS {
            if let Some(p) = self.labels.get(legacy).copied() {
                self.labels.insert(current.to_owned(), p);
            }
        }
    }
}

/// The value of the `atproto-accept-labelers` header an app sends so that
/// the AppView applies the viewer's labelers: the app's own labelers with
/// `;redact` (their takedown-like labels remove content), then the other
/// labelers, then whatever the request already asked for, comma-separated
/// as `@atproto/api` writes it.
///
/// ```
/// use atmo_client::moderation::{accept_labelers_header, ModerationPrefs};
///
/// let app = ["did:plc:ar7c4by46qjdydhdevvrndac".parse()?];
/// let mut prefs = ModerationPrefs::empty();
/// prefs.labelers.push(atmo_client::moderation::LabelerPrefs::new("did:plc:other".parse()?));
/// let dids: Vec<_> = prefs.labelers.iter().map(|l| l.did.clone()).collect();
/// assert_eq!(
///     accept_labelers_header(&app, &dids, None),
///     "did:plc:ar7c4by46qjdydhdevvrndac;redact, did:plc:other"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_labelers_header(
    app_labelers: &[Did],
    labelers: &[Did],
    request_value: Option<&str>,
) -> String {
    let mut parts: Vec<String> = app_labelers
        .iter()
        .map(|d| format!("{d};redact"))
        .chain(labelers.iter().map(|d| d.as_str().to_owned()))
        .collect();
    if let Some(v) = request_value.map(str::trim).filter(|v| !v.is_empty()) {
        parts.push(v.to_owned());
    }
    parts.join(", ")
}

/// Everything a moderation decision depends on besides the subject
/// (`ModerationOpts`).
///
/// `user_did` is the viewer (`None` when logged out: labels flagged
/// `!no-unauthenticated` then apply); `label_defs` holds, per labeler DID,
/// the custom label values it defines (see
/// [`super::interpret_label_value_definitions`]).
///
/// ```
/// use atmo_client::moderation::{ModerationOpts, ModerationPrefs};
/// let opts = ModerationOpts::new(Some("did:plc:me".parse()?), ModerationPrefs::default());
/// assert!(opts.label_defs.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModerationOpts {
    /// The viewer, or `None` when logged out.
    pub user_did: Option<Did>,
    /// The viewer's preferences.
    pub prefs: ModerationPrefs,
    /// Custom label definitions per labeler DID.
    pub label_defs: HashMap<Did, Vec<InterpretedLabelValueDefinition>>,
}

impl ModerationOpts {
    /// Options without custom label definitions.
    pub fn new(user_did: Option<Did>, prefs: ModerationPrefs) -> Self {
        ModerationOpts {
            user_did,
            prefs,
            label_defs: HashMap::new(),
        }
    }

    /// Adds the custom definitions of one labeler (replacing any earlier
    /// ones for it).
    ///
    /// ```
    /// use atmo_client::atmo_api::com::atproto::label::defs::{
    ///     LabelValueDefinition, LabelValueDefinitionBlurs, LabelValueDefinitionSeverity,
    /// };
    /// use atmo_client::moderation::{interpret_label_value_definition, ModerationOpts};
    ///
    /// let labeler: atmo_client::atmo_types::Did = "did:plc:labeler".parse()?;
    /// let def = LabelValueDefinition::new(
    ///     "spoiler".into(),
    ///     LabelValueDefinitionSeverity::Inform.into(),
    ///     LabelValueDefinitionBlurs::Content.into(),
    ///     vec![],
    /// );
    /// let opts = ModerationOpts::default()
    ///     .with_label_defs(labeler.clone(), vec![interpret_label_value_definition(&def, Some(&labeler))]);
    /// assert_eq!(opts.label_defs[&labeler][0].identifier, "spoiler");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_label_defs(
        mut self,
        labeler: Did,
        defs: Vec<InterpretedLabelValueDefinition>,
    ) -> Self {
        self.label_defs.insert(labeler, defs);
        self
    }
}
