//! What the stream client needs to know about a subscription endpoint.

use atmo_api::com::atproto::{label::subscribe_labels, sync::subscribe_repos};
use atmo_types::object::Union;
use atmo_types::xrpc::EndpointError;

/// A subscription endpoint (a lexicon `subscription`): its NSID, the
/// generated union of its messages, and the errors it declares.
///
/// Implemented here for `com.atproto.sync.subscribeRepos`
/// ([`SubscribeRepos`]) and `com.atproto.label.subscribeLabels`
/// ([`SubscribeLabels`]); a third-party subscription the generator emitted
/// needs a unit struct and these four items.
pub trait Subscription: Send + 'static {
    /// The endpoint's NSID (`com.atproto.sync.subscribeRepos`).
    const NSID: &'static str;
    /// The generated message union (an open union: unknown `t` values land
    /// in its `Unknown` member).
    type Message: Union + Send + 'static;
    /// The generated error enum of the endpoint.
    type Error: EndpointError + std::error::Error + Send + Sync + 'static;
    /// The message's sequence number, if it has one (`#info` does not).
    /// The client resumes after the last one and drops replays at or below
    /// it.
    fn seq(message: &Self::Message) -> Option<i64>;
}

/// `com.atproto.sync.subscribeRepos`: the repository firehose.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscribeRepos;

impl Subscription for SubscribeRepos {
    const NSID: &'static str = subscribe_repos::NSID;
    type Message = subscribe_repos::Message;
    type Error = subscribe_repos::Error;

    fn seq(message: &Self::Message) -> Option<i64> {
        use subscribe_repos::Message as M;
        match message {
            M::Commit(c) => Some(c.seq),
            M::Sync(s) => Some(s.seq),
            M::Identity(i) => Some(i.seq),
            M::Account(a) => Some(a.seq),
            M::Info(_) => None,
            M::Unknown(u) => unknown_seq(u),
        }
    }
}

/// `com.atproto.label.subscribeLabels`: a labeler's label stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscribeLabels;

impl Subscription for SubscribeLabels {
    const NSID: &'static str = subscribe_labels::NSID;
    type Message = subscribe_labels::Message;
    type Error = subscribe_labels::Error;

    fn seq(message: &Self::Message) -> Option<i64> {
        use subscribe_labels::Message as M;
        match message {
            M::Labels(l) => Some(l.seq),
            M::Info(_) => None,
            M::Unknown(u) => unknown_seq(u),
        }
    }
}

/// The `seq` of a message type this build does not know, when it has an
/// integer one: a new event type still moves the cursor.
pub fn unknown_seq(u: &atmo_types::UnknownObject) -> Option<i64> {
    u.data.get("seq").and_then(serde_json::Value::as_i64)
}
