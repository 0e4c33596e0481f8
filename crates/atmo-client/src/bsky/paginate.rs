//! Cursor pagination: any endpoint that takes a `cursor` and answers with the
//! next one becomes a stream of pages, or of the items in them.
//!
//! The streams implement [`futures_core::Stream`] (so `StreamExt` from
//! `futures-util`, or `tokio-stream`, work on them) and also have an inherent
//! `next().await`, so that walking them needs no extra crate. Only the trait
//! crate is a dependency: it is tiny and already in every build that has
//! hyper.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

#[cfg(feature = "chat-bsky")]
use atmo_api::chat;
#[cfg(feature = "tools-ozone")]
use atmo_api::tools;
use atmo_api::{app, com};
use atmo_types::xrpc::Endpoint;
use futures_core::Stream;

use atmo_types::object::Record;
use atmo_types::AtIdentifier;

use crate::agent::Agent;
use crate::error::Error;
use crate::records::{typed_records, FetchedRecord, ListOptions, Listed, RecordPage};
use crate::session::SessionManager;

/// An endpoint whose answers come in pages linked by a cursor: a query
/// (no input) whose parameters take the cursor of the previous answer.
///
/// Implemented for every generated query that takes a `cursor` and answers
/// with one list and the next `cursor` (`com.atproto`, `app.bsky`, and with
/// their features `chat.bsky` and `tools.ozone`); implement it for the
/// endpoints of your own lexicons (generated with `lexgen`) to use them with
/// [`Agent::paginate`].
pub trait Paginated: Endpoint<Input = ()> {
    /// One entry of a page (a feed item, a profile, a record...).
    type Item;

    /// Sets the cursor to send (`None`: the first page).
    fn set_cursor(params: &mut Self::Params, cursor: Option<String>);

    /// The cursor of the next page, if the answer names one.
    fn next_cursor(output: &Self::Output) -> Option<&str>;

    /// The page's entries, in the server's order.
    fn into_items(output: Self::Output) -> Vec<Self::Item>;
}

macro_rules! paginated {
    ($($endpoint:path => $field:ident: $item:ty;)*) => {$(
        impl Paginated for $endpoint {
            type Item = $item;
            fn set_cursor(params: &mut Self::Params, cursor: Option<String>) {
                params.cursor = cursor;
            }
            fn next_cursor(output: &Self::Output) -> Option<&str> {
                output.cursor.as_deref()
            }
            fn into_items(output: Self::Output) -> Vec<Self::Item> {
                output.$field
            }
        }
    )*};
}

