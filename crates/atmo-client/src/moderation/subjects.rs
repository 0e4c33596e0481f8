//! Decisions per kind of subject: accounts and profiles, posts (with their
//! quoted posts and muted words), notifications, feed generators, lists.

use atmo_api::app::bsky::actor::defs::{
    MutedWord, ProfileView, ProfileViewBasic, ProfileViewDetailed, ViewerState,
};
use atmo_api::app::bsky::embed::gallery::ViewItemsItem;
use atmo_api::app::bsky::embed::record::{ViewBlocked, ViewRecord, ViewRecordUnion};
use atmo_api::app::bsky::embed::record_with_media::ViewMedia;
use atmo_api::app::bsky::feed::defs::{GeneratorView, PostView, PostViewEmbed};
use atmo_api::app::bsky::graph::defs::{ListView, ListViewBasic};
use atmo_api::app::bsky::notification::list_notifications::Notification;
use atmo_api::com::atproto::label::defs::Label;
use atmo_types::{AtUri, Did, Unknown};

use super::decision::{CauseKind, CauseSource, ModerationDecision, MuteWordMatch};
use super::mutewords::{match_prepared, prepare, MuteWordText, PreparedWord};
use super::record::{EmbedLite, PostLite};
use super::types::{LabelTarget, ModerationOpts};

/// An account view moderation can read: the DID, the viewer's relationship
/// to it, and its labels. Implemented for the three `app.bsky.actor.defs`
/// profile views.
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::ProfileViewBasic;
/// use atmo_client::moderation::ProfileSubject;
/// let p = ProfileViewBasic::new("did:plc:a".parse()?, "a.test".parse()?);
/// assert_eq!(p.subject_did().as_str(), "did:plc:a");
/// assert!(p.subject_labels().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ProfileSubject {
    /// The account's DID.
    fn subject_did(&self) -> &Did;
    /// The viewer's relationship to the account.
    fn subject_viewer(&self) -> Option<&ViewerState>;
    /// Labels on the account and its profile record.
    fn subject_labels(&self) -> &[Label];
    /// Labels on the account's live status, if the view carries one.
    fn subject_status_labels(&self) -> &[Label] {
        &[]
    }
}

macro_rules! profile_subject {
    ($($t:ty),*) => {$(
        impl ProfileSubject for $t {
            fn subject_did(&self) -> &Did {
                &self.did
            }
            fn subject_viewer(&self) -> Option<&ViewerState> {
                self.viewer.as_ref()
            }
            fn subject_labels(&self) -> &[Label] {
                self.labels.as_deref().unwrap_or_default()
            }
            fn subject_status_labels(&self) -> &[Label] {
                self.status
                    .as_ref()
                    .and_then(|s| s.labels.as_deref())
                    .unwrap_or_default()
            }
        }
    )*};
}
profile_subject!(ProfileViewBasic, ProfileView, ProfileViewDetailed);

/// The chat service's profile view (feature `chat-bsky`).
#[cfg(feature = "chat-bsky")]
impl ProfileSubject for atmo_api::chat::bsky::actor::defs::ProfileViewBasic {
    fn subject_did(&self) -> &Did {
        &self.did
    }
    fn subject_viewer(&self) -> Option<&ViewerState> {
        self.viewer.as_ref()
    }
    fn subject_labels(&self) -> &[Label] {
        self.labels.as_deref().unwrap_or_default()
    }
}

const PROFILE_SELF_SUFFIX: &str = "/app.bsky.actor.profile/self";

fn is_me(did: &str, opts: &ModerationOpts) -> bool {
    opts.user_did.as_ref().is_some_and(|me| me.as_str() == did)
}

/// Mutes and blocks from the viewer state.
fn add_relationship<'a>(d: &mut ModerationDecision<'a>, viewer: Option<&'a ViewerState>) {
    let Some(v) = viewer else { return };
    if v.muted == Some(true) {
        let source = v
            .muted_by_list
            .as_ref()
            .map_or(CauseSource::User, CauseSource::List);
        d.push(CauseKind::Muted, source, 6);
    }
    if v.blocking.is_some() {
        let source = v
            .blocking_by_list
            .as_ref()
            .map_or(CauseSource::User, CauseSource::List);
        d.push(CauseKind::Blocking, source, 3);
    }
    if v.blocked_by == Some(true) {
        d.push(CauseKind::BlockedBy, CauseSource::User, 4);
    }
}

