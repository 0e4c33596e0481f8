//! A moderation decision: the causes found on a subject, and what they mean
//! for each place the subject is shown.

use atmo_api::app::bsky::actor::defs::MutedWord;
use atmo_api::app::bsky::graph::defs::ListViewBasic;
use atmo_api::com::atproto::label::defs::Label;
use atmo_types::Did;

use super::labels::{builtin_label, is_custom_label_value, InterpretedLabelValueDefinition};
use super::types::{
    LabelPreference, LabelTarget, ModerationAction, ModerationBehavior, ModerationContext,
    ModerationOpts,
};

/// Who is behind a cause.
///
/// ```
/// use atmo_client::moderation::CauseSource;
/// assert!(matches!(CauseSource::User, CauseSource::User));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CauseSource<'a> {
    /// The viewer's own action (a mute, a block, a hidden post, a muted
    /// word), or a self-label of the subject's author.
    User,
    /// A moderation list the viewer subscribes to.
    List(&'a ListViewBasic),
    /// A labeler the viewer listens to.
    Labeler(&'a Did),
}

/// A label that applies, with the setting and behaviour it resolved to.
///
/// ```no_run
/// # fn demo(decision: &atmo_client::moderation::ModerationDecision<'_>) {
/// for cause in decision.label_causes() {
///     println!("{} from {}", cause.label.val, cause.label.src);
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LabelCause<'a> {
    /// The label as the view carries it.
    pub label: &'a Label,
    /// Its definition (built-in or the labeler's).
    pub def: &'a InterpretedLabelValueDefinition,
    /// What it was put on.
    pub target: LabelTarget,
    /// The viewer's effective setting (never `Ignore`: ignored labels make
    /// no cause).
    pub setting: LabelPreference,
    /// The definition's behaviour for [`LabelCause::target`].
    pub behavior: ModerationBehavior,
    /// Whether a blur from it cannot be clicked through.
    pub no_override: bool,
}

/// A muted word found in a post.
///
/// ```no_run
/// # fn demo(m: &atmo_client::moderation::MuteWordMatch<'_>) {
/// println!("muted {:?} matched {:?}", m.word.value, m.predicate);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MuteWordMatch<'a> {
    /// The viewer's muted word.
    pub word: &'a MutedWord,
    /// What in the text matched it: the muted value itself, or the word of
    /// the text (lowercased, punctuation kept) that matched.
    pub predicate: String,
}

/// Why a subject is moderated.
///
/// ```
/// use atmo_client::moderation::CauseKind;
/// assert_eq!(CauseKind::BlockedBy.as_str(), "blocked-by");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum CauseKind<'a> {
    /// The viewer blocks the author (directly or through a list).
    Blocking,
    /// The author blocks the viewer.
    BlockedBy,
    /// A block between two other accounts hides the content (kept for
    /// parity with `@atproto/api`, which declares it; no subject produces
    /// it today).
    BlockOther,
    /// A label.
    Label(LabelCause<'a>),
    /// The viewer mutes the author (directly or through a list).
    Muted,
    /// The post contains muted words.
    MuteWord(Vec<MuteWordMatch<'a>>),
    /// The viewer hid the post.
    Hidden,
}

impl CauseKind<'_> {
    /// The `type` `@atproto/api` gives the cause: `blocking`, `blocked-by`,
    /// `block-other`, `label`, `muted`, `mute-word`, `hidden`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CauseKind::Blocking => "blocking",
            CauseKind::BlockedBy => "blocked-by",
            CauseKind::BlockOther => "block-other",
            CauseKind::Label(_) => "label",
            CauseKind::Muted => "muted",
            CauseKind::MuteWord(_) => "mute-word",
            CauseKind::Hidden => "hidden",
        }
    }
}