// Every cursor-paginated query of the generated namespaces this crate
// offers whose answer has one list: implemented here because the orphan
// rule keeps applications from implementing this trait for types of
// `atmo-api` themselves.
paginated! {
    app::bsky::actor::get_suggestions::GetSuggestions
        => actors: app::bsky::actor::defs::ProfileView;
    app::bsky::actor::search_actors::SearchActors
        => actors: app::bsky::actor::defs::ProfileView;
    app::bsky::bookmark::get_bookmarks::GetBookmarks
        => bookmarks: app::bsky::bookmark::defs::BookmarkView;
    app::bsky::contact::get_matches::GetMatches
        => matches: app::bsky::actor::defs::ProfileView;
    app::bsky::draft::get_drafts::GetDrafts
        => drafts: app::bsky::draft::defs::DraftView;
    app::bsky::feed::get_actor_feeds::GetActorFeeds
        => feeds: app::bsky::feed::defs::GeneratorView;
    app::bsky::feed::get_actor_likes::GetActorLikes
        => feed: app::bsky::feed::defs::FeedViewPost;
    app::bsky::feed::get_author_feed::GetAuthorFeed
        => feed: app::bsky::feed::defs::FeedViewPost;
    app::bsky::feed::get_feed::GetFeed
        => feed: app::bsky::feed::defs::FeedViewPost;
    app::bsky::feed::get_feed_skeleton::GetFeedSkeleton
        => feed: app::bsky::feed::defs::SkeletonFeedPost;
    app::bsky::feed::get_likes::GetLikes
        => likes: app::bsky::feed::get_likes::Like;
    app::bsky::feed::get_list_feed::GetListFeed
        => feed: app::bsky::feed::defs::FeedViewPost;
    app::bsky::feed::get_quotes::GetQuotes
        => posts: app::bsky::feed::defs::PostView;
    app::bsky::feed::get_reposted_by::GetRepostedBy
        => reposted_by: app::bsky::actor::defs::ProfileView;
    app::bsky::feed::get_suggested_feeds::GetSuggestedFeeds
        => feeds: app::bsky::feed::defs::GeneratorView;
    app::bsky::feed::get_timeline::GetTimeline
        => feed: app::bsky::feed::defs::FeedViewPost;
    app::bsky::feed::search_posts::SearchPosts
        => posts: app::bsky::feed::defs::PostView;
    app::bsky::feed::search_posts_v2::SearchPostsV2
        => posts: app::bsky::feed::defs::PostView;
    app::bsky::graph::get_actor_starter_packs::GetActorStarterPacks
        => starter_packs: app::bsky::graph::defs::StarterPackViewBasic;
    app::bsky::graph::get_blocks::GetBlocks
        => blocks: app::bsky::actor::defs::ProfileView;
    app::bsky::graph::get_followers::GetFollowers
        => followers: app::bsky::actor::defs::ProfileView;
    app::bsky::graph::get_follows::GetFollows
        => follows: app::bsky::actor::defs::ProfileView;
    app::bsky::graph::get_known_followers::GetKnownFollowers
        => followers: app::bsky::actor::defs::ProfileView;
    app::bsky::graph::get_list::GetList
        => items: app::bsky::graph::defs::ListItemView;
    app::bsky::graph::get_list_blocks::GetListBlocks
        => lists: app::bsky::graph::defs::ListView;
    app::bsky::graph::get_list_mutes::GetListMutes
        => lists: app::bsky::graph::defs::ListView;
    app::bsky::graph::get_lists::GetLists
        => lists: app::bsky::graph::defs::ListView;
    app::bsky::graph::get_lists_with_membership::GetListsWithMembership
        => lists_with_membership: app::bsky::graph::get_lists_with_membership::ListWithMembership;
    app::bsky::graph::get_mutes::GetMutes
        => mutes: app::bsky::actor::defs::ProfileView;
    app::bsky::graph::get_starter_packs_with_membership::GetStarterPacksWithMembership
        => starter_packs_with_membership: app::bsky::graph::get_starter_packs_with_membership::StarterPackWithMembership;
    app::bsky::graph::search_starter_packs::SearchStarterPacks
        => starter_packs: app::bsky::graph::defs::StarterPackViewBasic;
    app::bsky::graph::search_starter_packs_v2::SearchStarterPacksV2
        => starter_packs: app::bsky::graph::defs::StarterPackView;
    app::bsky::notification::list_activity_subscriptions::ListActivitySubscriptions
        => subscriptions: app::bsky::actor::defs::ProfileView;
    app::bsky::notification::list_notifications::ListNotifications
        => notifications: app::bsky::notification::list_notifications::Notification;
    app::bsky::unspecced::get_popular_feed_generators::GetPopularFeedGenerators
        => feeds: app::bsky::feed::defs::GeneratorView;
    app::bsky::unspecced::get_suggestions_skeleton::GetSuggestionsSkeleton
        => actors: app::bsky::unspecced::defs::SkeletonSearchActor;
    app::bsky::unspecced::search_actors_skeleton::SearchActorsSkeleton
        => actors: app::bsky::unspecced::defs::SkeletonSearchActor;
    app::bsky::unspecced::search_posts_skeleton::SearchPostsSkeleton
        => posts: app::bsky::unspecced::defs::SkeletonSearchPost;
    app::bsky::unspecced::search_starter_packs_skeleton::SearchStarterPacksSkeleton
        => starter_packs: app::bsky::unspecced::defs::SkeletonSearchStarterPack;
    com::atproto::admin::get_invite_codes::GetInviteCodes
        => codes: com::atproto::server::defs::InviteCode;
    com::atproto::admin::search_accounts::SearchAccounts
        => accounts: com::atproto::admin::defs::AccountView;
    com::atproto::label::query_labels::QueryLabels
        => labels: com::atproto::label::defs::Label;
    com::atproto::repo::list_missing_blobs::ListMissingBlobs
        => blobs: com::atproto::repo::list_missing_blobs::RecordBlob;
    com::atproto::repo::list_records::ListRecords
        => records: com::atproto::repo::list_records::Record;
    com::atproto::sync::list_blobs::ListBlobs
        => cids: atmo_types::Cid;
    com::atproto::sync::list_hosts::ListHosts
        => hosts: com::atproto::sync::list_hosts::Host;
    com::atproto::sync::list_repos::ListRepos
        => repos: com::atproto::sync::list_repos::Repo;
    com::atproto::sync::list_repos_by_collection::ListReposByCollection
        => repos: com::atproto::sync::list_repos_by_collection::Repo;
}

