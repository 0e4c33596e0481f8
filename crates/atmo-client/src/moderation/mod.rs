//! Moderation as the official Bluesky app applies it: labels, mutes, blocks,
//! muted words and hidden posts turned into what to show (feature
//! `app-bsky`).
//!
//! The Rust counterpart of `@atproto/api`'s `moderation` module, with the
//! same semantics (the version whose lexicons this crate is generated
//! from). A `moderate_*` function reads a view from the AppView
//! ([`moderate_post`], [`moderate_profile`], [`moderate_notification`],
//! [`moderate_feed_generator`], [`moderate_user_list`], [`moderate_status`];
//! profiles include the chat service's view with feature `chat-bsky`) with the viewer's
//! [`ModerationOpts`] and returns a [`ModerationDecision`]; its
//! [`ui`](ModerationDecision::ui) says, for one [`ModerationContext`],
//! whether to filter the subject out of a list, blur it (and whether the
//! blur can be clicked through), or show an alert or an informational
//! badge, each with the [`ModerationCause`]s behind it.
//!
//! ```
//! use atmo_client::atmo_api::app::bsky::actor::defs::{ProfileViewBasic, ViewerState};
//! use atmo_client::atmo_api::app::bsky::feed::defs::PostView;
//! use atmo_client::atmo_types::{Datetime, Unknown};
//! use atmo_client::moderation::{
//!     moderate_post, ModerationContext, ModerationOpts, ModerationPrefs,
//! };
//!
//! // The viewer blocks the author.
//! let mut author = ProfileViewBasic::new("did:plc:bob".parse()?, "bob.test".parse()?);
//! let mut viewer = ViewerState::default();
//! viewer.blocking = Some("at://did:plc:me/app.bsky.graph.block/1".parse()?);
//! author.viewer = Some(viewer);
//! let record = Unknown::from_json(r#"{"$type":"app.bsky.feed.post","text":"hello","createdAt":"2024-01-01T00:00:00Z"}"#)?;
//! let post = PostView::new(
//!     "at://did:plc:bob/app.bsky.feed.post/3k".parse()?,
//!     "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".parse()?,
//!     author,
//!     record,
//!     Datetime::now(),
//! );
//!
//! let opts = ModerationOpts::new(Some("did:plc:me".parse()?), ModerationPrefs::default());
//! let decision = moderate_post(&post, &opts);
//! assert!(decision.blocked());
//! assert!(decision.ui(ModerationContext::ContentList).filter());
//! let view = decision.ui(ModerationContext::ContentView);
//! assert!(view.blur() && view.no_override);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The options
//!
//! [`ModerationPrefs`] holds the viewer's choices: adult content on or off,
//! a setting (ignore / warn / hide) per label value globally and per
//! labeler, the labelers listened to, muted words and hidden posts.
//! [`ModerationPrefs::from_preferences`] reads them from what
//! `app.bsky.actor.getPreferences` returns. Labelers' own label values
//! come from their service views
//! ([`interpret_label_value_definitions`]) into
//! [`ModerationOpts::label_defs`]. The agent does both in one call,
//! [`Agent::moderation_opts`](crate::Agent::moderation_opts), and
//! [`Agent::with_labelers_from`](crate::Agent::with_labelers_from) gives an
//! agent that asks the AppView for those labelers' labels. A logged-out viewer has no `user_did`,
//! which makes `!no-unauthenticated` apply.
//!
//! # How labels resolve
//!
//! A label counts when it is a built-in value ([`builtin_label`]) or one its
//! labeler defines, and comes either from a labeler the viewer listens to or
//! from the subject's own account (a self-label; values flagged `no_self`,
//! such as `!hide` and every custom value, cannot be self-applied). Its
//! setting is the definition's when not configurable; `hide` for adult
//! values while adult content is off; else the viewer's setting for that
//! labeler, the global one, or the definition's default. `ignore` drops it.
//! Blurs from `!hide`, `!no-unauthenticated` and hidden adult values cannot
//! be clicked through.
//!
//! # Differences from `@atproto/api`
//!
//! - A decision borrows the subject and the options instead of copying.
//! - Muted-word expiry compares instants rather than timestamp strings, so
//!   an `expiresAt` with a timezone offset expires at the right moment.
//! - A post record whose muted-word fields (`text`, `facets`, `tags`,
//!   `langs`, `embed`) have the wrong JSON types is treated as having no
//!   text, where the TypeScript code would throw.

mod agent;
mod decision;
mod labels;
mod mutewords;
mod record;
mod subjects;
mod types;

pub use agent::{accept_labelers_for, LABELERS_PER_CALL};
pub use decision::{
    CauseKind, CauseSource, LabelCause, ModerationCause, ModerationDecision, ModerationUi,
    MuteWordMatch,
};
pub use labels::{
    builtin_label, builtin_labels, interpret_label_value_definition,
    interpret_label_value_definitions, is_custom_label_value, label_defs_from_services,
    InterpretedLabelValueDefinition, LabelBehaviors, LabelFlags, DEFAULT_LABEL_SETTINGS,
};
pub use mutewords::{has_muted_word, match_mute_words, MuteWordText};
pub use subjects::{
    moderate_feed_generator, moderate_notification, moderate_post, moderate_profile,
    moderate_status, moderate_user_list, ProfileSubject, UserList,
};
pub use types::{
    accept_labelers_header, LabelPreference, LabelTarget, LabelerPrefs, ModerationAction,
    ModerationBehavior, ModerationContext, ModerationOpts, ModerationPrefs, BSKY_LABELER_DID,
};
