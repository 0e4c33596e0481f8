//! `cargo xtask demo --oauth`: atproto OAuth step by step.
//!
//! Without `--handle` it starts the reference PDS locally (tests/pds),
//! creates an account, and signs it in through the PDS's own authorization
//! server with the loopback development client, doing headlessly what the
//! browser would (sign-in form, consent). Then it uses the session with an
//! `Agent`, refreshes it, "restarts" (a new client restoring the session
//! from its directory store) and signs out, printing each session event.
//!
//! With `--handle H` it signs H in on their real server: it prints the
//! authorization URL, listens on a 127.0.0.1 redirect, and finishes when
//! the browser comes back. Nothing is posted unless `--post TEXT` is given;
//! the session is revoked at the end unless `--keep` is given.

use std::sync::Arc;

use atmo_client::atmo_types::Did;
use atmo_client::atmo_xrpc::{HttpClient, HyperClient};
use atmo_client::{Agent, AtpAgent, SessionEvent};
use atmo_oauth::loopback::RedirectListener;
use atmo_oauth::{
    headless, AuthorizeOptions, ClientConfig, DirStore, OAuthClient, OAuthSessionData, Scopes,
};
use atproto_tests::{unique_handle, Pds, PdsOptions};

const PASSWORD: &str = "demo-password-1";

/// Runs the demo; `args` are what follows `--oauth`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut handle = None;
    let mut post = None;
    let mut keep = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--handle" => handle = it.next().cloned(),
            "--post" => post = it.next().cloned(),
            "--keep" => keep = true,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: cargo xtask demo --oauth [--handle H [--post TEXT] [--keep]]"
                ))
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    match handle {
        None => runtime.block_on(local()),
        Some(h) => runtime.block_on(remote(&h, post, keep)),
    }
}

fn step(n: u32, what: &str) {
    println!("\n[{n}] {what}");
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn print_event(event: SessionEvent, did: Option<&Did>, data: Option<&OAuthSessionData>) {
    let did = did.map_or("-", |d| d.as_str());
    match data {
        Some(d) => println!(
            "    event: {:<13} did={did} expires_at={:?} (tokens not shown)",
            event.as_str(),
            d.expires_at
        ),
        None => println!("    event: {:<13} did={did} (no session)", event.as_str()),
    }
}

fn store_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("atmo-oauth-demo-{}", std::process::id()))
}

