//! Service auth and video uploads against the harness's reference PDS,
//! with a mock video service in this test that does what the real one
//! does with the upload token: it verifies the token (signature by the
//! account's key from the local PLC directory, through atmo-identity and
//! atmo-server's verifier; `aud` the PDS, `lxm` uploadBlob), then
//! stores the video on the PDS with that same token and reports the job.
//!
//! Skips with a notice when the PDS is not installed (fails under
//! `ATPROTO_E2E=required`).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atmo_client::atmo_api::com::atproto::server::describe_server::DescribeServer;
use atmo_client::bsky::PostBuilder;
use atmo_client::video::{VideoError, VideoService, VideoUpload, UPLOAD_BLOB_LXM};
use atmo_client::{AtpAgent, HyperClient, Method, RawBody, Secret, ServiceUrl, XrpcRequest};
use atmo_server::{ServiceAuthError, ServiceAuthVerifier};
use atmo_types::base64::decode_url;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

mod harness {
    //! Starts the reference PDS through `tests/pds/run.sh` (as the
    //! atproto-tests crate does, which this crate cannot depend on without
    //! turning its own default features on in every test run).

    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::{mpsc, Arc, Mutex, OnceLock};
    use std::time::Duration;

    use atmo_client::{HyperClient, LocalDev, NewAccount};
    use atmo_identity::Resolver;

    /// A running harness: PDS and PLC URLs. It exits when its stdin, kept
    /// here, closes with this process.
    pub struct Pds {
        pub url: String,
        pub plc: String,
        _child: Mutex<Child>,
        _stdin: Mutex<Option<ChildStdin>>,
    }

    impl Pds {
        /// A resolver for the harness's PLC directory, loopback allowed.
        pub fn resolver(&self) -> Resolver {
            LocalDev::new(&self.url, &self.plc)
                .resolver_builder(Arc::new(HyperClient::new().unwrap()))
                .build()
                .unwrap()
        }

        /// One harness for the whole test binary; `None` (after a notice)
        /// when it is not installed, unless `ATPROTO_E2E=required`.
        pub fn shared() -> Option<&'static Pds> {
            static SHARED: OnceLock<Option<Pds>> = OnceLock::new();
            SHARED
                .get_or_init(|| match start() {
                    Ok(pds) => Some(pds),
                    Err(e) if std::env::var("ATPROTO_E2E").is_ok_and(|v| v == "required") => {
                        panic!("ATPROTO_E2E=required but the PDS could not start: {e}")
                    }
                    Err(e) => {
                        eprintln!("NOTICE: skipping end-to-end test: {e}");
                        None
                    }
                })
                .as_ref()
        }
    }

    fn start() -> Result<Pds, String> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/pds");
        if !dir.join(".node/bin/node").exists() || !dir.join("node_modules/@atproto/pds").exists() {
            return Err("the reference PDS is not installed (tests/pds/install.sh)".into());
        }
        let mut child = Command::new("bash")
            .arg(dir.join("run.sh"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start tests/pds/run.sh: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        // The harness logs to stderr: kept for a failure to start, not
        // printed over the test output.
        let mut stderr = child.stderr.take().ok_or("no stderr")?;
        let (log_tx, log_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            let _ = log_tx.send(text);
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(json) = line.strip_prefix("PDS_READY ") {
                    let _ = tx.send(json.to_owned());
                    return;
                }
            }
        });
        let Ok(json) = rx.recv_timeout(Duration::from_secs(90)) else {
            let _ = child.kill();
            let _ = child.wait();
            let log = log_rx
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!(
                "the PDS did not become ready:\n{}",
                tail.join("\n")
            ));
        };
        let ready: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
        let field = |k: &str| {
            ready[k]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("PDS_READY lacks {k}"))
        };
        Ok(Pds {
            url: field("pds")?,
            plc: field("plc")?,
            _child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
        })
    }

    /// A unique handle under the harness's `.test` domain.
    pub fn unique_handle(prefix: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{}x{n}.test", std::process::id() % 10000)
    }

    /// createAccount input for `handle`.
    pub fn new_account_input(handle: &str, password: &str) -> NewAccount {
        let name = handle.trim_end_matches(".test");
        NewAccount::new(atmo_types::Handle::new(handle).unwrap())
            .email(format!("{name}@example.test"))
            .password(password)
    }
}

use harness::{new_account_input, unique_handle, Pds};

const VIDEO_DID: &str = "did:web:video.test";
const LIMITS_LXM: &str = "app.bsky.video.getUploadLimits";

/// How the mock's jobs end.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Completed with the blob after this many polls said "encoding".
    CompleteAfter(usize),
    /// Failed at the first poll.
    Fail,
    /// Never finishes.
    Never,
    /// The upload answers 409 with the status of the job that already has
    /// this video (bare, not wrapped), which then completes.
    AlreadyExists,
}