/// One reason to moderate a subject (`ModerationCause`).
///
/// `priority` orders causes in [`ModerationUi::filters`] and
/// [`ModerationUi::blurs`], lowest (most important) first: 1 for labels that
/// cannot be overridden, 2 for labels set to hide, 3 blocking, 4 blocked-by
/// and block-other, 5 labels that blur a profile or content, 6 mutes, muted
/// words and hidden posts, 7 labels that blur lists or media, 8 other labels.
/// A `downgraded` cause (from a quoted post) still filters but blurs, alerts
/// and informs nothing.
///
/// ```no_run
/// # fn demo(decision: &atmo_client::moderation::ModerationDecision<'_>) {
/// for cause in &decision.causes {
///     println!("{} (priority {})", cause.kind.as_str(), cause.priority);
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ModerationCause<'a> {
    /// What it is.
    pub kind: CauseKind<'a>,
    /// Who is behind it.
    pub source: CauseSource<'a>,
    /// 1 (most important) to 8.
    pub priority: u8,
    /// Whether it came from embedded content and only filters.
    pub downgraded: bool,
}

/// What to do with a subject in one context (`ModerationUI`).
///
/// ```no_run
/// # fn demo(decision: &atmo_client::moderation::ModerationDecision<'_>) {
/// use atmo_client::moderation::ModerationContext;
/// let ui = decision.ui(ModerationContext::ContentList);
/// if ui.filter() {
///     // leave the post out of the feed
/// } else if ui.blur() {
///     // cover it; offer "show anyway" unless ui.no_override
/// }
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModerationUi<'d, 'a> {
    /// The viewer may not click through the blur.
    pub no_override: bool,
    /// Causes to leave the subject out of the list, by priority.
    pub filters: Vec<&'d ModerationCause<'a>>,
    /// Causes to cover it, by priority.
    pub blurs: Vec<&'d ModerationCause<'a>>,
    /// Causes for a warning badge.
    pub alerts: Vec<&'d ModerationCause<'a>>,
    /// Causes for an informational badge.
    pub informs: Vec<&'d ModerationCause<'a>>,
}

impl ModerationUi<'_, '_> {
    /// Leave the subject out of the list.
    pub fn filter(&self) -> bool {
        !self.filters.is_empty()
    }
    /// Cover the subject.
    pub fn blur(&self) -> bool {
        !self.blurs.is_empty()
    }
    /// Show a warning.
    pub fn alert(&self) -> bool {
        !self.alerts.is_empty()
    }
    /// Show an informational note.
    pub fn inform(&self) -> bool {
        !self.informs.is_empty()
    }
}

/// Everything found on a subject (`ModerationDecision`); ask
/// [`ModerationDecision::ui`] what to do in each context. It borrows the
/// subject and the options.
///
/// ```no_run
/// # fn demo(post: &atmo_client::atmo_api::app::bsky::feed::defs::PostView,
/// #         opts: &atmo_client::moderation::ModerationOpts) {
/// use atmo_client::moderation::{moderate_post, ModerationContext};
/// let decision = moderate_post(post, opts);
/// let media = decision.ui(ModerationContext::ContentMedia);
/// println!("blur images: {}", media.blur());
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModerationDecision<'a> {
    /// The subject's author or account DID.
    pub did: &'a str,
    /// Whether that is the viewer.
    pub is_me: bool,
    /// Every cause found, in the order found.
    pub causes: Vec<ModerationCause<'a>>,
}

/// Where each kind of user-made cause blurs, alerts or informs.
fn fixed_behavior(kind: &CauseKind<'_>) -> ModerationBehavior {
    match kind {
        CauseKind::Blocking | CauseKind::BlockedBy | CauseKind::BlockOther => {
            ModerationBehavior::BLOCK
        }
        CauseKind::Muted => ModerationBehavior::MUTE,
        CauseKind::MuteWord(_) => ModerationBehavior::MUTE_WORD,
        CauseKind::Hidden => ModerationBehavior::HIDE,
        CauseKind::Label(l) => l.behavior,
    }
}

impl<'a> ModerationDecision<'a> {
    /// An empty decision about `did`.
    ///
    /// ```
    /// use atmo_client::moderation::{ModerationContext, ModerationDecision};
    /// let d = ModerationDecision::new("did:plc:a", false);
    /// assert!(!d.ui(ModerationContext::ContentList).filter());
    /// ```
    pub fn new(did: &'a str, is_me: bool) -> Self {
        ModerationDecision {
            did,
            is_me,
            causes: Vec::new(),
        }
    }

