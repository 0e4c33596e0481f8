//! Support for the end-to-end tests: starting the reference PDS.
//!
//! Each test binary starts the real `@atproto/pds` (with a local PLC
//! directory) through `tests/pds/run.sh`, reads its `PDS_READY {json}` line
//! and talks to it on 127.0.0.1. The harness exits when our end of its stdin
//! closes, so a crashed or killed test run cannot leave it running.
//!
//! When the PDS is not installed, a plain `cargo test` prints a notice and
//! skips the end-to-end tests; `cargo xtask test` sets `ATPROTO_E2E=required`
//! and then a PDS that cannot start fails the test instead.

pub mod appview;
pub mod proxy;
pub mod spawn;

/// The README's code blocks, compiled as doctests so that they cannot go
/// stale (this crate depends on every crate they use).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use spawn::{spawn_until_ready, Launch, Process, Ready};

/// How the PDS is configured for one run.
#[derive(Clone, Debug, Default)]
pub struct PdsOptions {
    /// Require invite codes for createAccount.
    pub invites: bool,
    /// Turn the PDS's rate limits on.
    pub rate_limits: bool,
    /// TEST-ONLY: make issued access tokens expire after this many seconds.
    pub access_ttl_secs: Option<u64>,
}

/// A running reference PDS.
pub struct Pds {
    /// Base URL of the PDS, e.g. `http://localhost:41234`.
    pub url: String,
    /// Base URL of the PLC directory.
    pub plc: String,
    /// Password of the `admin` user for Basic auth on admin endpoints.
    pub admin_password: String,
    /// The JWT secret the PDS signs tokens with.
    pub jwt_secret: String,
    /// Base URL of the harness's own test endpoints.
    pub harness: String,
    /// The running `run.sh`, stopped when this is dropped.
    _process: Process,
}

/// True when `cargo xtask test` demands the end-to-end suite run.
pub fn e2e_required() -> bool {
    std::env::var("ATPROTO_E2E").is_ok_and(|v| v == "required")
}

fn pds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pds")
}

impl Pds {
    /// An identity resolver for this harness (see [`Pds::resolver_with`])
    /// over the default `HyperClient`.
    pub fn resolver(&self) -> atmo_identity::Resolver {
        let http = std::sync::Arc::new(atmo_client::HyperClient::new().expect("http client"));
        self.resolver_with(http).build().expect("resolver builds")
    }

    /// A resolver builder set up for this harness, over `http`: the public
    /// local development setup of the client ([`Pds::local_dev`]): handles
    /// through the PDS's `resolveHandle` (no well-known, no DNS), DID
    /// documents from its PLC directory, loopback hosts allowed.
    pub fn resolver_with(
        &self,
        http: std::sync::Arc<dyn atmo_client::HttpClient>,
    ) -> atmo_identity::ResolverBuilder {
        self.local_dev().resolver_builder(http)
    }

    /// This harness as a [`atmo_client::LocalDev`]: what an application
    /// developing against it would use.
    pub fn local_dev(&self) -> atmo_client::LocalDev {
        atmo_client::LocalDev::new(&self.url, &self.plc)
    }

    /// Starts a PDS with the given options and waits until it is ready.
    pub fn start(options: &PdsOptions) -> Result<Pds, String> {
        let dir = pds_dir();
        if !dir.join(".node/bin/node").exists() || !dir.join("node_modules/@atproto/pds").exists() {
            return Err("the reference PDS is not installed (run tests/pds/install.sh, or cargo xtask test)".into());
        }
        let mut cmd = Command::new("bash");
        cmd.arg(dir.join("run.sh"));
        if options.invites {
            cmd.arg("--invites");
        }
        if options.rate_limits {
            cmd.arg("--rate-limits");
        }
        if let Some(ttl) = options.access_ttl_secs {
            cmd.args(["--access-ttl", &ttl.to_string()]);
        }
        let launch = Launch {
            name: "tests/pds/run.sh",
            prefix: "PDS_READY",
            timeout: Duration::from_secs(90),
            grace: Duration::from_secs(5),
        };
        let Ready {
            process,
            fields: [url, plc, admin_password, jwt_secret, harness],
            ..
        } = spawn_until_ready(
            cmd,
            &launch,
            ["pds", "plc", "adminPassword", "jwtSecret", "harness"],
        )
        .map_err(|e| e.to_string())?;
        Ok(Pds {
            url,
            plc,
            admin_password,
            jwt_secret,
            harness,
            _process: process,
        })
    }