#[cfg(feature = "chat-bsky")]
paginated! {
    chat::bsky::convo::get_convo_members::GetConvoMembers
        => members: chat::bsky::actor::defs::ProfileViewBasic;
    chat::bsky::convo::get_log::GetLog
        => logs: chat::bsky::convo::get_log::OutputLogsItem;
    chat::bsky::convo::get_messages::GetMessages
        => messages: chat::bsky::convo::get_messages::OutputMessagesItem;
    chat::bsky::convo::list_convo_requests::ListConvoRequests
        => requests: chat::bsky::convo::list_convo_requests::OutputRequestsItem;
    chat::bsky::convo::list_convos::ListConvos
        => convos: chat::bsky::convo::defs::ConvoView;
    chat::bsky::group::list_join_requests::ListJoinRequests
        => requests: chat::bsky::group::defs::JoinRequestView;
    chat::bsky::group::list_mutual_groups::ListMutualGroups
        => convos: chat::bsky::convo::defs::ConvoView;
    chat::bsky::moderation::get_convo_members::GetConvoMembers
        => members: chat::bsky::actor::defs::ProfileViewBasic;
}

#[cfg(feature = "tools-ozone")]
paginated! {
    tools::ozone::hosting::get_account_history::GetAccountHistory
        => events: tools::ozone::hosting::get_account_history::Event;
    tools::ozone::moderation::query_events::QueryEvents
        => events: tools::ozone::moderation::defs::ModEventView;
    tools::ozone::moderation::query_statuses::QueryStatuses
        => subject_statuses: tools::ozone::moderation::defs::SubjectStatusView;
    tools::ozone::moderation::search_repos::SearchRepos
        => repos: tools::ozone::moderation::defs::RepoView;
    tools::ozone::queue::get_assignments::GetAssignments
        => assignments: tools::ozone::queue::defs::AssignmentView;
    tools::ozone::queue::list_queues::ListQueues
        => queues: tools::ozone::queue::defs::QueueView;
    tools::ozone::report::get_assignments::GetAssignments
        => assignments: tools::ozone::report::defs::AssignmentView;
    tools::ozone::report::get_historical_stats::GetHistoricalStats
        => stats: tools::ozone::report::defs::HistoricalStats;
    tools::ozone::report::list_activities::ListActivities
        => activities: tools::ozone::report::defs::ReportActivityView;
    tools::ozone::report::query_activities::QueryActivities
        => activities: tools::ozone::report::defs::ReportActivityView;
    tools::ozone::report::query_reports::QueryReports
        => reports: tools::ozone::report::defs::ReportView;
    tools::ozone::set::get_values::GetValues
        => values: std::string::String;
    tools::ozone::set::query_sets::QuerySets
        => sets: tools::ozone::set::defs::SetView;
    tools::ozone::setting::list_options::ListOptions
        => options: tools::ozone::setting::defs::Option;
    tools::ozone::signature::find_related_accounts::FindRelatedAccounts
        => accounts: tools::ozone::signature::find_related_accounts::RelatedAccount;
    tools::ozone::signature::search_accounts::SearchAccounts
        => accounts: com::atproto::admin::defs::AccountView;
    tools::ozone::team::list_members::ListMembers
        => members: tools::ozone::team::defs::Member;
    tools::ozone::verification::list_verifications::ListVerifications
        => verifications: tools::ozone::verification::defs::VerificationView;
}

