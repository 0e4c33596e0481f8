//! Generates the app's own lexicons (`lexicons/`) into `$OUT_DIR/lexicons.rs`,
//! which `src/lib.rs` includes in `mod lexicons`. References into the
//! official lexicons (`com.atproto.repo.strongRef`, `app.bsky.*`) resolve to
//! `atmo_api` through the copy embedded in lexgen.

fn main() -> Result<(), atmo_lexgen::BuildError> {
    atmo_lexgen::Builder::new()
        .lexicons("lexicons")
        .root_path("crate::lexicons")
        // The server side too: the `todo-service` binary serves the queries and
        // procedures with atmo-server's XrpcRouter.
        .server(true)
        .generate()?;
    Ok(())
}
