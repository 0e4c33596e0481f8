//! Posts with rich text, embeds and replies, and the agent as the resolver of
//! mentioned handles.

use std::future::Future;

use atmo_api::app::bsky::embed::{
    defs::AspectRatio, external, images, record as embed_record, record_with_media, video,
};
use atmo_api::app::bsky::feed::post::{Post, PostEmbed, ReplyRef};
use atmo_api::com::atproto::identity::resolve_handle;
use atmo_api::com::atproto::repo::strong_ref::StrongRef;
use atmo_api::com::atproto::repo::{create_record, get_record};
use atmo_richtext::{Feature, ResolveHandle, RichText};
use atmo_types::object::Record;
use atmo_types::xrpc::Endpoint;
use atmo_types::{AtIdentifier, AtUri, Blob, Datetime, Did, Handle, Language, RecordKey, Uri};

use super::{now, strong_ref};
use crate::agent::Agent;
use crate::error::Error;
use crate::records::RecordRef;
use crate::session::SessionManager;

/// Where the facets of a post come from.
#[derive(Clone, Debug, PartialEq)]
enum Facets {
    /// Detected in the text (mentions, links, tags), mentions resolved.
    Detect,
    /// The rich text's own; mentions still unresolved get resolved.
    AsGiven,
}

/// A post to write with [`Agent::post_with`]: text (plain, with its facets
/// detected, or [`RichText`] as given), an optional embed and reply.
///
/// Embeds: images (up to four, with alt text and optional aspect ratio), a
/// video, or an external link card are "media"; a post has at most one kind
/// of media. A quoted post ([`PostBuilder::quote`]) may come alone or with
/// media (then the record is an `app.bsky.embed.recordWithMedia`).
///
/// ```no_run
/// # async fn demo(agent: atmo_client::AtpAgent, png: Vec<u8>) -> Result<(), atmo_client::AnyError> {
/// use atmo_client::bsky::PostBuilder;
///
/// let image = agent.upload_blob(png).await?;
/// let post = PostBuilder::new("Hello @alice.test, see https://atproto.com #rust")
///     .image_with_aspect_ratio(image, "A diagram of the protocol", 1200, 800);
/// let written = agent.post_with(post).await?;
/// agent.delete_post(&written.uri).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PostBuilder {
    text: RichText,
    facets: Facets,
    reply: Option<Reply>,
    images: Vec<images::Image>,
    video: Option<video::Video>,
    external: Option<external::ExternalDef>,
    quote: Option<StrongRef>,
    embed: Option<PostEmbed>,
    langs: Vec<Language>,
    tags: Vec<String>,
    created_at: Option<Datetime>,
}

#[derive(Clone, Debug, PartialEq)]
enum Reply {
    Refs(ReplyRef),
    To(AtUri),
}

impl PostBuilder {
    /// A post of plain `text`, whose mentions, links and tags are detected
    /// when it is written (mentioned handles are resolved through the agent;
    /// those that do not resolve are left as plain text).
    pub fn new(text: impl Into<String>) -> Self {
        Self::from_rich(RichText::new(text), Facets::Detect)
    }

    /// A post of rich text whose facets are taken as they are (mentions that
    /// are still unresolved get resolved through the agent, or dropped).
    pub fn rich(text: RichText) -> Self {
        Self::from_rich(text, Facets::AsGiven)
    }

    fn from_rich(text: RichText, facets: Facets) -> Self {
        PostBuilder {
            text,
            facets,
            reply: None,
            images: Vec::new(),
            video: None,
            external: None,
            quote: None,
            embed: None,
            langs: Vec::new(),
            tags: Vec::new(),
            created_at: None,
        }
    }

    /// Whether to detect facets in the text (on for [`PostBuilder::new`]);
    /// off keeps the text plain, or the rich text's facets as they are.
    pub fn detect_facets(mut self, on: bool) -> Self {
        self.facets = if on { Facets::Detect } else { Facets::AsGiven };
        self
    }

    /// A reply, with its thread's root and its parent (see
    /// [`Agent::reply_ref`]).
    pub fn reply(mut self, refs: ReplyRef) -> Self {
        self.reply = Some(Reply::Refs(refs));
        self
    }

    /// A reply to the post at `parent`: its root and parent are looked up
    /// when the post is written, as [`Agent::reply_ref`] does.
    pub fn reply_to(mut self, parent: AtUri) -> Self {
        self.reply = Some(Reply::To(parent));
        self
    }