async fn local() -> Result<(), String> {
    step(0, "starting the reference PDS on 127.0.0.1 (tests/pds)");
    let pds = Pds::start(&PdsOptions::default())
        .map_err(|e| format!("{e} (install it with tests/pds/install.sh or cargo xtask test)"))?;
    println!("    PDS and authorization server at {}", pds.url);

    step(
        1,
        "creating an account with a password (the only password use here)",
    );
    let handle = unique_handle("oauthdemo");
    AtpAgent::builder(&pds.url)
        .build()
        .map_err(err)?
        .create_account(atproto_tests::new_account_input(&handle, PASSWORD))
        .await
        .map_err(err)?;
    println!("    {handle}");

    step(2, "configuring the loopback development client");
    let http: Arc<dyn HttpClient> = Arc::new(HyperClient::new().map_err(err)?);
    let resolver = Arc::new(pds.resolver_with(http.clone()).build().map_err(err)?);
    let config =
        ClientConfig::loopback(vec!["http://127.0.0.1/callback".into()], Scopes::generic());
    println!("    client_id = {}", config.client_id);
    let dir = store_dir();
    let store = Arc::new(DirStore::new(&dir));
    let client = OAuthClient::builder(config.clone())
        .http_client_arc(http.clone())
        .identity_resolver(resolver.clone())
        .state_store(store.clone())
        .session_store(store.clone())
        .on_session_event(print_event)
        .build()
        .map_err(err)?;

    step(
        3,
        "authorize: handle → DID → PDS → its authorization server → PAR (PKCE S256, DPoP)",
    );
    let url = client
        .authorize(
            &handle,
            AuthorizeOptions {
                state: Some("demo-app-state".into()),
                ..Default::default()
            },
        )
        .await
        .map_err(err)?;
    println!("    the user would be sent to:\n    {url}");

    step(
        4,
        "what the browser does: the sign-in page, sign in, consent (headless here)",
    );
    let query = headless::sign_in(&http, &url, &handle, PASSWORD)
        .await
        .map_err(err)?;
    let shown: Vec<&str> = query
        .split('&')
        .map(|kv| kv.split('=').next().unwrap_or_default())
        .collect();
    println!("    redirected back with {}", shown.join(", "));

    step(
        5,
        "callback: state and iss checked, code exchanged, sub's issuer re-verified",
    );
    let (session, app_state) = client.callback(&query).await.map_err(err)?;
    println!(
        "    signed in as {} on {} (app state {:?})",
        session.account(),
        session.pds(),
        app_state
    );

    step(6, "an Agent over the OAuth session: post, read back, query");
    let agent = Agent::new(session.clone());
    let posted = agent
        .post("Hello over OAuth with DPoP")
        .await
        .map_err(err)?;
    println!("    posted {}", posted.uri);
    let uri = posted.uri.to_string();
    let rkey = uri.rsplit('/').next().unwrap_or_default();
    let did = session.account().to_string();
    let record = agent
        .query_json(
            "com.atproto.repo.getRecord",
            &[
                ("repo", did.as_str()),
                ("collection", "app.bsky.feed.post"),
                ("rkey", rkey),
            ],
        )
        .await
        .map_err(err)?;
    println!("    read back: {}", record["value"]["text"]);
    let me = agent
        .query_json("com.atproto.server.getSession", &[])
        .await
        .map_err(err)?;
    println!("    getSession: handle={} did={}", me["handle"], me["did"]);

    step(7, "refresh: the single-use refresh token is rotated");
    let before = session.data().map(|d| d.access_token);
    session.refresh().await.map_err(err)?;
    let after = session.data().map(|d| d.access_token);
    println!("    access token replaced: {}", before != after);

    step(
        8,
        "restart: a new client restores the session from its store",
    );
    let restarted = OAuthClient::builder(config)
        .http_client_arc(http)
        .identity_resolver(resolver)
        .state_store(store.clone())
        .session_store(store)
        .on_session_event(print_event)
        .build()
        .map_err(err)?;
    let restored = restarted.restore(session.account()).await.map_err(err)?;
    let me = Agent::new(restored.clone())
        .query_json("com.atproto.server.getSession", &[])
        .await
        .map_err(err)?;
    println!("    restored and called getSession as {}", me["handle"]);

    step(9, "sign out: revoked at the server, store cleared");
    restored.logout().await.map_err(err)?;
    match Agent::new(restored)
        .query_json("com.atproto.server.getSession", &[])
        .await
    {
        Ok(_) => return Err("a call after sign-out succeeded".into()),
        Err(e) => println!("    a call now fails: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("\ndemo finished");
    Ok(())
}

async fn remote(handle: &str, post: Option<String>, keep: bool) -> Result<(), String> {
    step(1, "listening for the redirect on 127.0.0.1");
    let listener = RedirectListener::bind("/callback").await.map_err(err)?;
    println!("    redirect_uri = {}", listener.redirect_uri());
    let config = ClientConfig::loopback(vec![listener.redirect_uri()], Scopes::generic());
    let store = Arc::new(DirStore::new(store_dir()));
    let client = OAuthClient::builder(config)
        .state_store(store.clone())
        .session_store(store)
        .on_session_event(print_event)
        .build()
        .map_err(err)?;

    step(2, &format!("authorize {handle}"));
    let url = client
        .authorize(handle, AuthorizeOptions::default())
        .await
        .map_err(err)?;
    println!("    open this URL in your browser:\n\n    {url}\n");

    step(3, "waiting for the browser to come back");
    let query = listener.wait().await.map_err(err)?;
    let (session, _) = client.callback(&query).await.map_err(err)?;
    println!(
        "    signed in as {} on {}",
        session.account(),
        session.pds()
    );

    step(4, "calling the PDS with the OAuth session");
    let agent = Agent::new(session.clone());
    let me = agent
        .query_json("com.atproto.server.getSession", &[])
        .await
        .map_err(err)?;
    println!("    getSession: handle={} did={}", me["handle"], me["did"]);
    if let Some(text) = post {
        let posted = agent.post(text).await.map_err(err)?;
        println!("    posted {}", posted.uri);
    }
    if keep {
        println!("\nsession kept in {}", store_dir().display());
    } else {
        step(5, "signing out (pass --keep to keep the session)");
        session.logout().await.map_err(err)?;
    }
    Ok(())
}