struct Job {
    did: String,
    polls: usize,
    blob: Value,
}

/// The mock video service.
struct VideoMock {
    url: String,
    /// Upload tokens: `aud` the PDS, `lxm` uploadBlob.
    uploads: ServiceAuthVerifier,
    /// Tokens for the service's own methods: `aud` its DID.
    own: ServiceAuthVerifier,
    pds: ServiceUrl,
    ending: Ending,
    jobs: Mutex<HashMap<String, Job>>,
    /// Every upload token received.
    tokens: Mutex<Vec<String>>,
    /// Every request: (path, status answered).
    log: Mutex<Vec<(String, u16)>>,
}

impl VideoMock {
    async fn start(pds: &Pds, pds_did: &str, ending: Ending) -> Arc<VideoMock> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mock = Arc::new(VideoMock {
            url,
            uploads: ServiceAuthVerifier::new(pds_did, pds.resolver()).unwrap(),
            own: ServiceAuthVerifier::new(VIDEO_DID, pds.resolver()).unwrap(),
            pds: ServiceUrl::parse(&pds.url).unwrap(),
            ending,
            jobs: Mutex::default(),
            tokens: Mutex::default(),
            log: Mutex::default(),
        });
        let served = mock.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let mock = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let mock = mock.clone();
                        async move { Ok::<_, Infallible>(mock.answer(req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        mock
    }

    fn service(&self) -> VideoService {
        VideoService::new(&self.url, VIDEO_DID).unwrap()
    }

    fn polls(&self) -> usize {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(p, _)| p.ends_with("getJobStatus"))
            .count()
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let query = parse_query(req.uri().query().unwrap_or(""));
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
        let (status, answer) = self
            .route(&path, &query, auth.as_deref(), &content_type, body)
            .await;
        self.log.lock().unwrap().push((path, status));
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(answer.to_string())))
            .unwrap()
    }

    async fn route(
        &self,
        path: &str,
        query: &HashMap<String, String>,
        auth: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let refuse = |e: ServiceAuthError| (e.status(), e.to_xrpc_json());
        match path {
            "/xrpc/app.bsky.video.uploadVideo" => {
                let caller = match self
                    .uploads
                    .verify_header(auth, Some(UPLOAD_BLOB_LXM))
                    .await
                {
                    Ok(c) => c,
                    Err(e) => return refuse(e),
                };
                let token = auth.unwrap().strip_prefix("Bearer ").unwrap().to_owned();
                self.tokens.lock().unwrap().push(token.clone());
                let did = query.get("did").cloned().unwrap_or_default();
                if caller.did.as_str() != did {
                    return (
                        401,
                        json!({"error": "AuthenticationRequired", "message": "not your video"}),
                    );
                }
                assert!(query.get("name").is_some_and(|n| !n.is_empty()));
                assert_eq!(content_type, "video/mp4");
                // What the real service does after transcoding: store the
                // result on the user's PDS with the user's token.
                let blob = match self.store_on_pds(&token, body).await {
                    Ok(blob) => blob,
                    Err(e) => return (502, json!({"error": "UpstreamFailure", "message": e})),
                };
                let job_id = format!("job-{}", self.jobs.lock().unwrap().len() + 1);
                self.jobs.lock().unwrap().insert(
                    job_id.clone(),
                    Job {
                        did: did.clone(),
                        polls: 0,
                        blob,
                    },
                );
                let status = json!({"jobId": job_id, "did": did, "state": "JOB_STATE_CREATED", "progress": 0});
                if let Ending::AlreadyExists = self.ending {
                    let mut status = status;
                    status["error"] = json!("already_exists");
                    status["message"] = json!("Video already processed");
                    return (409, status);
                }
                (200, json!({ "jobStatus": status }))
            }
            "/xrpc/app.bsky.video.getJobStatus" => {
                let id = query.get("jobId").cloned().unwrap_or_default();
                let mut jobs = self.jobs.lock().unwrap();
                let Some(job) = jobs.get_mut(&id) else {
                    return (
                        400,
                        json!({"error": "InvalidRequest", "message": "no such job"}),
                    );
                };
                job.polls += 1;
                let mut status = json!({"jobId": id, "did": job.did, "state": "JOB_STATE_ENCODING", "progress": 50});
                match self.ending {
                    Ending::AlreadyExists => {
                        status["state"] = json!("JOB_STATE_COMPLETED");
                        status["blob"] = job.blob.clone();
                    }
                    Ending::CompleteAfter(n) if job.polls > n => {
                        status["state"] = json!("JOB_STATE_COMPLETED");
                        status["progress"] = json!(100);
                        status["blob"] = job.blob.clone();
                    }
                    Ending::Fail => {
                        status["state"] = json!("JOB_STATE_FAILED");
                        status["error"] = json!("Video is too long");
                        status["message"] = json!("Videos may be at most three minutes long");
                    }
                    _ => {}
                }
                (200, json!({"jobStatus": status}))
            }
            "/xrpc/app.bsky.video.getUploadLimits" => {
                match self.own.verify_header(auth, Some(LIMITS_LXM)).await {
                    Ok(_) => (
                        200,
                        json!({"canUpload": true, "remainingDailyVideos": 24, "remainingDailyBytes": 10_000_000_000u64}),
                    ),
                    Err(e) => refuse(e),
                }
            }
            _ => (
                501,
                json!({"error": "MethodNotImplemented", "message": path}),
            ),
        }
    }

    /// `com.atproto.repo.uploadBlob` on the PDS, authenticated by the
    /// upload token: the blob's JSON.
    async fn store_on_pds(&self, token: &str, bytes: Vec<u8>) -> Result<Value, String> {
        let transport = atmo_client::Transport::new(
            Arc::new(HyperClient::new().unwrap()),
            atmo_client::atmo_xrpc::TransportConfig::default(),
        );
        let mut req = XrpcRequest::new(UPLOAD_BLOB_LXM, Method::Procedure);
        req.body = Some(RawBody::new("video/mp4", bytes));
        let secret = Secret::new(token);
        let answer = transport
            .send(&self.pds, &req, &atmo_client::atmo_xrpc::Bearer(&secret))
            .await
            .map_err(|e| e.to_string())?;
        let out: Value = serde_json::from_slice(&answer.body.bytes).map_err(|e| e.to_string())?;
        Ok(out["blob"].clone())
    }
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// A fresh account on the harness PDS, signed in; and the PDS's DID.
async fn signed_in(pds: &Pds, prefix: &str) -> (AtpAgent, String) {
    let agent = AtpAgent::builder(&pds.url).build().unwrap();
    let handle = unique_handle(prefix);
    agent
        .create_account(new_account_input(&handle, "correct-horse-battery"))
        .await
        .expect("createAccount");
    let pds_did = agent
        .call::<DescribeServer>((), ())
        .await
        .expect("describeServer")
        .did
        .as_str()
        .to_owned();
    (agent, pds_did)
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&decode_url(payload).unwrap()).unwrap()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A few bytes that look like an MP4 (the PDS stores any bytes).
fn mp4() -> Vec<u8> {
    let mut v = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41".to_vec();
    v.extend(std::iter::repeat_n(7u8, 4096));
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn service_auth_tokens_say_what_was_asked_and_verify_with_the_accounts_key() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _) = signed_in(pds, "sa").await;
    let did = agent.did().unwrap();
    let aud = "did:web:feed.example.test";
    let lxm = "app.bsky.feed.getFeedSkeleton";
    let exp = now_secs() + 120;

    let token = agent
        .service_auth(aud, Some(lxm), Some(UNIX_EPOCH + Duration::from_secs(exp)))
        .await
        .expect("getServiceAuth");
    assert!(!format!("{token:?}").contains(token.expose()));
    let c = claims(token.expose());
    assert_eq!(c["iss"], did.as_str());
    assert_eq!(c["aud"], aud);
    assert_eq!(c["lxm"], lxm);
    assert_eq!(c["exp"], exp);

    // A service verifies it against the account's DID document.
    let verifier = ServiceAuthVerifier::new(aud, pds.resolver()).unwrap();
    let caller = verifier.verify(token.expose(), Some(lxm)).await.unwrap();
    assert_eq!(caller.did, did);
    // ...and refuses it for another method, or as another service.
    assert!(matches!(
        verifier
            .verify(token.expose(), Some("app.bsky.feed.getTimeline"))
            .await,
        Err(ServiceAuthError::BadLxm { .. })
    ));
    let other = ServiceAuthVerifier::new("did:web:other.example.test", pds.resolver()).unwrap();
    assert!(matches!(
        other.verify(token.expose(), Some(lxm)).await,
        Err(ServiceAuthError::BadAudience { .. })
    ));

    // `did#service` audiences, and the PDS's own default lifetime.
    let token = agent
        .service_auth(&format!("{aud}#bsky_fg"), Some(lxm), None)
        .await
        .unwrap();
    let c = claims(token.expose());
    assert_eq!(c["aud"], format!("{aud}#bsky_fg"));
    let left = c["exp"].as_u64().unwrap().saturating_sub(now_secs());
    assert!((1..=61).contains(&left), "{left}");
    assert!(verifier.verify(token.expose(), Some(lxm)).await.is_ok());

    // The PDS refuses a lifetime over an hour: its declared error.
    let err = agent
        .service_auth(
            aud,
            Some(lxm),
            Some(SystemTime::now() + Duration::from_secs(7200)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), Some("BadExpiration"), "{err}");
    // Bad arguments are refused before sending.
    assert!(agent
        .service_auth("feed.example.test", None, None)
        .await
        .is_err());
    assert!(agent
        .service_auth(aud, Some("not an nsid"), None)
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_goes_through_the_service_and_into_a_post() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, pds_did) = signed_in(pds, "vid").await;
    let mock = VideoMock::start(pds, &pds_did, Ending::CompleteAfter(2)).await;
    let service = mock.service();

    let limits = agent.video_upload_limits(&service).await.expect("limits");
    assert!(limits.can_upload);
    assert_eq!(limits.remaining_daily_videos, Some(24));

    let before = now_secs();
    let options = VideoUpload::new().poll_interval(Duration::from_millis(10));
    let blob = agent
        .upload_video(&service, mp4(), &options)
        .await
        .expect("upload_video");
    assert_eq!(blob.mime_type(), "video/mp4");
    assert_eq!(mock.polls(), 3, "two encoding answers, then completed");

    // The token the service received: for the PDS, for uploadBlob, 30 min.
    let tokens = mock.tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1);
    let c = claims(&tokens[0]);
    assert_eq!(c["aud"], pds_did.as_str());
    assert_eq!(c["lxm"], UPLOAD_BLOB_LXM);
    assert_eq!(c["iss"], agent.did().unwrap().as_str());
    let exp = c["exp"].as_u64().unwrap();
    assert!(
        (before + 30 * 60..=now_secs() + 30 * 60).contains(&exp),
        "exp {exp}"
    );

    // The blob is the PDS's: a post embeds it.
    let post = agent
        .post_with(PostBuilder::new("a video from Rust").video(blob, Some("a test clip".into())))
        .await
        .expect("the post with the video embed");
    assert!(post.uri.as_str().contains("app.bsky.feed.post"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_and_unfinished_jobs_are_errors() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, pds_did) = signed_in(pds, "vf").await;
    let options = VideoUpload::new()
        .poll_interval(Duration::from_millis(10))
        .deadline(Duration::from_millis(300));

    let failing = VideoMock::start(pds, &pds_did, Ending::Fail).await;
    let err = agent
        .upload_video(&failing.service(), mp4(), &options)
        .await
        .unwrap_err();
    match &err {
        VideoError::JobFailed { error, message, .. } => {
            assert_eq!(error.as_deref(), Some("Video is too long"));
            assert!(message.is_some());
        }
        other => panic!("{other:?}"),
    }

    let stuck = VideoMock::start(pds, &pds_did, Ending::Never).await;
    let err = agent
        .upload_video(&stuck.service(), mp4(), &options)
        .await
        .unwrap_err();
    match &err {
        VideoError::Timeout {
            job_id,
            state,
            progress,
        } => {
            assert_eq!(job_id, "job-1");
            assert_eq!(state.as_deref(), Some("JOB_STATE_ENCODING"));
            assert_eq!(*progress, Some(50));
        }
        other => panic!("{other:?}"),
    }
    assert!(stuck.polls() >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_the_service_already_has_continues_with_that_job() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, pds_did) = signed_in(pds, "vx").await;
    let mock = VideoMock::start(pds, &pds_did, Ending::AlreadyExists).await;
    let options = VideoUpload::new().poll_interval(Duration::from_millis(10));
    let blob = agent
        .upload_video(&mock.service(), mp4(), &options)
        .await
        .expect("the existing job's blob");
    assert_eq!(blob.mime_type(), "video/mp4");
    assert_eq!(mock.polls(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_refuses_a_token_for_another_audience() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, pds_did) = signed_in(pds, "va").await;
    let mock = VideoMock::start(pds, &pds_did, Ending::CompleteAfter(0)).await;
    let options = VideoUpload::new().pds_audience("did:web:elsewhere.test");
    let err = agent
        .upload_video(&mock.service(), mp4(), &options)
        .await
        .unwrap_err();
    let VideoError::Service(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.status(), Some(401), "{e}");
    assert_eq!(e.error_name(), Some("BadJwtAudience"), "{e}");
    assert!(!err.to_string().contains("eyJ"), "no token in {err}");
}

#[tokio::test]
async fn uploading_without_a_session_says_so() {
    let agent = AtpAgent::builder("http://127.0.0.1:9").build().unwrap();
    let service = VideoService::new("http://127.0.0.1:9", VIDEO_DID).unwrap();
    let err = agent
        .upload_video(&service, mp4(), &VideoUpload::new())
        .await
        .unwrap_err();
    assert!(matches!(err, VideoError::NotSignedIn), "{err:?}");
    assert!(VideoService::new("http://video.example.com", VIDEO_DID).is_err());
    assert!(VideoService::new("https://video.example.com", "video").is_err());
}