    /// Adds an image (a blob from [`Agent::upload_blob`]) with its alt text.
    pub fn image(mut self, blob: Blob, alt: impl Into<String>) -> Self {
        self.images.push(images::Image::new(blob, alt.into()));
        self
    }

    /// Adds an image with its alt text and its size in pixels (which lets
    /// clients lay it out before loading it).
    pub fn image_with_aspect_ratio(
        mut self,
        blob: Blob,
        alt: impl Into<String>,
        width: u32,
        height: u32,
    ) -> Self {
        let mut image = images::Image::new(blob, alt.into());
        image.aspect_ratio = Some(AspectRatio::new(width.into(), height.into()));
        self.images.push(image);
        self
    }

    /// Embeds a video (a blob from [`Agent::upload_blob`]) with optional alt
    /// text.
    pub fn video(mut self, blob: Blob, alt: Option<String>) -> Self {
        let mut v = video::Video::new(blob);
        v.alt = alt;
        self.video = Some(v);
        self
    }

    /// Embeds a link card: the page's URL, title and description.
    pub fn external(
        mut self,
        uri: Uri,
        title: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.external = Some(external::ExternalDef::new(
            uri,
            title.into(),
            description.into(),
        ));
        self
    }

    /// The link card's thumbnail (after [`PostBuilder::external`]; ignored
    /// without a card).
    pub fn external_thumb(mut self, thumb: Blob) -> Self {
        if let Some(card) = &mut self.external {
            card.thumb = Some(thumb);
        }
        self
    }

    /// Quotes a post (or embeds any record: a feed, a list) by URI and CID.
    pub fn quote(mut self, record: &RecordRef) -> Self {
        self.quote = Some(strong_ref(record));
        self
    }

    /// Sets the embed as it is, for kinds the other methods do not cover;
    /// it cannot be combined with them.
    pub fn embed(mut self, embed: PostEmbed) -> Self {
        self.embed = Some(embed);
        self
    }

    /// Adds a language of the text (up to three).
    pub fn lang(mut self, lang: Language) -> Self {
        self.langs.push(lang);
        self
    }

    /// Adds a hashtag beyond those in the text (up to eight).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// The creation time to record (default: when it is written).
    pub fn created_at(mut self, at: Datetime) -> Self {
        self.created_at = Some(at);
        self
    }

    /// The `embed` field, or what makes the combination impossible.
    fn build_embed(&mut self) -> Result<Option<PostEmbed>, String> {
        let images = std::mem::take(&mut self.images);
        let mut media = Vec::new();
        if !images.is_empty() {
            media.push(record_with_media::RecordWithMediaMedia::Images(Box::new(
                images::Images::new(images),
            )));
        }
        if let Some(v) = self.video.take() {
            media.push(record_with_media::RecordWithMediaMedia::Video(Box::new(v)));
        }
        if let Some(card) = self.external.take() {
            media.push(record_with_media::RecordWithMediaMedia::External(Box::new(
                external::External::new(card),
            )));
        }
        if let Some(embed) = self.embed.take() {
            if !media.is_empty() || self.quote.is_some() {
                return Err(
                    "a post has one embed: an embed set as it is cannot be combined with \
                     images, a video, a link card or a quote"
                        .into(),
                );
            }
            return Ok(Some(embed));
        }
        if media.len() > 1 {
            return Err(
                "a post has at most one kind of media: images, a video or a link card".into(),
            );
        }
        let quote = self.quote.take().map(embed_record::Record::new);
        Ok(match (quote, media.pop()) {
            (None, None) => None,
            (Some(quote), None) => Some(PostEmbed::Record(Box::new(quote))),
            (Some(quote), Some(media)) => Some(PostEmbed::RecordWithMedia(Box::new(
                record_with_media::RecordWithMedia::new(quote, media),
            ))),
            (None, Some(media)) => Some(match media {
                record_with_media::RecordWithMediaMedia::Images(i) => PostEmbed::Images(i),
                record_with_media::RecordWithMediaMedia::Video(v) => PostEmbed::Video(v),
                record_with_media::RecordWithMediaMedia::External(e) => PostEmbed::External(e),
                // Only the three kinds above are ever pushed.
                other => return Err(format!("unexpected media {other:?}")),
            }),
        })
    }
}

impl From<&str> for PostBuilder {
    fn from(text: &str) -> Self {
        PostBuilder::new(text)
    }
}

