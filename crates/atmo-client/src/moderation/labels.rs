//! Label value definitions: the built-in ones every client knows, and the
//! custom ones labelers declare in their service record.

use std::borrow::Cow;

use atmo_api::app::bsky::labeler::defs::LabelerViewDetailed;
use atmo_api::com::atproto::label::defs::{
    LabelValueDefinition, LabelValueDefinitionBlurs, LabelValueDefinitionDefaultSetting,
    LabelValueDefinitionSeverity, LabelValueDefinitionStrings,
};
use atmo_types::object::Open;
use atmo_types::validate::Validate;
use atmo_types::Did;

use super::types::{LabelPreference, LabelTarget, ModerationAction, ModerationBehavior};

/// Properties of a label value beyond its behaviours.
///
/// ```
/// use atmo_client::moderation::builtin_label;
/// let hide = builtin_label("!hide").map(|d| d.flags);
/// assert!(hide.is_some_and(|f| f.no_override && f.no_self));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelFlags {
    /// The viewer cannot click through the blur.
    pub no_override: bool,
    /// Adult content: hidden (and not overridable) while adult content is
    /// off.
    pub adult: bool,
    /// Applies only to logged-out viewers (`!no-unauthenticated`).
    pub unauthed: bool,
    /// An account cannot apply it to itself (ignored as a self-label).
    pub no_self: bool,
}

/// What a label value does on each kind of target.
///
/// ```
/// use atmo_client::moderation::{builtin_label, LabelTarget, ModerationAction};
/// let porn = builtin_label("porn").map(|d| d.behaviors.get(LabelTarget::Content).content_media);
/// assert_eq!(porn, Some(Some(ModerationAction::Blur)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelBehaviors {
    /// When the label is on an account.
    pub account: ModerationBehavior,
    /// When the label is on a profile record.
    pub profile: ModerationBehavior,
    /// When the label is on content.
    pub content: ModerationBehavior,
}

impl LabelBehaviors {
    /// The behaviour for `target`.
    pub fn get(&self, target: LabelTarget) -> &ModerationBehavior {
        match target {
            LabelTarget::Account => &self.account,
            LabelTarget::Profile => &self.profile,
            LabelTarget::Content => &self.content,
        }
    }
}

/// A label value with everything moderation needs to apply it
/// (`InterpretedLabelValueDefinition`): either a built-in one
/// ([`builtin_label`]) or a labeler's custom value read by
/// [`interpret_label_value_definition`].
///
/// ```
/// use atmo_client::moderation::{builtin_label, LabelPreference};
/// let sexual = builtin_label("sexual").map(|d| (d.configurable, d.default_setting));
/// assert_eq!(sexual, Some((true, LabelPreference::Warn)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct InterpretedLabelValueDefinition {
    /// The label value (`porn`, `!hide`, a labeler's `spoiler`...).
    pub identifier: Cow<'static, str>,
    /// How serious the labeler says it is: `alert` and `inform` add badges.
    pub severity: Open<LabelValueDefinitionSeverity>,
    /// What it covers: `content`, `media` or `none`.
    pub blurs: Open<LabelValueDefinitionBlurs>,
    /// Whether the labeler marked it adult-only.
    pub adult_only: bool,
    /// Names and descriptions per language.
    pub locales: Vec<LabelValueDefinitionStrings>,
    /// The labeler that defined it (`None` for built-in values).
    pub defined_by: Option<Did>,
    /// Whether the viewer may choose ignore / warn / hide for it.
    pub configurable: bool,
    /// The setting when the viewer has chosen none.
    pub default_setting: LabelPreference,
    /// Override, adult, logged-out and self-label rules.
    pub flags: LabelFlags,
    /// What it does per target and context.
    pub behaviors: LabelBehaviors,
}

const B: Option<ModerationAction> = Some(ModerationAction::Blur);

/// Blur everything an account-wide block of content would.
const ACCOUNT_BLUR_ALL: ModerationBehavior = ModerationBehavior {
    profile_list: B,
    profile_view: B,
    avatar: B,
    banner: B,
    display_name: B,
    content_list: B,
    content_view: B,
    content_media: None,
};
const PROFILE_BLUR_IMAGES_AND_NAME: ModerationBehavior = ModerationBehavior {
    avatar: B,
    banner: B,
    display_name: B,
    ..ModerationBehavior::NONE
};
const CONTENT_BLUR: ModerationBehavior = ModerationBehavior {
    content_list: B,
    content_view: B,
    ..ModerationBehavior::NONE
};
const IMAGES_BLUR: ModerationBehavior = ModerationBehavior {
    avatar: B,
    banner: B,
    ..ModerationBehavior::NONE
};
const MEDIA_BEHAVIORS: LabelBehaviors = LabelBehaviors {
    account: IMAGES_BLUR,
    profile: IMAGES_BLUR,
    content: ModerationBehavior {
        content_media: B,
        ..ModerationBehavior::NONE
    },
};

