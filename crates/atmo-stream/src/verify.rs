//! Commit verification: the signature against the repository's signing
//! key, the Sync 1.1 `prevData` proof, and per-repository state that turns
//! a gap into a "resync this repository" signal.

use std::fmt;

use atmo_sync::event::EventError;

#[cfg(feature = "verify")]
pub use checks::{verify_commit, Verifier};

/// The outcome of checking one commit.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Signed by the repository's key, `prevData` proven, and it follows on
    /// from the state known for the repository (or is the first seen).
    Valid,
    /// A valid commit whose revision is not newer than the known one (a
    /// replay): skip it.
    Stale,
    /// A valid commit that does not follow on from the known state (a
    /// missed commit, or no `prevData`): fetch the whole repository
    /// (`getRepo`) and call [`Verifier::set_state`]. The state moves on to
    /// this commit, so the gap is reported once.
    Resync(String),
    /// The commit is not valid: its signature, blocks or proof are wrong.
    /// The state is unchanged.
    Invalid(VerifyError),
}

impl Check {
    /// Whether the commit may be applied as it is.
    pub fn is_valid(&self) -> bool {
        matches!(self, Check::Valid)
    }
}

/// Why a commit is not valid.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The commit's blocks, signature or proof are wrong (the CAR slice,
    /// its first root, the commit block, its DID and rev, the signature,
    /// undoing the ops to `prevData`): atmo-sync's Sync 1.1 check.
    Event(EventError),
    /// The signing key could not be found (identity resolution failed).
    Key(String),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Event(e) => e.fmt(f),
            VerifyError::Key(why) => write!(f, "signing key: {why}"),
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::Event(e) => Some(e),
            VerifyError::Key(_) => None,
        }
    }
}

#[cfg(feature = "verify")]
mod checks {
    use std::collections::HashMap;
    use std::fmt;

    use atmo_api::com::atproto::sync::subscribe_repos as repos;
    use atmo_crypto::PublicKey;
    use atmo_sync::event::{check_signed_commit_event, CheckedCommit, EventError};
    use atmo_sync::{Car, Commit, CommitError, RepoState, Verdict};

    use super::{Check, VerifyError};
    use crate::event::CommitEvent;

    /// Checks the commit's blocks, signature (with `key`) and proof against
    /// the known `state` of its repository (none: the first seen), with
    /// atmo-sync's Sync 1.1 check.
    pub fn verify_commit(
        event: &CommitEvent,
        state: Option<&RepoState>,
        key: &PublicKey,
    ) -> Result<CheckedCommit, VerifyError> {
        let ops: Vec<_> = event.ops.iter().map(|o| o.to_tree_op()).collect();
        let ev = atmo_sync::event::CommitEvent {
            repo: event.repo(),
            rev: event.rev(),
            since: event.commit.since.as_ref().map(|s| s.as_str()),
            commit: event.commit_cid,
            blocks: &event.commit.blocks.0,
            ops,
            prev_data: event.prev_data,
        };
        check_signed_commit_event(&ev, state, key).map_err(VerifyError::Event)
    }

    /// Verifies commits and keeps each repository's [`RepoState`].
    ///
    /// [`Verifier::check_with_key`] works offline; [`Verifier::check`] looks
    /// the key up with an [`atmo_identity::Resolver`] (cached; on a
    /// signature failure the DID document is fetched again once, for key
    /// rotation).
    #[derive(Clone)]
    pub struct Verifier {
        resolver: Option<atmo_identity::Resolver>,
        states: HashMap<String, RepoState>,
    }

