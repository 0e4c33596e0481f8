//! The AppView harness: the reference PDS with a real Bluesky AppView and
//! Ozone behind it, for the end-to-end tests of `app.bsky` views.
//!
//! [`AppView::start`] runs `tests/appview/run.sh`, which creates a throwaway
//! PostgreSQL cluster and starts `@atproto/dev-env`'s network in one Node 22
//! process: PLC, the reference PDS, the AppView (`@atproto/bsky`), bsync and
//! Ozone, all on 127.0.0.1. It reads the `APPVIEW_READY {json}` line the
//! script prints once every service answers. The script exits when our end of
//! its stdin closes, stopping the cluster and removing its directory, so a
//! crashed or killed test run cannot leave it running.
//!
//! The npm AppView has no label ingester, so the harness carries Ozone's
//! labels into the AppView's database itself (the *label bridge* of
//! `tests/appview/start.mjs`, test-harness code): a label Ozone emits shows
//! on the AppView's views a moment later. A labeler outside the harness
//! (the example labeler) is ingested the same way on request:
//! [`AppView::ingest_labeler`] has the harness subscribe to its
//! `com.atproto.label.subscribeLabels` and copy its labels into the
//! AppView (without `sig`: the npm AppView's `label` table has no column
//! for it, and its views drop it).
//!
//! As for the PDS: when the harness is not installed (`tests/appview/install.sh`),
//! a plain `cargo test` prints a notice and skips; with `ATPROTO_E2E=required`
//! a harness that cannot start fails the test instead.

use std::future::Future;
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::e2e_required;
use crate::spawn::{spawn_until_ready, Launch, Process, Ready};

/// How long the network may take to become ready (the first start after an
/// install compiles nothing, but a loaded 2-core machine is slow).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A running network: PLC, PDS, AppView, bsync and Ozone.
pub struct AppView {
    /// Base URL of the PDS, whose `app.bsky` calls reach the AppView.
    pub pds: String,
    /// The PDS's service DID (`did:web:localhost`).
    pub pds_did: String,
    /// Base URL of the PLC directory.
    pub plc: String,
    /// Base URL of the AppView itself.
    pub appview: String,
    /// The AppView's service DID.
    pub appview_did: String,
    /// Base URL of Ozone.
    pub ozone: String,
    /// Ozone's service DID (new each run): the labeler whose labels the
    /// AppView shows.
    pub ozone_did: String,
    /// Handle of the Ozone service account on the PDS, an Ozone admin.
    pub moderator_handle: String,
    /// Its password.
    pub moderator_password: String,
    /// Password of `admin` for HTTP Basic auth on the PDS, AppView and Ozone.
    pub admin_password: String,
    /// How long the network took to start, as the script measured it.
    pub start_time: Duration,
    /// Base URL of the external labeler bridge (`POST /ingest-labeler`),
    /// test-harness code of `start.mjs`.
    pub bridge: String,
    /// The running `run.sh`, stopped when this is dropped (see
    /// [`Process::stop`]).
    _process: Process,
}

impl std::fmt::Debug for AppView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppView")
            .field("pds", &self.pds)
            .field("appview", &self.appview)
            .field("ozone", &self.ozone)
            .field("ozone_did", &self.ozone_did)
            .finish_non_exhaustive()
    }
}

fn appview_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("appview")
}

impl AppView {
    /// Starts the network and waits until it is ready.
    pub fn start() -> Result<AppView, String> {
        let dir = appview_dir();
        let node = dir.join("../pds/.node/bin/node");
        if !node.exists() || !dir.join("node_modules/@atproto/dev-env").exists() {
            return Err(
                "the AppView harness is not installed (run tests/appview/install.sh, or cargo xtask test)"
                    .into(),
            );
        }
        let mut cmd = Command::new("bash");
        cmd.arg(dir.join("run.sh"));
        let launch = Launch {
            name: "tests/appview/run.sh",
            prefix: "APPVIEW_READY",
            timeout: READY_TIMEOUT,
            // Closing stdin stops the cluster and removes its directory:
            // give that time before SIGTERM (which the script's trap also
            // cleans up on).
            grace: Duration::from_secs(20),
        };
        let Ready {
            process,
            fields:
                [pds, pds_did, plc, appview, appview_did, ozone, ozone_did, moderator_handle, moderator_password, admin_password, bridge],
            json,
        } = spawn_until_ready(
            cmd,
            &launch,
            [
                "pds",
                "pdsDid",
                "plc",
                "appview",
                "appviewDid",
                "ozone",
                "ozoneDid",
                "moderatorHandle",
                "moderatorPassword",
                "adminPassword",
                "bridge",
            ],
        )
        .map_err(|e| e.to_string())?;
        Ok(AppView {
            pds,
            pds_did,
            plc,
            appview,
            appview_did,
            ozone,
            ozone_did,
            moderator_handle,
            moderator_password,
            admin_password,
            bridge,
            start_time: Duration::from_millis(json["startMs"].as_u64().unwrap_or(0)),
            _process: process,
        })
    }

