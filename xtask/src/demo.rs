//! `cargo xtask demo`: the whole session lifecycle, step by step, printing
//! every session event as the persist hook receives it.
//!
//! Without arguments it starts the reference PDS locally (installing it when
//! missing) with access tokens that live a few seconds, so the automatic
//! refresh shows up within the demo: create an account, persist the session
//! to a file, "restart" (a new agent on the same file) and resume, post, let
//! the access token expire and call again, log out. Then, when the AppView
//! harness is installed (`tests/appview/install.sh`), it starts the
//! reference AppView with its own PDS, posts there and reads the post back
//! through the AppView (`getAuthorFeed`, then `getTimeline` as an app reads
//! it: with the accept-labelers header from the preferences and each post's
//! moderation decision); without it, the
//! demo says how to install it and ends normally.
//!
//! With `--service URL --identifier ID` it runs the same against any PDS,
//! asking for the password (and a 2FA code when the server requires one) at
//! the prompt, never on the command line. Nothing is posted there unless
//! `--post TEXT` is given.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use atmo_client::atmo_api::app::bsky::feed::defs::FeedViewPost;
use atmo_client::atmo_api::app::bsky::feed::get_author_feed::{self, GetAuthorFeed};
use atmo_client::atmo_api::app::bsky::feed::get_timeline::{self, GetTimeline};
use atmo_client::atmo_api::com::atproto::server::create_session;
use atmo_client::atmo_types::{AtIdentifier, Did};
use atmo_client::{moderation, AtpAgent, Error, FileStore, Login, SessionData, SessionEvent};
use atproto_tests::appview::AppView;
use atproto_tests::{Pds, PdsOptions};

const LOCAL_ACCESS_TTL_SECS: u64 = 4;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut service = None;
    let mut identifier = None;
    let mut post = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--service" => service = it.next().cloned(),
            "--identifier" => identifier = it.next().cloned(),
            "--post" => post = it.next().cloned(),
            other => return Err(format!("unknown argument {other:?}; usage: cargo xtask demo [--service URL --identifier ID [--post TEXT]]")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    match (service, identifier) {
        (None, None) => runtime.block_on(local()),
        (Some(service), Some(identifier)) => runtime.block_on(remote(&service, &identifier, post)),
        _ => Err("--service and --identifier go together".into()),
    }
}

fn step(n: u32, what: &str) {
    println!("\n[{n}] {what}");
}

fn builder(service: &str, file: &Path) -> atmo_client::AgentBuilder {
    AtpAgent::builder(service)
        .session_store(FileStore::new(file))
        .on_session_event(
            |event: SessionEvent, did: Option<&Did>, session: Option<&SessionData>| match (
                session, did,
            ) {
                (Some(s), _) => println!(
                    "    event: {:<12} handle={} did={}",
                    event.as_str(),
                    s.handle,
                    s.did
                ),
                (None, Some(did)) => {
                    println!("    event: {:<12} did={did} (no session)", event.as_str())
                }
                (None, None) => println!("    event: {:<12} (no session)", event.as_str()),
            },
        )
}

fn session_file() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("atproto-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir.join("session.json"))
}

