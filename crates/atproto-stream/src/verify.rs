//! Commit verification: the signature against the repository's signing
//! key, the Sync 1.1 `prevData` proof, and per-repository state that turns
//! a gap into a "resync this repository" signal.

use std::fmt;

use atproto_sync::tree::TreeError;
use atproto_sync::{CarError, Cid, CommitError};

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
    /// The CAR slice could not be read.
    Car(CarError),
    /// The commit block is missing from the slice or is not its CID's.
    MissingCommit(Cid),
    /// The commit block is malformed, or its signature does not verify.
    Commit(CommitError),
    /// The commit block disagrees with the message (`did`, `rev`).
    Mismatch(String),
    /// The signing key could not be found (identity resolution failed).
    Key(String),
    /// The ops cannot be undone on the blocks sent (the proof is
    /// incomplete or the ops do not match the tree).
    Proof(TreeError),
    /// Undoing the ops gives another root than `prevData`.
    PrevData {
        /// `prevData` as sent.
        expected: Cid,
        /// The root the undo produced.
        computed: Cid,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Car(e) => write!(f, "blocks: {e}"),
            VerifyError::MissingCommit(c) => write!(f, "commit block {c} is not in the blocks"),
            VerifyError::Commit(e) => e.fmt(f),
            VerifyError::Mismatch(why) => f.write_str(why),
            VerifyError::Key(why) => write!(f, "signing key: {why}"),
            VerifyError::Proof(e) => write!(f, "commit proof: {e}"),
            VerifyError::PrevData { expected, computed } => write!(
                f,
                "undoing the ops gives root {computed}, not prevData {expected}"
            ),
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::Car(e) => Some(e),
            VerifyError::Commit(e) => Some(e),
            VerifyError::Proof(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "verify")]
mod checks {
    use std::collections::HashMap;
    use std::fmt;

    use atproto_api::com::atproto::sync::subscribe_repos as repos;
    use atproto_crypto::PublicKey;
    use atproto_sync::tree::invert_ops;
    use atproto_sync::{Car, Cid, Commit, CommitError, RepoState, Verdict};

    use super::{Check, VerifyError};
    use crate::event::CommitEvent;

    /// Checks the commit's blocks, signature (with `key`) and proof, without
    /// any state. Returns the decoded commit block.
    pub fn verify_commit(event: &CommitEvent, key: &PublicKey) -> Result<Commit, VerifyError> {
        let commit = commit_block(event)?;
        commit.verify(key).map_err(VerifyError::Commit)?;
        check_proof(event, &commit)?;
        Ok(commit)
    }

    fn commit_block(event: &CommitEvent) -> Result<Commit, VerifyError> {
        let car = Car::from_bytes(&event.commit.blocks.0).map_err(VerifyError::Car)?;
        let bytes = car
            .get(&event.commit_cid)
            .ok_or(VerifyError::MissingCommit(event.commit_cid))?;
        let commit = Commit::from_block(event.commit_cid, bytes).map_err(VerifyError::Commit)?;
        if commit.did != event.repo() {
            return Err(VerifyError::Mismatch(format!(
                "commit block is for {}, the message for {}",
                commit.did,
                event.repo()
            )));
        }
        if commit.rev != event.rev() {
            return Err(VerifyError::Mismatch(format!(
                "commit block has rev {}, the message {}",
                commit.rev,
                event.rev()
            )));
        }
        Ok(commit)
    }

    fn check_proof(event: &CommitEvent, commit: &Commit) -> Result<(), VerifyError> {
        let Some(expected) = event.prev_data else {
            return Ok(());
        };
        let car = Car::from_bytes(&event.commit.blocks.0).map_err(VerifyError::Car)?;
        let ops: Vec<_> = event.ops.iter().map(|o| o.to_tree_op()).collect();
        let computed =
            invert_ops(commit.data, &|c: &Cid| car.get(c), &ops).map_err(VerifyError::Proof)?;
        if computed != expected {
            return Err(VerifyError::PrevData { expected, computed });
        }
        Ok(())
    }

    /// Verifies commits and keeps each repository's [`RepoState`].
    ///
    /// [`Verifier::check_with_key`] works offline; [`Verifier::check`] looks
    /// the key up with an [`atproto_identity::Resolver`] (cached; on a
    /// signature failure the DID document is fetched again once, for key
    /// rotation).
    #[derive(Clone)]
    pub struct Verifier {
        resolver: Option<atproto_identity::Resolver>,
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
        pub fn new(resolver: atproto_identity::Resolver) -> Self {
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
                Check::Invalid(VerifyError::Commit(CommitError::Signature(_))) => {
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
            let commit = match verify_commit(event, key) {
                Ok(c) => c,
                Err(e) => return Check::Invalid(e),
            };
            let since = event.commit.since.as_ref().map(|s| s.as_str());
            let verdict = match self.states.get(event.repo()) {
                Some(state) => state.check(event.rev(), since, event.prev_data),
                None if event.prev_data.is_none() => {
                    Verdict::Resync("commit has no prevData".into())
                }
                None => Verdict::Apply,
            };
            match verdict {
                Verdict::Stale => Check::Stale,
                Verdict::Apply => {
                    self.set_state(event.repo(), RepoState::from_commit(&commit));
                    Check::Valid
                }
                Verdict::Resync(why) => {
                    self.set_state(event.repo(), RepoState::from_commit(&commit));
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
            let car = Car::from_bytes(&sync.blocks.0).map_err(VerifyError::Car)?;
            let root = *car
                .roots
                .first()
                .ok_or_else(|| VerifyError::Mismatch("#sync blocks have no root".into()))?;
            let bytes = car.get(&root).ok_or(VerifyError::MissingCommit(root))?;
            let commit = Commit::from_block(root, bytes).map_err(VerifyError::Commit)?;
            if commit.did != sync.did.as_str() {
                return Err(VerifyError::Mismatch(format!(
                    "#sync commit is for {}, the message for {}",
                    commit.did,
                    sync.did.as_str()
                )));
            }
            commit.verify(key).map_err(VerifyError::Commit)?;
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
        resolver: &atproto_identity::Resolver,
        did: &str,
    ) -> Result<PublicKey, String> {
        let doc = resolver.resolve_did(did).await.map_err(|e| e.to_string())?;
        doc.signing_key().map_err(|e| format!("{did}: {e}"))
    }
}