    /// Appends the causes of `other` (keeping this decision's subject).
    ///
    /// ```
    /// use atmo_client::moderation::ModerationDecision;
    /// let mut a = ModerationDecision::new("did:plc:a", false);
    /// a.merge(ModerationDecision::new("did:plc:b", true));
    /// assert_eq!(a.did, "did:plc:a");
    /// ```
    pub fn merge(&mut self, other: ModerationDecision<'a>) {
        self.causes.extend(other.causes);
    }

    /// Marks every cause downgraded (as for a quoted post's causes).
    ///
    /// ```
    /// use atmo_client::moderation::ModerationDecision;
    /// let d = ModerationDecision::new("did:plc:a", false).downgrade();
    /// assert!(d.causes.iter().all(|c| c.downgraded));
    /// ```
    pub fn downgrade(mut self) -> Self {
        for c in &mut self.causes {
            c.downgraded = true;
        }
        self
    }

    /// Whether a block (either way) is among the causes.
    ///
    /// ```
    /// # use atmo_client::moderation::ModerationDecision;
    /// assert!(!ModerationDecision::new("did:plc:a", false).blocked());
    /// ```
    pub fn blocked(&self) -> bool {
        self.block_cause().is_some()
    }

    /// Whether a mute of the author is among the causes.
    ///
    /// ```
    /// # use atmo_client::moderation::ModerationDecision;
    /// assert!(!ModerationDecision::new("did:plc:a", false).muted());
    /// ```
    pub fn muted(&self) -> bool {
        self.mute_cause().is_some()
    }