type Fetch<E> = Pin<
    Box<dyn Future<Output = Result<<E as Endpoint>::Output, Error<<E as Endpoint>::Error>>> + Send>,
>;

/// The pages of a [`Paginated`] endpoint, fetched one at a time as they are
/// asked for ([`Agent::paginate`]).
///
/// The stream ends after the page without a cursor (or with an empty one, or
/// with the cursor just sent, which would repeat the same page forever), or
/// after the first error, which it yields. Dropping it cancels the request in
/// flight.
pub struct Pages<M, E: Endpoint> {
    agent: Agent<M>,
    // Boxed so that the stream is `Unpin` whatever the parameter type.
    params: Box<E::Params>,
    cursor: Option<String>,
    pages: usize,
    done: bool,
    in_flight: Option<Fetch<E>>,
    endpoint: PhantomData<fn() -> E>,
}

impl<M, E: Endpoint> std::fmt::Debug for Pages<M, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("endpoint", &E::NSID)
            .field("cursor", &self.cursor)
            .field("pages", &self.pages)
            .field("done", &self.done)
            .finish()
    }
}

impl<M, E> Pages<M, E>
where
    M: SessionManager,
    E: Paginated + 'static,
    E::Params: Clone + Send + Sync + 'static,
    E::Output: Send + 'static,
    E::Error: Send + 'static,
{
    /// The next page, `None` once there are no more.
    pub async fn next(&mut self) -> Option<Result<E::Output, Error<E::Error>>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The entries of the pages, one at a time.
    pub fn items(self) -> Items<M, E> {
        Items {
            pages: self,
            buffer: VecDeque::new(),
        }
    }

    /// Starts from `cursor` (one a previous walk stopped at, see
    /// [`Pages::cursor`]) instead of the first page.
    pub fn from_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// How many pages were received so far.
    pub fn pages_received(&self) -> usize {
        self.pages
    }

    /// The cursor the next request will send (`None` before the first page,
    /// and once the stream has ended).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
}

impl<M, E> Stream for Pages<M, E>
where
    M: SessionManager,
    E: Paginated + 'static,
    E::Params: Clone + Send + Sync + 'static,
    E::Output: Send + 'static,
    E::Error: Send + 'static,
{
    type Item = Result<E::Output, Error<E::Error>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let fetch = this.in_flight.get_or_insert_with(|| {
            let mut params = (*this.params).clone();
            E::set_cursor(&mut params, this.cursor.clone());
            let agent = this.agent.clone();
            Box::pin(async move { agent.call::<E>(params, ()).await })
        });
        let answer = match fetch.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(answer) => answer,
        };
        this.in_flight = None;
        match answer {
            Ok(page) => {
                this.pages += 1;
                let sent = this.cursor.take();
                match E::next_cursor(&page) {
                    Some(next) if !next.is_empty() && Some(next) != sent.as_deref() => {
                        this.cursor = Some(next.to_owned());
                    }
                    _ => this.done = true,
                }
                Poll::Ready(Some(Ok(page)))
            }
            Err(e) => {
                this.done = true;
                this.cursor = None;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

/// The entries of a [`Paginated`] endpoint's pages, one at a time
/// ([`Pages::items`]). Pages are fetched as the entries of the previous one
/// run out; an error is yielded once and ends the stream.
pub struct Items<M, E: Paginated> {
    pages: Pages<M, E>,
    buffer: VecDeque<E::Item>,
}

// Nothing is ever pinned inside: the buffered items are moved out by value
// and the request in flight is boxed.
impl<M, E: Paginated> Unpin for Items<M, E> {}

impl<M, E: Paginated> std::fmt::Debug for Items<M, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("pages", &self.pages)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl<M, E> Items<M, E>
where
    M: SessionManager,
    E: Paginated + 'static,
    E::Params: Clone + Send + Sync + 'static,
    E::Output: Send + 'static,
    E::Error: Send + 'static,
{
    /// The next entry, `None` once there are no more.
    pub async fn next(&mut self) -> Option<Result<E::Item, Error<E::Error>>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many pages were received so far.
    pub fn pages_received(&self) -> usize {
        self.pages.pages
    }
}

impl<M, E> Stream for Items<M, E>
where
    M: SessionManager,
    E: Paginated + 'static,
    E::Params: Clone + Send + Sync + 'static,
    E::Output: Send + 'static,
    E::Error: Send + 'static,
{
    type Item = Result<E::Item, Error<E::Error>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            // Empty pages are skipped: a feed may answer one with a cursor.
            match Pin::new(&mut this.pages).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(page))) => this.buffer.extend(E::into_items(page)),
            }
        }
    }
}

