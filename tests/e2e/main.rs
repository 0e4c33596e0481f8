//! End-to-end tests against the real reference PDS (`@atproto/pds` 0.5.35)
//! and a local PLC directory, both on 127.0.0.1, started by `tests/pds/run.sh`.
//!
//! Each test says in its name and doc comment what it checks. Without
//! an installed PDS they skip with a printed notice; under `cargo xtask test`
//! (`ATPROTO_E2E=required`) they fail instead.

mod accounts;
mod appview_moderation;
mod appview_moderation_prefs;
mod appview_views;
mod discovery;
mod email;
mod examples;
mod handle_login;
mod helpers;
mod identity;
mod lifecycle;
mod limits;
mod preferences;
mod refresh;
mod sync;
mod writes;

use atmo_client::{AtpAgent, Login, SessionData};
use atproto_tests::{unique_handle, Events, Pds};

/// The password every test account gets.
pub const PASSWORD: &str = "correct-horse-battery";

/// An agent for `service` recording its session events.
pub fn agent(service: &str) -> (AtpAgent, Events) {
    let events = Events::default();
    let agent = AtpAgent::builder(service)
        .on_session_event(events.hook())
        .build()
        .expect("agent builds for a loopback URL");
    (agent, events)
}

/// Creates a fresh account on `pds` through `agent`; returns its handle and session.
pub async fn new_account(agent: &AtpAgent, prefix: &str) -> (String, SessionData) {
    let handle = unique_handle(prefix);
    let session = agent
        .create_account(atproto_tests::new_account_input(&handle, PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("createAccount {handle}: {e}"));
    (handle, session)
}

/// A logged-in agent on the shared PDS, plus its events (creation cleared).
pub async fn logged_in(pds: &Pds, prefix: &str) -> (AtpAgent, Events, String) {
    let (agent, events) = agent(&pds.url);
    let (handle, _) = new_account(&agent, prefix).await;
    events.clear();
    (agent, events, handle)
}

/// Logs in again with the test password.
pub async fn login(agent: &AtpAgent, identifier: &str) -> SessionData {
    agent
        .login(Login::new(identifier, PASSWORD))
        .await
        .unwrap_or_else(|e| panic!("login {identifier}: {e}"))
}