impl From<String> for PostBuilder {
    fn from(text: String) -> Self {
        PostBuilder::new(text)
    }
}

impl From<RichText> for PostBuilder {
    fn from(text: RichText) -> Self {
        PostBuilder::rich(text)
    }
}

/// The agent resolves mentioned handles with
/// `com.atproto.identity.resolveHandle`; any failure (unknown handle,
/// network) is `None`, so the mention is dropped rather than the post failing.
impl<M: SessionManager> ResolveHandle for Agent<M> {
    fn resolve_handle(&self, handle: &Handle) -> impl Future<Output = Option<Did>> {
        let params = resolve_handle::Parameters::new(handle.clone());
        let agent = self.clone();
        async move {
            agent
                .call::<resolve_handle::ResolveHandle>(params, ())
                .await
                .ok()
                .map(|out| out.did)
        }
    }
}

impl<M: SessionManager> Agent<M> {
    /// Writes a post (`app.bsky.feed.post`) built with [`PostBuilder`]: plain
    /// text with its facets detected, rich text, embeds, a reply. Mentions
    /// cost one `resolveHandle` per distinct handle; a reply given by URI one
    /// `getRecord`. See [`Agent::prepare_post`] for the record alone.
    pub async fn post_with(
        &self,
        post: impl Into<PostBuilder>,
    ) -> Result<RecordRef, Error<create_record::Error>> {
        let record = self.prepare_post(post).await?;
        self.create_record(&record, None).await
    }

    /// The record [`Agent::post_with`] would write, without writing it:
    /// facets detected and mentions resolved, embed and reply assembled.
    /// Fails with [`Error::Invalid`] on an impossible embed combination.
    pub async fn prepare_post(
        &self,
        post: impl Into<PostBuilder>,
    ) -> Result<Post, Error<create_record::Error>> {
        let mut b = post.into();
        let embed = b.build_embed().map_err(Error::Invalid)?;
        let mut text = std::mem::take(&mut b.text);
        if b.facets == Facets::Detect {
            text.detect_facets();
        }
        let unresolved = text
            .facets()
            .iter()
            .flat_map(|f| &f.features)
            .any(|f| matches!(f, Feature::UnresolvedMention(_)));
        if unresolved {
            text.resolve_mentions(self).await;
        }
        let facets = text
            .to_record_facets()
            .map_err(|e| Error::Invalid(format!("post facets: {e}")))?;
        let reply = match b.reply.take() {
            None => None,
            Some(Reply::Refs(refs)) => Some(refs),
            Some(Reply::To(parent)) => Some(
                self.reply_ref(&parent)
                    .await
                    .map_err(|e| e.into_untyped().typed(create_record::CreateRecord::NSID))?,
            ),
        };
        let created_at = match b.created_at.take() {
            Some(at) => at,
            None => now()?,
        };
        let (text, _) = text.into_parts();
        let mut record = Post::new(text, created_at);
        record.facets = (!facets.is_empty()).then_some(facets);
        record.embed = embed;
        record.reply = reply;
        record.langs = (!b.langs.is_empty()).then_some(b.langs);
        record.tags = (!b.tags.is_empty()).then_some(b.tags);
        Ok(record)
    }

    /// The reply references for answering the post at `parent`: the parent
    /// itself, and the root of its thread (the parent's own root when it is a
    /// reply, else the parent). One `com.atproto.repo.getRecord`.
    pub async fn reply_ref(&self, parent: &AtUri) -> Result<ReplyRef, Error<get_record::Error>> {
        if parent.collection() != Some(Post::NSID) {
            return Err(Error::Invalid(format!("{parent} is not a post")));
        }
        let repo = AtIdentifier::new(parent.authority())
            .map_err(|e| Error::Invalid(format!("{parent}: repository: {e}")))?;
        let rkey = RecordKey::new(parent.rkey().unwrap_or_default())
            .map_err(|e| Error::Invalid(format!("{parent}: record key: {e}")))?;
        let found = self.get_record::<Post>(repo, rkey).await?;
        let cid = found.cid.ok_or_else(|| {
            Error::Invalid(format!(
                "{} came without its CID: cannot reply to it",
                found.uri
            ))
        })?;
        let parent_ref = StrongRef::new(found.uri, cid);
        let root = match found.value.reply {
            Some(thread) => thread.root,
            None => parent_ref.clone(),
        };
        Ok(ReplyRef::new(root, parent_ref))
    }
}