impl<M: SessionManager> Agent<M> {
    /// Walks a cursor-paginated endpoint page by page, starting from
    /// `params` (whose cursor is ignored: see [`Pages::from_cursor`]). Each
    /// page is fetched when asked for, through the agent, so with its
    /// session and options.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::feed::get_timeline::{GetTimeline, Parameters};
    ///
    /// let mut items = agent.paginate::<GetTimeline>(Parameters::default()).items();
    /// let mut seen = 0;
    /// while let Some(item) = items.next().await {
    ///     println!("{}", item?.post.uri);
    ///     seen += 1;
    ///     if seen == 100 { break; }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn paginate<E>(&self, params: E::Params) -> Pages<M, E>
    where
        E: Paginated + 'static,
        E::Params: Clone + Send + Sync + 'static,
        E::Output: Send + 'static,
        E::Error: Send + 'static,
    {
        Pages {
            agent: self.clone(),
            params: Box::new(params),
            cursor: None,
            pages: 0,
            done: false,
            in_flight: None,
            endpoint: PhantomData,
        }
    }
}

/// The pages of a collection read as records of type `R`
/// ([`Agent::paginate_records`]): [`Pages`] of `com.atproto.repo.listRecords`
/// with each page decoded as [`Agent::list_records`] does.
pub struct RecordPages<M, R> {
    /// `None` when the walk could not start (`failed` says why).
    pages: Option<Pages<M, com::atproto::repo::list_records::ListRecords>>,
    /// Yielded once, first, when the parameters could not be made.
    failed: Option<ListError>,
    record: PhantomData<fn() -> R>,
}

impl<M, R> std::fmt::Debug for RecordPages<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordPages")
            .field("record", &std::any::type_name::<R>())
            .field("pages", &self.pages)
            .finish()
    }
}

type ListError = Error<com::atproto::repo::list_records::Error>;

impl<M: SessionManager, R: Record> RecordPages<M, R> {
    /// The next page, `None` once there are no more.
    pub async fn next(&mut self) -> Option<Result<RecordPage<R>, ListError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The records of the pages, one at a time.
    pub fn items(self) -> RecordItems<M, R> {
        RecordItems {
            pages: self,
            buffer: VecDeque::new(),
        }
    }

    /// How many pages were received so far.
    pub fn pages_received(&self) -> usize {
        self.pages.as_ref().map_or(0, |p| p.pages)
    }

    /// The cursor the next request will send (`None` before the first
    /// page unless the options named one, and once the stream has ended).
    pub fn cursor(&self) -> Option<&str> {
        self.pages.as_ref().and_then(|p| p.cursor())
    }
}

/// A page's records in the server's order, each an `R` or not, and the
/// page's cursor.
type OrderedPage<R> = (Vec<Listed<R>>, Option<String>);