const fn builtin(
    identifier: &'static str,
    configurable: bool,
    default_setting: LabelPreference,
    flags: LabelFlags,
    severity: LabelValueDefinitionSeverity,
    blurs: LabelValueDefinitionBlurs,
    behaviors: LabelBehaviors,
) -> InterpretedLabelValueDefinition {
    InterpretedLabelValueDefinition {
        identifier: Cow::Borrowed(identifier),
        severity: Open::Known(severity),
        blurs: Open::Known(blurs),
        adult_only: false,
        locales: Vec::new(),
        defined_by: None,
        configurable,
        default_setting,
        flags,
        behaviors,
    }
}

const NO_FLAGS: LabelFlags = LabelFlags {
    no_override: false,
    adult: false,
    unauthed: false,
    no_self: false,
};
const ADULT: LabelFlags = LabelFlags {
    adult: true,
    ..NO_FLAGS
};

static HIDE: InterpretedLabelValueDefinition = builtin(
    "!hide",
    false,
    LabelPreference::Hide,
    LabelFlags {
        no_override: true,
        no_self: true,
        ..NO_FLAGS
    },
    LabelValueDefinitionSeverity::Alert,
    LabelValueDefinitionBlurs::Content,
    LabelBehaviors {
        account: ACCOUNT_BLUR_ALL,
        profile: PROFILE_BLUR_IMAGES_AND_NAME,
        content: CONTENT_BLUR,
    },
);
static WARN: InterpretedLabelValueDefinition = builtin(
    "!warn",
    false,
    LabelPreference::Warn,
    LabelFlags {
        no_self: true,
        ..NO_FLAGS
    },
    LabelValueDefinitionSeverity::None,
    LabelValueDefinitionBlurs::Content,
    LabelBehaviors {
        // Unlike `!hide`, the display name of a warned account is not blurred.
        account: ModerationBehavior {
            display_name: None,
            ..ACCOUNT_BLUR_ALL
        },
        profile: PROFILE_BLUR_IMAGES_AND_NAME,
        content: CONTENT_BLUR,
    },
);
static NO_UNAUTHENTICATED: InterpretedLabelValueDefinition = builtin(
    "!no-unauthenticated",
    false,
    LabelPreference::Hide,
    LabelFlags {
        no_override: true,
        unauthed: true,
        ..NO_FLAGS
    },
    LabelValueDefinitionSeverity::None,
    LabelValueDefinitionBlurs::Content,
    LabelBehaviors {
        account: ACCOUNT_BLUR_ALL,
        profile: PROFILE_BLUR_IMAGES_AND_NAME,
        content: CONTENT_BLUR,
    },
);
static PORN: InterpretedLabelValueDefinition = builtin(
    "porn",
    true,
    LabelPreference::Hide,
    ADULT,
    LabelValueDefinitionSeverity::None,
    LabelValueDefinitionBlurs::Media,
    MEDIA_BEHAVIORS,
);
static SEXUAL: InterpretedLabelValueDefinition = builtin(
    "sexual",
    true,
    LabelPreference::Warn,
    ADULT,
    LabelValueDefinitionSeverity::None,
    LabelValueDefinitionBlurs::Media,
    MEDIA_BEHAVIORS,
);
static NUDITY: InterpretedLabelValueDefinition = builtin(
    "nudity",
    true,
    LabelPreference::Ignore,
    NO_FLAGS,
    LabelValueDefinitionSeverity::None,
    LabelValueDefinitionBlurs::Media,
    MEDIA_BEHAVIORS,
);
static GRAPHIC_MEDIA: InterpretedLabelValueDefinition = builtin(
    "graphic-media",
    true,
    LabelPreference::Warn,
    ADULT,
    LabelValueDefinitionSeverity::None,
    LabelValueDefinitionBlurs::Media,
    MEDIA_BEHAVIORS,
);
static GORE: InterpretedLabelValueDefinition = builtin(
    "gore",
    true,
    LabelPreference::Warn,
    ADULT,
    LabelValueDefinitionSeverity::None,
    LabelValueDefinitionBlurs::Media,
    MEDIA_BEHAVIORS,
);