    /// Starts the network, or returns `None` after printing why the test is
    /// skipped. Panics instead of skipping when the suite is required
    /// (`ATPROTO_E2E=required`).
    pub fn start_or_skip() -> Option<AppView> {
        match AppView::start() {
            Ok(net) => Some(net),
            Err(e) if !e2e_required() => {
                eprintln!("NOTICE: skipping AppView end-to-end test: {e}");
                None
            }
            Err(e) => panic!("ATPROTO_E2E=required but the AppView harness could not start: {e}"),
        }
    }

    /// One network shared by the tests of a binary, started by the first
    /// test that asks. It stops when the test process exits (its stdin
    /// closes).
    ///
    /// A failed start is remembered too: the other tests skip (or fail)
    /// at once instead of each trying again.
    pub fn shared() -> Option<&'static AppView> {
        static SHARED: OnceLock<Result<AppView, String>> = OnceLock::new();
        match SHARED.get_or_init(AppView::start) {
            Ok(net) => Some(net),
            Err(e) if !e2e_required() => {
                eprintln!("NOTICE: skipping AppView end-to-end test: {e}");
                None
            }
            Err(e) => panic!("ATPROTO_E2E=required but the AppView harness could not start: {e}"),
        }
    }

    /// `Authorization` header value for admin calls (HTTP Basic
    /// `admin:<admin_password>`) on the PDS, the AppView and Ozone.
    pub fn admin_auth(&self) -> String {
        let creds = format!("admin:{}", self.admin_password);
        let mut b64 = atmo_types::data::base64_encode(creds.as_bytes());
        while !b64.len().is_multiple_of(4) {
            b64.push('=');
        }
        format!("Basic {b64}")
    }
}

impl AppView {
    /// Has the harness ingest the labeler `did` served at `url`
    /// (`http://host:port`): it subscribes to the labeler's
    /// `com.atproto.label.subscribeLabels` from the start and copies each
    /// label into the AppView's `label` table (a negation removes it), as
    /// production's label ingester would, and registers the DID as an
    /// account the AppView knows (it applies only such labelers). Returns
    /// once the subscription is set up; the labels arrive a moment later.
    pub async fn ingest_labeler(&self, did: &str, url: &str) -> Result<(), String> {
        let body = serde_json::json!({ "did": did, "url": url }).to_string();
        let bridge = self.bridge.clone();
        let what = format!("the label bridge at {bridge}");
        // One request on loopback, plain HTTP/1.1 (the harness's Node side).
        let reply =
            tokio::task::spawn_blocking(move || post_json(&bridge, "/ingest-labeler", &body))
                .await
                .map_err(|e| format!("{what}: {e}"))?
                .map_err(|e| format!("{what}: {e}"))?;
        match reply.split_once("\r\n\r\n") {
            Some((head, _)) if head.starts_with("HTTP/1.1 200") => Ok(()),
            Some((head, text)) => Err(format!(
                "the label bridge refused {did} at {url}: {} {text}",
                head.lines().next().unwrap_or_default()
            )),
            None => Err(format!("{what}: a reply without headers: {reply:?}")),
        }
    }
}

/// POSTs `body` (JSON) to `base` (`http://127.0.0.1:port`) + `path` and
/// returns the whole reply.
fn post_json(base: &str, path: &str, body: &str) -> std::io::Result<String> {
    use std::io::Write;
    let host = base.strip_prefix("http://").unwrap_or(base);
    let mut conn = std::net::TcpStream::connect(host)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    conn.set_write_timeout(Some(Duration::from_secs(30)))?;
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply)?;
    Ok(reply)
}

/// Polls `check` until it returns `Some` (what the AppView has indexed
/// catches up with what was written), every 50 ms; panics naming `what` when
/// `deadline` passes first.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        if Instant::now() >= until {
            panic!("{what}: not seen within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
