//! The repository firehose (`com.atproto.sync.subscribeRepos`) as
//! [`RepoEvent`]s, optionally verified.

use std::fmt;

use atmo_api::com::atproto::sync::subscribe_repos as repos;

use crate::client::{StreamError, Subscriber, SubscriberBuilder};
use crate::event::{EventError, RepoEvent};
use crate::subscription::SubscribeRepos;
#[cfg(feature = "verify")]
use crate::verify::Verifier;

/// Why the firehose gave an error instead of an event.
#[derive(Debug)]
#[non_exhaustive]
pub enum FirehoseError {
    /// From the connection or a frame (see [`StreamError`]).
    Stream(StreamError<repos::Error>),
    /// A commit decoded but its blocks or ops are malformed; it is
    /// skipped and the stream goes on.
    Event(EventError),
}

impl FirehoseError {
    /// Whether the stream ends after this error.
    pub fn is_fatal(&self) -> bool {
        match self {
            FirehoseError::Stream(e) => e.is_fatal(),
            FirehoseError::Event(_) => false,
        }
    }
}

impl fmt::Display for FirehoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FirehoseError::Stream(e) => e.fmt(f),
            FirehoseError::Event(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FirehoseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FirehoseError::Stream(e) => e.source(),
            FirehoseError::Event(e) => e.source(),
        }
    }
}

/// The firehose of a PDS or relay: [`Subscriber`] for `subscribeRepos`
/// with each commit opened into a [`crate::CommitEvent`] and, with a
/// [`Verifier`], checked ([`crate::CommitEvent::check`]).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use atmo_stream::{Firehose, RepoEvent, Subscriber, SubscribeRepos};
///
/// let sub = Subscriber::<SubscribeRepos>::builder("wss://bsky.network")
///     .cursor(None)                       // live; pass the saved seq to resume
///     .on_cursor(|seq| { let _ = seq; })  // persist it now and then
///     .build()?;
/// let mut firehose = Firehose::new(sub);
/// while let Some(item) = firehose.next().await {
///     match item {
///         Ok(RepoEvent::Commit(c)) => {
///             for op in &c.ops {
///                 println!("{} {} {}/{}", c.repo(), op.action, op.collection, op.rkey);
///             }
///         }
///         Ok(_) => {}
///         Err(e) if e.is_fatal() => return Err(e.into()),
///         Err(e) => eprintln!("skipped: {e}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Firehose {
    sub: Subscriber<SubscribeRepos>,
    #[cfg(feature = "verify")]
    verifier: Option<Verifier>,
}

impl fmt::Debug for Firehose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Firehose").field("sub", &self.sub).finish()
    }
}

impl Firehose {
    /// The firehose over `sub`, without verification.
    pub fn new(sub: Subscriber<SubscribeRepos>) -> Self {
        Firehose {
            sub,
            #[cfg(feature = "verify")]
            verifier: None,
        }
    }

    /// A builder for the subscriber of `service`.
    pub fn builder(service: impl Into<String>) -> SubscriberBuilder<SubscribeRepos> {
        Subscriber::builder(service)
    }

    /// Checks every commit with `verifier` (signature, `prevData`, per-repo
    /// state); `#sync` events reset the repository's state when their
    /// commit's signature verifies and forget it otherwise.
    #[cfg(feature = "verify")]
    pub fn verify(mut self, verifier: Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// The verifier, to read or set repository state.
    #[cfg(feature = "verify")]
    pub fn verifier_mut(&mut self) -> Option<&mut Verifier> {
        self.verifier.as_mut()
    }

    /// The underlying subscriber (cursor, disconnect).
    pub fn subscriber(&mut self) -> &mut Subscriber<SubscribeRepos> {
        &mut self.sub
    }

    /// The next event; see [`Subscriber::next`].
    pub async fn next(&mut self) -> Option<Result<RepoEvent, FirehoseError>> {
        let msg = match self.sub.next().await? {
            Ok(m) => m,
            Err(e) => return Some(Err(FirehoseError::Stream(e))),
        };
        #[allow(unused_mut)]
        let mut event = match RepoEvent::from_message(msg) {
            Ok(e) => e,
            Err(e) => return Some(Err(FirehoseError::Event(e))),
        };
        #[cfg(feature = "verify")]
        if let Some(v) = &mut self.verifier {
            match &mut event {
                RepoEvent::Commit(c) => {
                    let check = v.check(c).await;
                    c.check = Some(check);
                }
                RepoEvent::Sync(s) => match v.sync(s).await {
                    Ok(()) => {}
                    Err(_) => v.forget(s.did.as_str()),
                },
                _ => {}
            }
        }
        Some(Ok(event))
    }
}