/// The built-in label values, in `@atproto/api`'s order (`LABELS`):
/// `!hide`, `!warn`, `!no-unauthenticated`, `porn`, `sexual`, `nudity`,
/// `graphic-media`, and `gore` (the legacy name of `graphic-media`, still
/// applied).
///
/// ```
/// use atmo_client::moderation::builtin_labels;
/// let names: Vec<_> = builtin_labels().map(|d| d.identifier.as_ref()).collect();
/// assert_eq!(names[0], "!hide");
/// assert!(names.contains(&"gore"));
/// ```
pub fn builtin_labels() -> impl Iterator<Item = &'static InterpretedLabelValueDefinition> {
    [
        &HIDE,
        &WARN,
        &NO_UNAUTHENTICATED,
        &PORN,
        &SEXUAL,
        &NUDITY,
        &GRAPHIC_MEDIA,
        &GORE,
    ]
    .into_iter()
}

/// The built-in definition of a label value, if it has one.
///
/// ```
/// use atmo_client::moderation::builtin_label;
/// assert!(builtin_label("!warn").is_some());
/// assert!(builtin_label("spoiler").is_none());
/// ```
pub fn builtin_label(value: &str) -> Option<&'static InterpretedLabelValueDefinition> {
    match value {
        "!hide" => Some(&HIDE),
        "!warn" => Some(&WARN),
        "!no-unauthenticated" => Some(&NO_UNAUTHENTICATED),
        "porn" => Some(&PORN),
        "sexual" => Some(&SEXUAL),
        "nudity" => Some(&NUDITY),
        "graphic-media" => Some(&GRAPHIC_MEDIA),
        "gore" => Some(&GORE),
        _ => None,
    }
}

/// The label settings a new account starts with (`DEFAULT_LABEL_SETTINGS`).
///
/// ```
/// use atmo_client::moderation::{LabelPreference, DEFAULT_LABEL_SETTINGS};
/// assert!(DEFAULT_LABEL_SETTINGS.contains(&("porn", LabelPreference::Hide)));
/// ```
pub const DEFAULT_LABEL_SETTINGS: &[(&str, LabelPreference)] = &[
    ("porn", LabelPreference::Hide),
    ("sexual", LabelPreference::Warn),
    ("nudity", LabelPreference::Ignore),
    ("graphic-media", LabelPreference::Warn),
];

/// Whether a label value may be a labeler's custom value: lowercase ASCII
/// letters and `-` only (so `!hide` never is).
///
/// ```
/// use atmo_client::moderation::is_custom_label_value;
/// assert!(is_custom_label_value("spoiler-alert"));
/// assert!(!is_custom_label_value("!hide") && !is_custom_label_value("Spoiler") && !is_custom_label_value(""));
/// ```
pub fn is_custom_label_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

/// Reads a labeler's declared label value
/// (`interpretLabelValueDefinition`): its behaviours follow from `blurs`
/// (`content`, `media` or `none`) and `severity` (`alert` and `inform` add
/// that badge where the value is not blurring); an adult-only value also
/// blurs a post opened on its own and hides while adult content is off; the
/// default setting is `warn` unless the labeler says `hide` or `ignore`.
/// Custom values are always configurable and never apply as self-labels.
///
/// ```
/// use atmo_client::atmo_api::com::atproto::label::defs::{
///     LabelValueDefinition, LabelValueDefinitionBlurs, LabelValueDefinitionSeverity,
/// };
/// use atmo_client::moderation::{interpret_label_value_definition, LabelPreference, ModerationAction};
///
/// let def = LabelValueDefinition::new(
///     "spoiler".into(),
///     LabelValueDefinitionSeverity::Alert.into(),
///     LabelValueDefinitionBlurs::Content.into(),
///     vec![],
/// );
/// let labeler = "did:plc:labeler".parse()?;
/// let interpreted = interpret_label_value_definition(&def, Some(&labeler));
/// assert_eq!(interpreted.default_setting, LabelPreference::Warn);
/// assert_eq!(interpreted.behaviors.content.content_list, Some(ModerationAction::Blur));
/// assert_eq!(interpreted.behaviors.content.content_view, Some(ModerationAction::Alert));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn interpret_label_value_definition(
    def: &LabelValueDefinition,
    defined_by: Option<&Did>,
) -> InterpretedLabelValueDefinition {
    let adult_only = def.adult_only.unwrap_or(false);
    let badge = match def.severity.known() {
        Some(LabelValueDefinitionSeverity::Alert) => Some(ModerationAction::Alert),
        Some(LabelValueDefinitionSeverity::Inform) => Some(ModerationAction::Inform),
        _ => None,
    };
    let mut behaviors = LabelBehaviors::default();
    match def.blurs.known() {
        Some(LabelValueDefinitionBlurs::Content) => {
            let view = if adult_only { B } else { badge };
            behaviors.account = ModerationBehavior {
                profile_list: badge,
                profile_view: badge,
                content_list: B,
                content_view: view,
                ..ModerationBehavior::NONE
            };
            behaviors.profile = ModerationBehavior {
                profile_list: badge,
                profile_view: badge,
                ..ModerationBehavior::NONE
            };
            behaviors.content = ModerationBehavior {
                content_list: B,
                content_view: view,
                ..ModerationBehavior::NONE
            };
        }
        Some(LabelValueDefinitionBlurs::Media) => {
            let images = ModerationBehavior {
                profile_list: badge,
                profile_view: badge,
                avatar: B,
                banner: B,
                ..ModerationBehavior::NONE
            };
            behaviors.account = images;
            behaviors.profile = images;
            behaviors.content = ModerationBehavior {
                content_media: B,
                ..ModerationBehavior::NONE
            };
        }
        Some(LabelValueDefinitionBlurs::None) => {
            behaviors.account = ModerationBehavior {
                profile_list: badge,
                profile_view: badge,
                content_list: badge,
                content_view: badge,
                ..ModerationBehavior::NONE
            };
            behaviors.profile = ModerationBehavior {
                profile_list: badge,
                profile_view: badge,
                ..ModerationBehavior::NONE
            };
            behaviors.content = ModerationBehavior {
                content_list: badge,
                content_view: badge,
                ..ModerationBehavior::NONE
            };
        }
        None => {}
    }
    let default_setting = match def.default_setting.known() {
        Some(LabelValueDefinitionDefaultSetting::Hide) => LabelPreference::Hide,
        Some(LabelValueDefinitionDefaultSetting::Ignore) => LabelPreference::Ignore,
        _ => LabelPreference::Warn,
    };
    InterpretedLabelValueDefinition {
        identifier: Cow::Owned(def.identifier.clone()),
        severity: def.severity.clone(),
        blurs: def.blurs.clone(),
        adult_only,
        locales: def.locales.clone(),
        defined_by: defined_by.cloned(),
        configurable: true,
        default_setting,
        flags: LabelFlags {
            adult: adult_only,
            no_self: true,
            ..NO_FLAGS
        },
        behaviors,
    }
}