/// Account labels are those not on the profile record, plus
/// `!no-unauthenticated` wherever it is.
fn decide_account<'a, P: ProfileSubject + ?Sized>(
    subject: &'a P,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    let did = subject.subject_did().as_str();
    let mut d = ModerationDecision::new(did, is_me(did, opts));
    add_relationship(&mut d, subject.subject_viewer());
    for label in subject.subject_labels() {
        if !label.uri.as_str().ends_with(PROFILE_SELF_SUFFIX) || label.val == "!no-unauthenticated"
        {
            d.add_label(LabelTarget::Account, label, opts);
        }
    }
    d
}

fn decide_profile<'a, P: ProfileSubject + ?Sized>(
    subject: &'a P,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    let did = subject.subject_did().as_str();
    let mut d = ModerationDecision::new(did, is_me(did, opts));
    for label in subject.subject_labels() {
        if label.uri.as_str().ends_with(PROFILE_SELF_SUFFIX) {
            d.add_label(LabelTarget::Profile, label, opts);
        }
    }
    d
}

/// Content labels on a subject by `author`, then the author's account and
/// profile decisions.
fn decide_content_by<'a, P: ProfileSubject + ?Sized>(
    author: &'a P,
    labels: Option<&'a Vec<Label>>,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    let did = author.subject_did().as_str();
    let mut d = ModerationDecision::new(did, is_me(did, opts));
    for label in labels.into_iter().flatten() {
        d.add_label(LabelTarget::Content, label, opts);
    }
    d.merge(decide_account(author, opts));
    d.merge(decide_profile(author, opts));
    d
}

/// Decides about an account and its profile (`moderateProfile`): mutes and
/// blocks from the viewer state, labels on the account and on the profile
/// record.
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::{ProfileViewBasic, ViewerState};
/// use atmo_client::moderation::{moderate_profile, ModerationContext, ModerationOpts};
///
/// let mut profile = ProfileViewBasic::new("did:plc:bob".parse()?, "bob.test".parse()?);
/// let mut viewer = ViewerState::default();
/// viewer.muted = Some(true);
/// profile.viewer = Some(viewer);
/// let opts = ModerationOpts::new(Some("did:plc:me".parse()?), Default::default());
/// let decision = moderate_profile(&profile, &opts);
/// assert!(decision.muted());
/// assert!(decision.ui(ModerationContext::ProfileList).filter());
/// assert!(decision.ui(ModerationContext::ProfileView).alert());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn moderate_profile<'a, P: ProfileSubject + ?Sized>(
    profile: &'a P,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    let mut d = decide_account(profile, opts);
    d.merge(decide_profile(profile, opts));
    d
}

/// Decides about an account's live status (`moderateStatus`): the labels on
/// the status, then the account and profile decisions.
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::ProfileViewBasic;
/// use atmo_client::moderation::{moderate_status, ModerationContext, ModerationOpts};
///
/// let profile = ProfileViewBasic::new("did:plc:bob".parse()?, "bob.test".parse()?);
/// let opts = ModerationOpts::new(Some("did:plc:me".parse()?), Default::default());
/// assert!(!moderate_status(&profile, &opts).ui(ModerationContext::ContentView).blur());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn moderate_status<'a, P: ProfileSubject + ?Sized>(
    profile: &'a P,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    let did = profile.subject_did().as_str();
    let mut d = ModerationDecision::new(did, is_me(did, opts));
    for label in profile.subject_status_labels() {
        d.add_label(LabelTarget::Content, label, opts);
    }
    d.merge(decide_account(profile, opts));
    d.merge(decide_profile(profile, opts));
    d
}