    impl fmt::Debug for Verifier {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Verifier")
                .field("resolver", &self.resolver.is_some())
                .field("repos", &self.states.len())
                .finish()
        }
    }

    impl Verifier {
        /// A verifier resolving keys with `resolver`.
        pub fn new(resolver: atmo_identity::Resolver) -> Self {
            Verifier {
                resolver: Some(resolver),
                states: HashMap::new(),
            }
        }

        /// A verifier without a resolver: only [`Verifier::check_with_key`].
        pub fn offline() -> Self {
            Verifier {
                resolver: None,
                states: HashMap::new(),
            }
        }

        /// The state known for `did`.
        pub fn state(&self, did: &str) -> Option<&RepoState> {
            self.states.get(did)
        }

        /// Sets the state of `did` (after fetching the repository, or from
        /// storage).
        pub fn set_state(&mut self, did: &str, state: RepoState) {
            self.states.insert(did.to_owned(), state);
        }

        /// Forgets `did` (its next commit starts it afresh).
        pub fn forget(&mut self, did: &str) {
            self.states.remove(did);
        }

        /// Checks `event` with the repository's key from the resolver.
        pub async fn check(&mut self, event: &CommitEvent) -> Check {
            let Some(resolver) = self.resolver.clone() else {
                return Check::Invalid(VerifyError::Key("no identity resolver configured".into()));
            };
            let key = match signing_key(&resolver, event.repo()).await {
                Ok(k) => k,
                Err(e) => return Check::Invalid(VerifyError::Key(e)),
            };
            match self.check_with_key(event, &key) {
                Check::Invalid(VerifyError::Event(EventError::Commit(CommitError::Signature(
                    _,
                )))) => {
                    // The key may have been rotated since it was cached.
                    match signing_key(&resolver.fresh(), event.repo()).await {
                        Ok(fresh) => self.check_with_key(event, &fresh),
                        Err(e) => Check::Invalid(VerifyError::Key(e)),
                    }
                }
                other => other,
            }
        }

        /// Checks `event` with `key` and updates the repository's state.
        pub fn check_with_key(&mut self, event: &CommitEvent, key: &PublicKey) -> Check {
            let state = self.states.get(event.repo());
            let checked = match verify_commit(event, state, key) {
                Ok(c) => c,
                Err(e) => return Check::Invalid(e),
            };
            let verdict = match checked.verdict {
                // The first commit seen of a repository can only be trusted as
                // a starting point when its proof was checked.
                Verdict::Apply if state.is_none() && event.prev_data.is_none() => {
                    Verdict::Resync("commit has no prevData".into())
                }
                v => v,
            };
            match verdict {
                Verdict::Stale => Check::Stale,
                Verdict::Apply => {
                    self.set_state(event.repo(), RepoState::from_commit(&checked.commit));
                    Check::Valid
                }
                Verdict::Resync(why) => {
                    self.set_state(event.repo(), RepoState::from_commit(&checked.commit));
                    Check::Resync(why)
                }
            }
        }

        /// Takes in a `#sync` event: checks its commit block's signature with
        /// `key` and resets the repository's state to it.
        pub fn sync_with_key(
            &mut self,
            sync: &repos::Sync,
            key: &PublicKey,
        ) -> Result<(), VerifyError> {
            let fail = VerifyError::Event;
            let car = Car::from_bytes(&sync.blocks.0).map_err(|e| fail(EventError::Car(e)))?;
            let root = *car.roots.first().ok_or(fail(EventError::Root))?;
            let bytes = car.get(&root).ok_or(fail(EventError::Root))?;
            let commit =
                Commit::from_block(root, bytes).map_err(|e| fail(EventError::Commit(e)))?;
            if commit.did != sync.did.as_str() {
                return Err(fail(EventError::Mismatch(format!(
                    "#sync commit is for {}, the message for {}",
                    commit.did,
                    sync.did.as_str()
                ))));
            }
            commit
                .verify(key)
                .map_err(|e| fail(EventError::Commit(e)))?;
            self.set_state(sync.did.as_str(), RepoState::from_commit(&commit));
            Ok(())
        }

        /// [`Verifier::sync_with_key`] with the key from the resolver.
        pub async fn sync(&mut self, sync: &repos::Sync) -> Result<(), VerifyError> {
            let Some(resolver) = self.resolver.clone() else {
                return Err(VerifyError::Key("no identity resolver configured".into()));
            };
            let key = signing_key(&resolver, sync.did.as_str())
                .await
                .map_err(VerifyError::Key)?;
            self.sync_with_key(sync, &key)
        }
    }

    async fn signing_key(
        resolver: &atmo_identity::Resolver,
        did: &str,
    ) -> Result<PublicKey, String> {
        let doc = resolver.resolve_did(did).await.map_err(|e| e.to_string())?;
        doc.signing_key().map_err(|e| format!("{did}: {e}"))
    }
}