    /// Starts a PDS, or returns `None` after printing why the test is
    /// skipped. Panics instead of skipping when the suite is required.
    pub fn start_or_skip(options: &PdsOptions) -> Option<Pds> {
        match Pds::start(options) {
            Ok(pds) => Some(pds),
            Err(e) if !e2e_required() => {
                eprintln!("NOTICE: skipping end-to-end test: {e}");
                None
            }
            Err(e) => panic!("ATPROTO_E2E=required but the PDS could not start: {e}"),
        }
    }

    /// One PDS with default options shared by the tests of a binary.
    pub fn shared() -> Option<&'static Pds> {
        static SHARED: OnceLock<Option<Pds>> = OnceLock::new();
        SHARED
            .get_or_init(|| Pds::start_or_skip(&PdsOptions::default()))
            .as_ref()
    }
}

/// A unique, valid handle under the PDS's `.test` domain.
pub fn unique_handle(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id() % 10000;
    format!("{prefix}{pid}x{n}.test")
}

/// The `createAccount` input for a harness `handle` (as [`unique_handle`]
/// makes them) with `password` and an `@example.test` address.
pub fn new_account_input(handle: &str, password: &str) -> atmo_client::NewAccount {
    let name = handle.trim_end_matches(".test");
    atmo_client::NewAccount::new(atmo_types::Handle::new(handle).expect("a valid handle"))
        .email(format!("{name}@example.test"))
        .password(password)
}

/// Records session events in order, as the persist hook sees them.
#[derive(Clone, Default)]
pub struct Events(std::sync::Arc<std::sync::Mutex<Vec<(atmo_client::SessionEvent, bool)>>>);

impl Events {
    /// A hook for `AgentBuilder::on_session_event` that records each event and
    /// whether it carried a session.
    pub fn hook(
        &self,
    ) -> impl Fn(
        atmo_client::SessionEvent,
        Option<&atmo_client::atmo_types::Did>,
        Option<&atmo_client::SessionData>,
    ) + Send
           + Sync
           + 'static {
        let inner = self.0.clone();
        move |event, _did, session| inner.lock().unwrap().push((event, session.is_some()))
    }

    /// The events so far, without the session flags.
    pub fn names(&self) -> Vec<atmo_client::SessionEvent> {
        self.0.lock().unwrap().iter().map(|(e, _)| *e).collect()
    }

    /// The events so far, with whether each carried a session.
    pub fn all(&self) -> Vec<(atmo_client::SessionEvent, bool)> {
        self.0.lock().unwrap().clone()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.0.lock().unwrap().clear()
    }
}

impl Pds {
    /// `Authorization` header value for the PDS's admin endpoints.
    pub fn admin_auth(&self) -> String {
        let creds = format!("admin:{}", self.admin_password);
        let mut b64 = atmo_types::data::base64_encode(creds.as_bytes());
        while !b64.len().is_multiple_of(4) {
            b64.push('=');
        }
        format!("Basic {b64}")
    }

    /// The last emailed token of `purpose` (e.g. `confirm_email`) for `did`,
    /// read from the harness.
    pub async fn email_token(&self, did: &str, purpose: &str) -> Result<String, String> {
        let url = format!(
            "{}/test/email-token?did={did}&purpose={purpose}",
            self.harness
        );
        // Not `reqwest::get`: this build of reqwest has no default crypto
        // provider, and the library no longer installs one.
        let client = atmo_client::ReqwestClient::new().map_err(|e| e.to_string())?;
        let resp = client
            .inner()
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{url}: {status} {text}"));
        }
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        v["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no token in {text}"))
    }
}