/// Decides about a post (`moderatePost`): its labels, whether the viewer hid
/// it (or the post it quotes), muted words in it (not in the viewer's own
/// posts), its author's account and profile, and the quoted post's labels,
/// author and blocks, downgraded so that they filter but do not blur.
///
/// ```
/// use atmo_client::atmo_api::app::bsky::actor::defs::ProfileViewBasic;
/// use atmo_client::atmo_api::app::bsky::feed::defs::PostView;
/// use atmo_client::atmo_api::com::atproto::label::defs::Label;
/// use atmo_client::atmo_types::{Datetime, Unknown};
/// use atmo_client::moderation::{moderate_post, ModerationContext, ModerationOpts};
///
/// let author = ProfileViewBasic::new("did:plc:bob".parse()?, "bob.test".parse()?);
/// let uri = "at://did:plc:bob/app.bsky.feed.post/3k";
/// let record = Unknown::from_json(r#"{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2024-01-01T00:00:00Z"}"#)?;
/// let mut post = PostView::new(uri.parse()?, "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".parse()?, author, record, Datetime::now());
/// post.labels = Some(vec![Label::new("did:plc:bob".parse()?, uri.parse()?, "porn".into(), Datetime::now())]);
///
/// let opts = ModerationOpts::new(Some("did:plc:me".parse()?), Default::default());
/// let decision = moderate_post(&post, &opts);
/// // a self-label: adult content is off, so it hides the post
/// assert!(decision.ui(ModerationContext::ContentList).filter());
/// assert!(decision.ui(ModerationContext::ContentMedia).blur());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn moderate_post<'a>(post: &'a PostView, opts: &'a ModerationOpts) -> ModerationDecision<'a> {
    let did = post.author.did.as_str();
    let mut d = ModerationDecision::new(did, is_me(did, opts));
    for label in post.labels.iter().flatten() {
        d.add_label(LabelTarget::Content, label, opts);
    }
    if is_hidden(post, &opts.prefs.hidden_posts) {
        d.push(CauseKind::Hidden, CauseSource::User, 6);
    }
    if !d.is_me {
        let matches = match_all_mute_words(post, &opts.prefs.muted_words);
        if !matches.is_empty() {
            d.push(CauseKind::MuteWord(matches), CauseSource::User, 6);
        }
    }
    if let Some(embed) = decide_embed(post.embed.as_ref(), opts) {
        d.merge(embed.downgrade());
    }
    d.merge(decide_account(&post.author, opts));
    d.merge(decide_profile(&post.author, opts));
    d
}

/// The quoted record of a post's embed: a post view, a blocked post, or
/// anything else.
fn quoted(embed: Option<&PostViewEmbed>) -> Option<&ViewRecordUnion> {
    match embed? {
        PostViewEmbed::RecordView(v) => Some(&v.record),
        PostViewEmbed::RecordWithMediaView(v) => Some(&v.record.record),
        _ => None,
    }
}

fn decide_embed<'a>(
    embed: Option<&'a PostViewEmbed>,
    opts: &'a ModerationOpts,
) -> Option<ModerationDecision<'a>> {
    match quoted(embed)? {
        ViewRecordUnion::ViewRecord(r) => Some(decide_quoted_post(r, opts)),
        ViewRecordUnion::ViewBlocked(b) => Some(decide_blocked_quote(b, opts)),
        _ => None,
    }
}

fn decide_quoted_post<'a>(r: &'a ViewRecord, opts: &'a ModerationOpts) -> ModerationDecision<'a> {
    decide_content_by(&r.author, r.labels.as_ref(), opts)
}

fn decide_blocked_quote<'a>(
    b: &'a ViewBlocked,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    let did = b.author.did.as_str();
    let mut d = ModerationDecision::new(did, is_me(did, opts));
    add_relationship(&mut d, b.author.viewer.as_ref());
    d
}

fn is_hidden(post: &PostView, hidden: &[AtUri]) -> bool {
    if hidden.is_empty() {
        return false;
    }
    if hidden.contains(&post.uri) {
        return true;
    }
    match quoted(post.embed.as_ref()) {
        Some(ViewRecordUnion::ViewRecord(r)) => hidden.contains(&r.uri),
        _ => false,
    }
}

fn decode_post(record: &Unknown) -> Option<PostLite<'_>> {
    let ty = record.type_name()?;
    if ty != "app.bsky.feed.post" && ty != "app.bsky.feed.post#main" {
        return None;
    }
    // A record that does not decode has no text to match.
    record.decode::<PostLite<'_>>().ok()
}

fn following(author: &ProfileViewBasic) -> bool {
    author
        .viewer
        .as_ref()
        .is_some_and(|v| v.following.is_some())
}