async fn local() -> Result<(), String> {
    step(0, "starting the reference PDS on 127.0.0.1 (tests/pds)");
    crate::install_pds()?;
    let pds = Pds::start(&PdsOptions {
        access_ttl_secs: Some(LOCAL_ACCESS_TTL_SECS),
        ..Default::default()
    })?;
    println!(
        "    PDS at {} (access tokens live {LOCAL_ACCESS_TTL_SECS} s: a test-only switch)",
        pds.url
    );
    let file = session_file()?;

    let did = {
        let agent = builder(&pds.url, &file)
            .build()
            .map_err(|e| e.to_string())?;
        let handle = atproto_tests::unique_handle("demo");
        step(1, &format!("create account {handle}"));
        let session = agent
            .create_account(atproto_tests::new_account_input(
                &handle,
                "demo-password-123",
            ))
            .await
            .map_err(|e| e.to_string())?;
        println!("    session for {} ({})", session.handle, session.did);
        step(
            2,
            &format!("the session was persisted to {}", file.display()),
        );
        let saved = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        println!("    {} bytes of JSON (tokens not shown)", saved.len());
        session.did
        // The agent is dropped here: the "app" exits.
    };

    step(3, "restart: a new agent resumes from the file");
    let agent = builder(&pds.url, &file)
        .build()
        .map_err(|e| e.to_string())?;
    let resumed = agent
        .resume_from_store()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no saved session")?;
    if resumed.did != did {
        return Err(format!("resumed {} but created {did}", resumed.did));
    }
    println!("    resumed {} ({})", resumed.handle, resumed.did);

    step(4, "post");
    let posted = agent
        .post("Hello from the atproto-rs demo")
        .await
        .map_err(|e| e.to_string())?;
    println!("    {}", posted.uri);

    step(
        5,
        &format!(
            "wait {} s for the access token to expire, then call again",
            LOCAL_ACCESS_TTL_SECS + 1
        ),
    );
    tokio::time::sleep(Duration::from_secs(LOCAL_ACCESS_TTL_SECS + 1)).await;
    let posted = agent
        .post("Still here after the token expired")
        .await
        .map_err(|e| e.to_string())?;
    println!("    {} (refreshed without the app noticing)", posted.uri);

    step(6, "log out");
    agent.logout().await.map_err(|e| e.to_string())?;
    println!("    has_session() = {}", agent.has_session());
    let _ = std::fs::remove_dir_all(file.parent().unwrap_or(&file));

    step(
        7,
        "read the timeline back through the reference AppView (tests/appview)",
    );
    if let Err(e) = appview().await {
        println!("    skipped: {e}");
    }
    println!("\ndemo finished");
    Ok(())
}

/// How long the AppView may take to index a post written on its PDS.
const APPVIEW_INDEXED: Duration = Duration::from_secs(20);