/// The custom label values a labeler declares in its service record
/// (`interpretLabelValueDefinitions`), each read by
/// [`interpret_label_value_definition`] with the labeler as `defined_by`.
/// Definitions that break the lexicon's constraints are left out, as
/// `@atproto/api` leaves them out.
///
/// ```no_run
/// # use atmo_client::atmo_api::app::bsky::labeler::defs::LabelerViewDetailed;
/// # fn demo(view: &LabelerViewDetailed) {
/// use atmo_client::moderation::{interpret_label_value_definitions, ModerationOpts};
/// let mut opts = ModerationOpts::default();
/// opts.label_defs.insert(view.creator.did.clone(), interpret_label_value_definitions(view));
/// # }
/// ```
pub fn interpret_label_value_definitions(
    labeler: &LabelerViewDetailed,
) -> Vec<InterpretedLabelValueDefinition> {
    labeler
        .policies
        .label_value_definitions
        .iter()
        .flatten()
        .filter(|def| def.validate().is_ok())
        .map(|def| interpret_label_value_definition(def, Some(&labeler.creator.did)))
        .collect()
}

/// The custom label definitions of every detailed labeler view in an
/// `app.bsky.labeler.getServices` answer (asked with `detailed: true`), by
/// labeler DID: what `@atproto/api`'s `getLabelDefinitions` returns, ready
/// for [`super::ModerationOpts::label_defs`]. Basic views carry no
/// definitions and are skipped.
///
/// ```
/// use atmo_client::atmo_api::app::bsky::labeler::get_services::Output;
/// use atmo_client::moderation::label_defs_from_services;
///
/// let answer: Output = serde_json::from_value(serde_json::json!({ "views": [{
///     "$type": "app.bsky.labeler.defs#labelerViewDetailed",
///     "uri": "at://did:plc:labeler/app.bsky.labeler.service/self",
///     "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
///     "creator": { "did": "did:plc:labeler", "handle": "labeler.test" },
///     "policies": { "labelValues": ["spoiler"], "labelValueDefinitions": [
///         { "identifier": "spoiler", "severity": "inform", "blurs": "content", "locales": [] }
///     ] },
///     "indexedAt": "2024-01-01T00:00:00.000Z"
/// }] }))?;
/// let defs = label_defs_from_services(&answer);
/// assert_eq!(defs[&"did:plc:labeler".parse()?][0].identifier, "spoiler");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn label_defs_from_services(
    answer: &atmo_api::app::bsky::labeler::get_services::Output,
) -> std::collections::HashMap<Did, Vec<InterpretedLabelValueDefinition>> {
    use atmo_api::app::bsky::labeler::get_services::OutputViewsItem;
    answer
        .views
        .iter()
        .filter_map(|v| match v {
            OutputViewsItem::LabelerViewDetailed(d) => {
                Some((d.creator.did.clone(), interpret_label_value_definitions(d)))
            }
            _ => None,
        })
        .collect()
}