/// Collects matches the way `@atproto/api` walks a post: the first text
/// (post text, alt texts, quoted post, link cards) with any match wins.
struct MuteWalk<'w> {
    words: Vec<PreparedWord<'w>>,
}

impl<'w> MuteWalk<'w> {
    fn check(
        &self,
        text: &str,
        tags: &[&str],
        languages: &[&str],
        followed: bool,
    ) -> Option<Vec<MuteWordMatch<'w>>> {
        let m = match_prepared(
            &self.words,
            &MuteWordText {
                text,
                tags,
                languages,
                author_followed: followed,
            },
        );
        (!m.is_empty()).then_some(m)
    }

    fn alts<'t>(
        &self,
        alts: impl Iterator<Item = &'t str>,
        languages: &[&str],
        followed: bool,
    ) -> Option<Vec<MuteWordMatch<'w>>> {
        alts.into_iter()
            .find_map(|alt| self.check(alt, &[], languages, followed))
    }

    /// A post record's text, and the alt texts of its images and gallery.
    fn record(&self, post: &PostLite<'_>, followed: bool) -> Option<Vec<MuteWordMatch<'w>>> {
        let langs = post.langs();
        if let Some(m) = self.check(post.text(), &post.tags(), &langs, followed) {
            return Some(m);
        }
        let embed = post.embed.as_ref()?;
        self.alts(embed.image_alts(), &langs, followed)
            .or_else(|| self.alts(embed.gallery_alts(), &langs, followed))
    }

    /// A quoted post's record embed: its images, gallery, link card, and
    /// the media of its own quote-with-media (languages unknown there).
    fn quoted_embed(
        &self,
        embed: &EmbedLite<'_>,
        langs: &[&str],
        followed: bool,
    ) -> Option<Vec<MuteWordMatch<'w>>> {
        if let Some(m) = self
            .alts(embed.image_alts(), langs, followed)
            .or_else(|| self.alts(embed.gallery_alts(), langs, followed))
        {
            return Some(m);
        }
        if let Some(m) = embed
            .external_text()
            .and_then(|t| self.check(&t, &[], &[], followed))
        {
            return Some(m);
        }
        if embed.is("app.bsky.embed.recordWithMedia") {
            let media = embed.media.as_deref()?;
            if let Some(m) = media
                .external_text()
                .and_then(|t| self.check(&t, &[], &[], followed))
            {
                return Some(m);
            }
            return self
                .alts(media.image_alts(), &[], followed)
                .or_else(|| self.alts(media.gallery_alts(), &[], followed));
        }
        None
    }
}

fn match_all_mute_words<'w>(post: &PostView, words: &'w [MutedWord]) -> Vec<MuteWordMatch<'w>> {
    if words.is_empty() {
        return Vec::new();
    }
    let walk = MuteWalk {
        words: prepare(words),
    };
    let author_followed = following(&post.author);
    let record = decode_post(&post.record);
    if let Some(m) = record
        .as_ref()
        .and_then(|r| walk.record(r, author_followed))
    {
        return m;
    }
    let found = match post.embed.as_ref() {
        Some(PostViewEmbed::RecordView(v)) => match &v.record {
            ViewRecordUnion::ViewRecord(r) => {
                let followed = following(&r.author);
                decode_post(&r.value).and_then(|q| {
                    let langs = q.langs();
                    walk.check(q.text(), &q.tags(), &langs, followed)
                        .or_else(|| {
                            q.embed
                                .as_ref()
                                .and_then(|e| walk.quoted_embed(e, &langs, followed))
                        })
                })
            }
            _ => None,
        },
        Some(PostViewEmbed::ExternalView(v)) => {
            let text = format!("{} {}", v.external.title, v.external.description);
            walk.check(&text, &[], &[], author_followed)
        }
        Some(PostViewEmbed::RecordWithMediaView(v)) => match &v.record.record {
            ViewRecordUnion::ViewRecord(r) => {
                let followed = following(&r.author);
                let outer_langs = record.as_ref().map(PostLite::langs).unwrap_or_default();
                decode_post(&r.value)
                    .and_then(|q| walk.check(q.text(), &q.tags(), &q.langs(), followed))
                    .or_else(|| match &v.media {
                        ViewMedia::ImagesView(i) => walk.alts(
                            i.images.iter().map(|i| i.alt.as_str()),
                            &outer_langs,
                            followed,
                        ),
                        ViewMedia::GalleryView(g) => walk.alts(
                            g.items.iter().filter_map(|i| match i {
                                ViewItemsItem::ViewImage(i) => Some(i.alt.as_str()),
                                _ => None,
                            }),
                            &outer_langs,
                            followed,
                        ),
                        ViewMedia::ExternalView(e) => {
                            let text = format!("{} {}", e.external.title, e.external.description);
                            walk.check(&text, &[], &[], followed)
                        }
                        _ => None,
                    })
            }
            _ => None,
        },
        _ => None,
    };
    found.unwrap_or_default()
}