/// Step 7: post on the AppView harness's PDS and read the post back from
/// the AppView. Any failure is returned for the demo to print; it does not
/// fail the demo, which has shown the session lifecycle by then.
async fn appview() -> Result<(), String> {
    let net = match tokio::task::spawn_blocking(AppView::start).await {
        Ok(Ok(net)) => net,
        Ok(Err(e)) => {
            return Err(format!(
                "{e}\n    install it with `bash tests/appview/install.sh` (Node 22 from the PDS \
                 harness, @atproto/dev-env and Debian's postgresql; `cargo xtask test` installs it \
                 too), then run `cargo xtask demo` again"
            ))
        }
        Err(e) => return Err(format!("the AppView start task failed: {e}")),
    };
    println!(
        "    PLC, PDS ({}), AppView ({}), bsync and Ozone up in {:.1} s",
        net.pds,
        net.appview,
        net.start_time.as_secs_f64()
    );
    let agent = AtpAgent::builder(&net.pds)
        .build()
        .map_err(|e| e.to_string())?;
    let handle = atproto_tests::unique_handle("demoav");
    let session = agent
        .create_account(atproto_tests::new_account_input(
            &handle,
            "demo-password-123",
        ))
        .await
        .map_err(|e| e.to_string())?;
    println!("    account {} ({})", session.handle, session.did);
    let posted = agent
        .post("Hello from the atproto-rs demo, read back through the AppView")
        .await
        .map_err(|e| e.to_string())?;
    println!("    posted {}", posted.uri);

    // The AppView indexes the PDS's firehose: poll until the post shows.
    // Until the account itself is indexed, getAuthorFeed answers "Profile
    // not found", so an error is only final at the deadline.
    let until = std::time::Instant::now() + APPVIEW_INDEXED;
    let feed = loop {
        let params = get_author_feed::Parameters::new(AtIdentifier::from(session.did.clone()));
        let last = match agent.call::<GetAuthorFeed>(params, ()).await {
            Ok(out) if out.feed.iter().any(|item| item.post.uri == posted.uri) => break out.feed,
            Ok(_) => "the post is not listed yet".to_owned(),
            Err(e) => format!("getAuthorFeed: {e}"),
        };
        if std::time::Instant::now() >= until {
            return Err(format!(
                "the post was not in the author feed within {} s ({last})",
                APPVIEW_INDEXED.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("    getAuthorFeed: {} post(s)", feed.len());
    print_feed(&feed);
    // As an app reads it: with the user's labelers asked for, and each
    // post's moderation decided from the preferences (Ozone, the network's
    // moderation service, as the app's labeler).
    let ozone: Did = net
        .ozone_did
        .parse()
        .map_err(|e| format!("Ozone's DID: {e}"))?;
    let prefs = agent
        .get_preferences_with_app_labelers(&[ozone])
        .await
        .map_err(|e| format!("getPreferences: {e}"))?;
    let opts = agent
        .moderation_opts_from(&prefs)
        .await
        .map_err(|e| format!("moderation options: {e}"))?;
    let timeline = agent
        .with_labelers_from(&prefs)
        .call::<GetTimeline>(get_timeline::Parameters::default(), ())
        .await
        .map_err(|e| format!("getTimeline: {e}"))?;
    println!(
        "    getTimeline (atproto-accept-labelers: {}): {} post(s)",
        moderation::accept_labelers_for(&prefs),
        timeline.feed.len()
    );
    print_feed(&timeline.feed);
    for item in &timeline.feed {
        let decision = moderation::moderate_post(&item.post, &opts);
        let ui = decision.ui(moderation::ModerationContext::ContentList);
        println!(
            "      {}: filter={} blur={} alert={} inform={}",
            item.post.uri,
            ui.filter(),
            ui.blur(),
            ui.alert(),
            ui.inform()
        );
    }
    Ok(())
    // `net` is dropped here: the network stops and its database is removed.
}

/// One line per post: author, text and counts as the AppView shows them.
fn print_feed(feed: &[FeedViewPost]) {
    for item in feed {
        let post = &item.post;
        let text = post
            .record
            .to_value()
            .ok()
            .and_then(|v| v.get("text").and_then(|t| t.as_str().map(str::to_owned)))
            .unwrap_or_default();
        println!(
            "      @{}: {text:?} ({} likes, {} replies, indexed {})",
            post.author.handle,
            post.like_count.unwrap_or(0),
            post.reply_count.unwrap_or(0),
            post.indexed_at
        );
    }
}

async fn remote(service: &str, identifier: &str, post: Option<String>) -> Result<(), String> {
    let file = session_file()?;
    let agent = builder(service, &file).build().map_err(|e| e.to_string())?;
    step(1, &format!("log in to {service} as {identifier}"));
    let password = prompt("password (not echoed): ", true)?;
    let login = Login::new(identifier, password);
    let session = match agent.login(login.clone()).await {
        Ok(s) => s,
        Err(Error::Api {
            error: create_session::Error::AuthFactorTokenRequired(message),
            ..
        }) => {
            println!(
                "    {}",
                message.unwrap_or_else(|| "a sign-in code was emailed to you".into())
            );
            let code = prompt("code: ", false)?;
            agent
                .login(login.auth_factor_token(code))
                .await
                .map_err(|e| e.to_string())?
        }
        Err(e) => return Err(e.to_string()),
    };
    println!(
        "    session for {} ({}), PDS {}",
        session.handle,
        session.did,
        agent
            .pds_url()
            .map(|u| u.to_string())
            .unwrap_or_else(|| service.to_owned())
    );

    step(2, "restart: a new agent resumes from the file");
    let again = builder(service, &file).build().map_err(|e| e.to_string())?;
    again.resume_from_store().await.map_err(|e| e.to_string())?;
    if let Some(text) = post {
        step(3, "post");
        let posted = again.post(&text).await.map_err(|e| e.to_string())?;
        println!("    {}", posted.uri);
    }
    step(4, "refresh");
    again.refresh_session().await.map_err(|e| e.to_string())?;
    step(5, "log out");
    again.logout().await.map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(file.parent().unwrap_or(&file));
    Ok(())
}

/// Reads one line from the terminal; with `secret`, echo is turned off
/// (through `stty`) while typing.
fn prompt(label: &str, secret: bool) -> Result<String, String> {
    print!("{label}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let hidden = secret && stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        stty("echo");
        println!();
    }
    read.map_err(|e| e.to_string())?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err("nothing entered".into());
    }
    Ok(line)
}
