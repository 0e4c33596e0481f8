//! An app's own lexicons run through lexgen from a build script: `build.rs`
//! generates `lexicons/` (record types, queries, every name clash the
//! generator resolves) into one file of `OUT_DIR`, included here in a nested
//! module. Its types refer to `atmo_api` for the official ones
//! (`com.atproto.repo.strongRef`, `app.bsky.richtext.facet`,
//! `app.bsky.embed.images`). [`service`] serves the query and procedure
//! (the `todo-service` binary).

/// The generated types and endpoints: `lexicons::com::example::todo::item::Item`.
/// lexgen documents every public item it writes, so this holds:
#[deny(missing_docs)]
pub mod lexicons {
    include!(concat!(env!("OUT_DIR"), "/lexicons.rs"));
}

pub mod service;