/// Decides about a notification (`moderateNotification`): its labels, and
/// its author's account and profile.
///
/// ```no_run
/// # fn demo(n: &atmo_client::atmo_api::app::bsky::notification::list_notifications::Notification,
/// #         opts: &atmo_client::moderation::ModerationOpts) {
/// use atmo_client::moderation::{moderate_notification, ModerationContext};
/// if moderate_notification(n, opts).ui(ModerationContext::ContentList).filter() {
///     // leave it out of the list
/// }
/// # }
/// ```
pub fn moderate_notification<'a>(
    notification: &'a Notification,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    decide_content_by(&notification.author, notification.labels.as_ref(), opts)
}

/// Decides about a feed generator (`moderateFeedGenerator`): its labels, and
/// its creator's account and profile.
///
/// ```no_run
/// # fn demo(g: &atmo_client::atmo_api::app::bsky::feed::defs::GeneratorView,
/// #         opts: &atmo_client::moderation::ModerationOpts) {
/// use atmo_client::moderation::{moderate_feed_generator, ModerationContext};
/// let decision = moderate_feed_generator(g, opts);
/// let ui = decision.ui(ModerationContext::ContentView);
/// println!("warn: {}", ui.blur() || ui.alert());
/// # }
/// ```
pub fn moderate_feed_generator<'a>(
    generator: &'a GeneratorView,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    decide_content_by(&generator.creator, generator.labels.as_ref(), opts)
}

/// A list to moderate: a full view (with its creator) or a basic one (the
/// creator's DID read from the list's URI).
///
/// ```no_run
/// # fn demo(l: &atmo_client::atmo_api::app::bsky::graph::defs::ListViewBasic) {
/// use atmo_client::moderation::UserList;
/// let subject = UserList::from(l);
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub enum UserList<'a> {
    /// `app.bsky.graph.defs#listView`.
    Full(&'a ListView),
    /// `app.bsky.graph.defs#listViewBasic`.
    Basic(&'a ListViewBasic),
}

impl<'a> From<&'a ListView> for UserList<'a> {
    fn from(l: &'a ListView) -> Self {
        UserList::Full(l)
    }
}

impl<'a> From<&'a ListViewBasic> for UserList<'a> {
    fn from(l: &'a ListViewBasic) -> Self {
        UserList::Basic(l)
    }
}

/// The authority of an `at://` URI (the DID or handle it belongs to).
fn uri_authority(uri: &AtUri) -> &str {
    let rest = uri.as_str().strip_prefix("at://").unwrap_or(uri.as_str());
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Decides about a list (`moderateUserList`): its labels, and, for a full
/// view, its creator's account and profile.
///
/// ```no_run
/// # fn demo(l: &atmo_client::atmo_api::app::bsky::graph::defs::ListView,
/// #         opts: &atmo_client::moderation::ModerationOpts) {
/// use atmo_client::moderation::{moderate_user_list, ModerationContext};
/// let hidden = moderate_user_list(l, opts).ui(ModerationContext::ContentList).filter();
/// # }
/// ```
pub fn moderate_user_list<'a>(
    list: impl Into<UserList<'a>>,
    opts: &'a ModerationOpts,
) -> ModerationDecision<'a> {
    match list.into() {
        UserList::Full(l) => decide_content_by(&l.creator, l.labels.as_ref(), opts),
        UserList::Basic(l) => {
            let did = uri_authority(&l.uri);
            let mut d = ModerationDecision::new(did, is_me(did, opts));
            for label in l.labels.iter().flatten() {
                d.add_label(LabelTarget::Content, label, opts);
            }
            d
        }
    }
}