    /// The first block cause.
    ///
    /// ```
    /// # use atmo_client::moderation::ModerationDecision;
    /// assert!(ModerationDecision::new("did:plc:a", false).block_cause().is_none());
    /// ```
    pub fn block_cause(&self) -> Option<&ModerationCause<'a>> {
        self.causes.iter().find(|c| {
            matches!(
                c.kind,
                CauseKind::Blocking | CauseKind::BlockedBy | CauseKind::BlockOther
            )
        })
    }

    /// The first mute cause.
    ///
    /// ```
    /// # use atmo_client::moderation::ModerationDecision;
    /// assert!(ModerationDecision::new("did:plc:a", false).mute_cause().is_none());
    /// ```
    pub fn mute_cause(&self) -> Option<&ModerationCause<'a>> {
        self.causes
            .iter()
            .find(|c| matches!(c.kind, CauseKind::Muted))
    }

    /// The label causes.
    ///
    /// ```
    /// # use atmo_client::moderation::ModerationDecision;
    /// assert_eq!(ModerationDecision::new("did:plc:a", false).label_causes().count(), 0);
    /// ```
    pub fn label_causes(&self) -> impl Iterator<Item = &LabelCause<'a>> {
        self.causes.iter().filter_map(|c| match &c.kind {
            CauseKind::Label(l) => Some(l),
            _ => None,
        })
    }

    /// What to do in `context`.
    ///
    /// Blocks, mutes and muted words by or of the viewer's own account are
    /// skipped; blocks, mutes and hidden posts filter profile and content
    /// lists, muted words content lists only, labels filter the lists of
    /// their target when set to hide (never the viewer's own). A block blur
    /// cannot be overridden, nor can a label blur flagged so (unless the
    /// subject is the viewer's).
    ///
    /// ```
    /// use atmo_client::moderation::{ModerationContext, ModerationDecision};
    /// let d = ModerationDecision::new("did:plc:a", false);
    /// for ctx in ModerationContext::ALL {
    ///     let ui = d.ui(ctx);
    ///     assert!(!ui.filter() && !ui.blur() && !ui.alert() && !ui.inform() && !ui.no_override);
    /// }
    /// ```
    pub fn ui(&self, context: ModerationContext) -> ModerationUi<'_, 'a> {
        let mut ui = ModerationUi::default();
        let in_list = matches!(
            context,
            ModerationContext::ProfileList | ModerationContext::ContentList
        );
        for cause in &self.causes {
            match &cause.kind {
                CauseKind::Blocking
                | CauseKind::BlockedBy
                | CauseKind::BlockOther
                | CauseKind::Muted => {
                    if self.is_me {
                        continue;
                    }
                    if in_list {
                        ui.filters.push(cause);
                    }
                }
                CauseKind::MuteWord(_) => {
                    if self.is_me {
                        continue;
                    }
                    if context == ModerationContext::ContentList {
                        ui.filters.push(cause);
                    }
                }
                CauseKind::Hidden => {
                    if in_list {
                        ui.filters.push(cause);
                    }
                }
                CauseKind::Label(l) => {
                    let filters_here = match context {
                        ModerationContext::ProfileList => l.target == LabelTarget::Account,
                        ModerationContext::ContentList => l.target != LabelTarget::Profile,
                        _ => false,
                    };
                    if filters_here && l.setting == LabelPreference::Hide && !self.is_me {
                        ui.filters.push(cause);
                    }
                }
            }
            if cause.downgraded {
                continue;
            }
            match fixed_behavior(&cause.kind).get(context) {
                Some(ModerationAction::Blur) => {
                    ui.blurs.push(cause);
                    match &cause.kind {
                        CauseKind::Blocking | CauseKind::BlockedBy | CauseKind::BlockOther => {
                            ui.no_override = true;
                        }
                        CauseKind::Label(l) if l.no_override && !self.is_me => {
                            ui.no_override = true;
                        }
                        _ => {}
                    }
                }
                Some(ModerationAction::Alert) => ui.alerts.push(cause),
                Some(ModerationAction::Inform) => ui.informs.push(cause),
                None => {}
            }
        }
        ui.filters.sort_by_key(|c| c.priority);
        ui.blurs.sort_by_key(|c| c.priority);
        ui
    }

    pub(crate) fn push(&mut self, kind: CauseKind<'a>, source: CauseSource<'a>, priority: u8) {
        self.causes.push(ModerationCause {
            kind,
            source,
            priority,
            downgraded: false,
        });
    }

    /// Adds the label's cause if it applies to this viewer (`addLabel`).
    pub(crate) fn add_label(
        &mut self,
        target: LabelTarget,
        label: &'a Label,
        opts: &'a ModerationOpts,
    ) {
        let custom = if is_custom_label_value(&label.val) {
            opts.label_defs
                .get(&label.src)
                .and_then(|defs| defs.iter().find(|d| d.identifier == label.val.as_str()))
        } else {
            None
        };
        let Some(def) = custom.or_else(|| builtin_label(&label.val)) else {
            return; // a value nobody defined means nothing
        };
        let prefs = &opts.prefs;
        let is_self = label.src.as_str() == self.did;
        let labeler = if is_self {
            None
        } else {
            match prefs.labelers.iter().find(|l| l.did == label.src) {
                Some(l) => Some(l),
                None => return, // not a labeler the viewer listens to
            }
        };
        if is_self && def.flags.no_self {
            return;
        }
        let adult_hidden = def.flags.adult && !prefs.adult_content_enabled;
        let id: &str = &def.identifier;
        let setting = if !def.configurable {
            def.default_setting
        } else if adult_hidden {
            LabelPreference::Hide
        } else if let Some(p) = labeler.and_then(|l| l.labels.get(id)) {
            *p
        } else if let Some(p) = prefs.labels.get(id) {
            *p
        } else {
            def.default_setting
        };
        if setting == LabelPreference::Ignore {
            return;
        }
        if def.flags.unauthed && opts.user_did.is_some() {
            return;
        }
        let behavior = *def.behaviors.get(target);
        let no_override = def.flags.no_override || adult_hidden;
        let priority = if no_override {
            1
        } else if setting == LabelPreference::Hide {
            2
        } else if behavior.profile_view == Some(ModerationAction::Blur)
            || behavior.content_view == Some(ModerationAction::Blur)
        {
            5
        } else if behavior.content_list == Some(ModerationAction::Blur)
            || behavior.content_media == Some(ModerationAction::Blur)
        {
            7
        } else {
            8
        };
        let source = match labeler {
            Some(l) => CauseSource::Labeler(&l.did),
            None => CauseSource::User,
        };
        self.push(
            CauseKind::Label(LabelCause {
                label,
                def,
                target,
                setting,
                behavior,
                no_override,
            }),
            source,
            priority,
        );
    }
}