impl<M: SessionManager, R: Record> RecordPages<M, R> {
    /// The next page with its records in the server's order, and its
    /// cursor.
    fn poll_ordered(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<OrderedPage<R>, ListError>>> {
        if let Some(e) = self.failed.take() {
            return Poll::Ready(Some(Err(e)));
        }
        let Some(pages) = self.pages.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(pages).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Some(Ok(out))) => {
                Poll::Ready(Some(Ok((typed_records::<R>(out.records), out.cursor))))
            }
        }
    }
}

impl<M: SessionManager, R: Record> Stream for RecordPages<M, R> {
    type Item = Result<RecordPage<R>, ListError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_ordered(cx).map(|page| {
            page.map(|page| page.map(|(listed, cursor)| RecordPage::from_listed(listed, cursor)))
        })
    }
}

/// The records of a collection as `R`s, one at a time
/// ([`RecordPages::items`]), in the server's order. A record that is not a
/// valid `R` is yielded as its error ([`Error::Invalid`] for another
/// `$type`, [`Error::Decode`] naming the record and the path in it) and the
/// walk goes on; a page that fails is yielded once and ends it.
pub struct RecordItems<M, R> {
    pages: RecordPages<M, R>,
    buffer: VecDeque<Listed<R>>,
}

// Nothing is ever pinned inside: the buffered records are moved out by
// value and the request in flight is boxed.
impl<M, R> Unpin for RecordItems<M, R> {}

impl<M, R> std::fmt::Debug for RecordItems<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordItems")
            .field("record", &std::any::type_name::<R>())
            .field("pages", &self.pages)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl<M: SessionManager, R: Record> RecordItems<M, R> {
    /// The next record, `None` once there are no more.
    pub async fn next(&mut self) -> Option<Result<FetchedRecord<R>, ListError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many pages were received so far.
    pub fn pages_received(&self) -> usize {
        self.pages.pages_received()
    }
}

impl<M: SessionManager, R: Record> Stream for RecordItems<M, R> {
    type Item = Result<FetchedRecord<R>, ListError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.buffer.pop_front() {
                Some(Listed::Valid(record)) => return Poll::Ready(Some(Ok(record))),
                Some(Listed::Invalid(invalid)) => {
                    return Poll::Ready(Some(Err(invalid.error.into_typed())))
                }
                None => {}
            }
            match this.pages.poll_ordered(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok((ordered, _)))) => this.buffer.extend(ordered),
            }
        }
    }
}

impl<M: SessionManager> Agent<M> {
    /// Walks the collection of `R` in `repo` page by page
    /// (`com.atproto.repo.listRecords`, collection `R::NSID`), each record
    /// decoded as an `R` ([`Agent::list_records`] reads one page).
    /// `options` sets the page size, the order and where to start. Pages
    /// are fetched when asked for.
    ///
    /// ```no_run
    /// # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), atmo_client::AnyError> {
    /// use atmo_client::atmo_api::app::bsky::feed::post::Post;
    /// use atmo_client::atmo_types::AtIdentifier;
    /// use atmo_client::ListOptions;
    ///
    /// let repo = AtIdentifier::new("alice.bsky.social")?;
    /// let mut posts = agent.paginate_records::<Post>(repo, ListOptions::new().limit(100)).items();
    /// while let Some(post) = posts.next().await {
    ///     let post = post?;
    ///     println!("{}: {}", post.uri, post.value.text);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn paginate_records<R: Record>(
        &self,
        repo: AtIdentifier,
        options: ListOptions,
    ) -> RecordPages<M, R> {
        // The cursor is the walk's, not a parameter (see `from_cursor`).
        let params = match options.params::<R, _>(repo) {
            Ok(params) => params,
            // Only a hand-written record type with an invalid NSID gets
            // here: the walk yields that error.
            Err(e) => {
                return RecordPages {
                    pages: None,
                    failed: Some(e),
                    record: PhantomData,
                }
            }
        };
        let mut pages = self.paginate::<com::atproto::repo::list_records::ListRecords>(params);
        if let Some(cursor) = options.cursor {
            pages = pages.from_cursor(cursor);
        }
        RecordPages {
            pages: Some(pages),
            failed: None,
            record: PhantomData,
        }
    }
}
