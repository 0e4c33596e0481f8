//! Firehose decoding measured against the Rust peers: a generated corpus
//! of realistic, verifiable `subscribeRepos` frames ([`corpus`]) and the
//! same decoding job done by atmo-stream, atrium, jacquard and an
//! untyped `Ipld` baseline ([`decode`]).
//!
//! The `peers` binary times them side by side; the `frames` criterion
//! bench breaks atmo-stream's own decode into its steps.

pub mod corpus;
pub mod decode;

pub use corpus::{corpus, Corpus};
pub use decode::{decode_all, Tally, PARTIES};
