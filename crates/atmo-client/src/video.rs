//! Uploading videos through Bluesky's video service, as the official app
//! does (feature `app-bsky`).
//!
//! A video is not uploaded to the PDS directly (`uploadVideo` on a PDS
//! answers 404): the video service transcodes it and then stores the result
//! as a blob on the user's PDS, acting for the user with a service-auth
//! token the user's PDS signed. The flow of [`Agent::upload_video`]:
//!
//! 1. `com.atproto.server.getServiceAuth` on the PDS: `aud` the PDS's own
//!    DID (`describeServer`), `lxm` `com.atproto.repo.uploadBlob`, valid
//!    30 minutes (the token the video service will present to the PDS);
//! 2. `POST <video service>/xrpc/app.bsky.video.uploadVideo?did=…&name=…`
//!    with the bytes and that token: a job id;
//! 3. `app.bsky.video.getJobStatus` polled until the job completes (its
//!    blob), fails ([`VideoError::JobFailed`]) or the deadline passes
//!    ([`VideoError::Timeout`]);
//! 4. the [`Blob`] goes into an `app.bsky.embed.video` of a post.
//!
//! ```no_run
//! # async fn demo(agent: atmo_client::AtpAgent) -> Result<(), Box<dyn std::error::Error>> {
//! use atmo_client::video::{VideoService, VideoUpload};
//! use atmo_client::atmo_api::app::bsky::embed::video::Video;
//!
//! let service = VideoService::bluesky()?;
//! let limits = agent.video_upload_limits(&service).await?;
//! if !limits.can_upload {
//!     return Err(limits.message.unwrap_or_default().into());
//! }
//! let bytes = std::fs::read("clip.mp4")?;
//! let blob = agent.upload_video(&service, bytes, &VideoUpload::new()).await?;
//! let embed = Video::new(blob); // the post's `embed`
//! # let _ = embed;
//! # Ok(()) }
//! ```
//!
//! `@atproto/api` has only the raw `app.bsky.video.*` calls; this follows
//! the Bluesky app's `uploadVideo`, except that the PDS's DID is asked of
//! the PDS (`describeServer`) where the app writes `did:web:<PDS host>`:
//! the same DID for a hosted PDS, and the right one for a PDS whose DID is
//! not its host name (set [`VideoUpload::pds_audience`] to skip the call).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atmo_api::app::bsky::video::defs::{JobStatus, JobStatusState};
use atmo_api::app::bsky::video::{get_job_status, get_upload_limits, upload_video};
use atmo_api::com::atproto::server::describe_server;
use atmo_types::object::Open;
use atmo_types::xrpc::{DecodeError, Endpoint, Method, RawBody};
use atmo_types::Blob;
use atmo_xrpc::{
    check_url, Bearer, HttpClient, NoAuth, Secret, ServiceUrl, Transport, TransportConfig,
    XrpcRequest,
};

use crate::agent::Agent;
use crate::app_error::ConfigError;
use crate::bsky::guess_mime_type;
use crate::error::AnyError;
use crate::session::SessionManager;

/// Bluesky's video service.
pub const BLUESKY_VIDEO_URL: &str = "https://video.bsky.app";
/// Its DID: the `aud` of tokens for its own methods (`getUploadLimits`).
pub const BLUESKY_VIDEO_DID: &str = "did:web:video.bsky.app";
/// The method the upload token is bound to: the video service stores the
/// processed video on the PDS with it.
pub const UPLOAD_BLOB_LXM: &str = "com.atproto.repo.uploadBlob";
/// The MIME type sent when none is given and the bytes are not recognised.
pub const DEFAULT_VIDEO_MIME_TYPE: &str = "video/mp4";

/// A video service: where it is, its DID, and the HTTP client that reaches
/// it. Cheap to clone.
///
/// ```no_run
/// let service = atmo_client::video::VideoService::bluesky()?;
/// # Ok::<(), atmo_client::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct VideoService {
    url: ServiceUrl,
    did: String,
    transport: Transport,
}

impl fmt::Debug for VideoService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VideoService")
            .field("url", &self.url)
            .field("did", &self.did)
            .finish_non_exhaustive()
    }
}

impl VideoService {
    /// Bluesky's service ([`BLUESKY_VIDEO_URL`], [`BLUESKY_VIDEO_DID`]) over
    /// the built-in HTTP client.
    ///
    /// ```no_run
    /// let service = atmo_client::video::VideoService::bluesky()?;
    /// # Ok::<(), atmo_client::ConfigError>(())
    /// ```
    pub fn bluesky() -> Result<VideoService, ConfigError> {
        VideoService::new(BLUESKY_VIDEO_URL, BLUESKY_VIDEO_DID)
    }

    /// The service at `url` (an origin; plain `http://` only to loopback)
    /// whose DID is `did`, over the built-in HTTP client.
    ///
    /// ```no_run
    /// let service = atmo_client::video::VideoService::new(
    ///     "https://video.example.com", "did:web:video.example.com")?;
    /// # Ok::<(), atmo_client::ConfigError>(())
    /// ```
    pub fn new(url: &str, did: &str) -> Result<VideoService, ConfigError> {
        let client = crate::agent::http_client()?;
        VideoService::with_http_client(url, did, client)
    }

    /// [`VideoService::new`] over the HTTP client given (the agent's, a
    /// client with a proxy...).
    ///
    /// ```no_run
    /// # fn f(client: std::sync::Arc<dyn atmo_client::HttpClient>) -> Result<(), atmo_client::ConfigError> {
    /// use atmo_client::video::{VideoService, BLUESKY_VIDEO_DID, BLUESKY_VIDEO_URL};
    /// let service = VideoService::with_http_client(BLUESKY_VIDEO_URL, BLUESKY_VIDEO_DID, client)?;
    /// # Ok(()) }
    /// ```
    pub fn with_http_client(
        url: &str,
        did: &str,
        client: Arc<dyn HttpClient>,
    ) -> Result<VideoService, ConfigError> {
        let url = check_url(url, false).map_err(|e| ConfigError::url("video service URL", e))?;
        atmo_types::Did::new(did)
            .map_err(|e| ConfigError::new("video service DID", e.to_string()))?;
        Ok(VideoService {
            url,
            did: did.to_owned(),
            transport: Transport::new(client, TransportConfig::default()),
        })
    }

    /// Where the service is.
    ///
    /// ```no_run
    /// let s = atmo_client::video::VideoService::bluesky()?;
    /// assert_eq!(s.url().as_str(), "https://video.bsky.app/");
    /// # Ok::<(), atmo_client::ConfigError>(())
    /// ```
    pub fn url(&self) -> &ServiceUrl {
        &self.url
    }

    /// Its DID.
    ///
    /// ```no_run
    /// let s = atmo_client::video::VideoService::bluesky()?;
    /// assert_eq!(s.did(), "did:web:video.bsky.app");
    /// # Ok::<(), atmo_client::ConfigError>(())
    /// ```
    pub fn did(&self) -> &str {
        &self.did
    }

    /// One look at a job (`app.bsky.video.getJobStatus`, no credentials
    /// needed).
    ///
    /// ```no_run
    /// # async fn f(s: atmo_client::video::VideoService) -> Result<(), atmo_client::video::VideoError> {
    /// let status = s.job_status("job-id").await?;
    /// println!("{} {:?}", status.state.as_str(), status.progress);
    /// # Ok(()) }
    /// ```
    pub async fn job_status(&self, job_id: &str) -> Result<JobStatus, VideoError> {
        let mut req = XrpcRequest::new(get_job_status::GetJobStatus::NSID, Method::Query);
        req.query.push(("jobId".into(), job_id.to_owned()));
        req.accept = Some("application/json".into());
        let answer = self
            .transport
            .send(&self.url, &req, &NoAuth)
            .await
            .map_err(VideoError::Service)?;
        let out =
            get_job_status::GetJobStatus::decode_output(answer.body).map_err(VideoError::Decode)?;
        Ok(out.job_status)
    }

    /// Polls a job every `poll_interval` until it completes (its blob),
    /// fails, or `deadline` (from now) passes: for a job whose
    /// [`VideoError::Timeout`] came too early.
    ///
    /// ```no_run
    /// # async fn f(s: atmo_client::video::VideoService) -> Result<(), atmo_client::video::VideoError> {
    /// use std::time::Duration;
    /// let blob = s
    ///     .wait_for_job("job-id", Duration::from_secs(600), Duration::from_secs(2))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_job(
        &self,
        job_id: &str,
        deadline: Duration,
        poll_interval: Duration,
    ) -> Result<Blob, VideoError> {
        let start = tokio::time::Instant::now();
        // A deadline too large for the clock is no deadline.
        let end = start.checked_add(deadline);
        let mut last: Option<JobStatus> = None;
        loop {
            let remaining = match end {
                Some(end) => end.saturating_duration_since(tokio::time::Instant::now()),
                None => Duration::MAX,
            };
            if remaining.is_zero() {
                return Err(timeout(job_id, last.as_ref()));
            }
            let status = match tokio::time::timeout(remaining, self.job_status(job_id)).await {
                Ok(status) => status?,
                Err(_) => return Err(timeout(job_id, last.as_ref())),
            };
            if let Some(done) = finished(&status)? {
                return Ok(done);
            }
            last = Some(status);
            let remaining = match end {
                Some(end) => end.saturating_duration_since(tokio::time::Instant::now()),
                None => Duration::MAX,
            };
            tokio::time::sleep(poll_interval.min(remaining)).await;
        }
    }

    /// Sends the bytes (`app.bsky.video.uploadVideo`) with the upload
    /// token; the job's first status.
    async fn upload(
        &self,
        did: &str,
        name: &str,
        mime_type: &str,
        bytes: Vec<u8>,
        token: &Secret,
        timeout: Option<Duration>,
    ) -> Result<JobStatus, VideoError> {
        let nsid = upload_video::UploadVideo::NSID;
        let mut req = XrpcRequest::new(nsid, Method::Procedure);
        req.query.push(("did".into(), did.to_owned()));
        req.query.push(("name".into(), name.to_owned()));
        req.body = Some(RawBody::new(mime_type, bytes));
        req.accept = Some("application/json".into());
        req.timeout = timeout;
        let url = self.url.xrpc_url(nsid, &req.query);
        let answer = self
            .transport
            .exchange(&url, &req, &Bearer(token))
            .await
            .map_err(VideoError::Service)?;
        // The service answers a video it already has with a 409 whose body
        // is that job's status: carry on with it.
        if answer.status == 409 {
            if let Some(status) = bare_job_status(&answer.body) {
                return Ok(status);
            }
        }
        let answer = atmo_xrpc::classify(nsid, answer).map_err(VideoError::Service)?;
        let body = answer.body;
        match upload_video::UploadVideo::decode_output(body.clone()) {
            Ok(out) => Ok(out.job_status),
            // Some deployments answer the status itself, not wrapped.
            Err(e) => bare_job_status(&body.bytes).ok_or(VideoError::Decode(e)),
        }
    }
}

/// A `JobStatus` object on its own.
fn bare_job_status(body: &[u8]) -> Option<JobStatus> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("jobId")?;
    serde_json::from_value(value).ok()
}

/// The blob of a completed job, an error for a failed one, `None` while it
/// runs.
fn finished(status: &JobStatus) -> Result<Option<Blob>, VideoError> {
    match &status.state {
        Open::Known(JobStatusState::JobStateCompleted) => match &status.blob {
            Some(blob) => Ok(Some(blob.clone())),
            None => Err(VideoError::NoBlob {
                job_id: status.job_id.clone(),
            }),
        },
        Open::Known(JobStatusState::JobStateFailed) => Err(VideoError::JobFailed {
            job_id: status.job_id.clone(),
            error: status.error.clone(),
            message: status.message.clone(),
            failure_code: status.failure_code.as_ref().map(|c| c.as_str().to_owned()),
        }),
        // Every other state, listed or not, means the job is in progress.
        _ => Ok(None),
    }
}

fn timeout(job_id: &str, last: Option<&JobStatus>) -> VideoError {
    VideoError::Timeout {
        job_id: job_id.to_owned(),
        state: last.map(|s| s.state.as_str().to_owned()),
        progress: last.and_then(|s| s.progress),
    }
}

/// Options of [`Agent::upload_video`].
///
/// ```
/// use std::time::Duration;
/// use atmo_client::video::VideoUpload;
/// let options = VideoUpload::new()
///     .poll_interval(Duration::from_secs(3))
///     .deadline(Duration::from_secs(15 * 60));
/// assert_eq!(options.token_lifetime, Duration::from_secs(30 * 60));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoUpload {
    /// The MIME type sent; `None` guesses it from the bytes (MP4,
    /// QuickTime, WebM...), else [`DEFAULT_VIDEO_MIME_TYPE`].
    pub mime_type: Option<String>,
    /// The `name` sent (the service uses it for its own records); `None`
    /// makes one from the time and the type's extension.
    pub name: Option<String>,
    /// The PDS's DID, the `aud` of the upload token; `None` asks the PDS
    /// (`describeServer`).
    pub pds_audience: Option<String>,
    /// How long the upload token lives (default 30 minutes, as the Bluesky
    /// app; the reference PDS allows at most one hour).
    pub token_lifetime: Duration,
    /// Timeout of the upload request itself (default: the transport's).
    pub upload_timeout: Option<Duration>,
    /// How long to wait for processing after the upload (default 5 min).
    pub deadline: Duration,
    /// Pause between job status polls (default 1.5 s).
    pub poll_interval: Duration,
}

impl Default for VideoUpload {
    fn default() -> Self {
        VideoUpload {
            mime_type: None,
            name: None,
            pds_audience: None,
            token_lifetime: Duration::from_secs(30 * 60),
            upload_timeout: None,
            deadline: Duration::from_secs(5 * 60),
            poll_interval: Duration::from_millis(1500),
        }
    }
}

impl VideoUpload {
    /// The defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = atmo_client::video::VideoUpload::new()
    ///     .mime_type("video/webm")
    ///     .deadline(Duration::from_secs(60));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`VideoUpload::mime_type`].
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// Sets [`VideoUpload::name`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets [`VideoUpload::pds_audience`].
    pub fn pds_audience(mut self, did: impl Into<String>) -> Self {
        self.pds_audience = Some(did.into());
        self
    }

    /// Sets [`VideoUpload::token_lifetime`].
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Sets [`VideoUpload::upload_timeout`].
    pub fn upload_timeout(mut self, timeout: Duration) -> Self {
        self.upload_timeout = Some(timeout);
        self
    }

    /// Sets [`VideoUpload::deadline`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets [`VideoUpload::poll_interval`].
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
}

/// What a video upload can fail with. Never contains a token.
///
/// ```no_run
/// # async fn f(agent: atmo_client::AtpAgent, s: atmo_client::video::VideoService, bytes: Vec<u8>) {
/// use atmo_client::video::{VideoError, VideoUpload};
/// match agent.upload_video(&s, bytes, &VideoUpload::new()).await {
///     Ok(blob) => { let _ = blob; }
///     Err(VideoError::Timeout { job_id, .. }) => { /* poll s.wait_for_job(&job_id, ..) later */ }
///     Err(VideoError::JobFailed { message, .. }) => eprintln!("{}", message.unwrap_or_default()),
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum VideoError {
    /// The agent has no session: there is no account to upload for.
    NotSignedIn,
    /// The PDS did not give the upload token (or its DID).
    Pds(AnyError),
    /// The video service answered with an error, or not at all (its XRPC
    /// error name and status are in there: `401 BadJwt…` for a token it
    /// refused).
    Service(atmo_xrpc::Error),
    /// The video service's answer does not have the lexicon's shape.
    Decode(DecodeError),
    /// Processing failed.
    JobFailed {
        /// The job.
        job_id: String,
        /// The service's error, if it gave one.
        error: Option<String>,
        /// Its message, if it gave one.
        message: Option<String>,
        /// The machine-readable failure code, if any.
        failure_code: Option<String>,
    },
    /// Processing had not finished by the deadline.
    Timeout {
        /// The job, to poll again with [`VideoService::job_status`].
        job_id: String,
        /// Its last known state.
        state: Option<String>,
        /// Its last known progress (0–100).
        progress: Option<i64>,
    },
    /// The job completed without a blob.
    NoBlob {
        /// The job.
        job_id: String,
    },
    /// An option was unusable (a lifetime too long for the clock...).
    Invalid(String),
}

impl fmt::Display for VideoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VideoError::NotSignedIn => f.write_str("video upload: not signed in"),
            VideoError::Pds(e) => write!(f, "video upload: the PDS gave no upload token: {e}"),
            VideoError::Service(e) => write!(f, "video service: {e}"),
            VideoError::Decode(e) => write!(f, "video service: {e}"),
            VideoError::JobFailed {
                job_id,
                error,
                message,
                failure_code,
            } => {
                write!(f, "video job {job_id} failed")?;
                for part in [error, failure_code, message].into_iter().flatten() {
                    write!(f, ": {part}")?;
                }
                Ok(())
            }
            VideoError::Timeout {
                job_id,
                state,
                progress,
            } => {
                write!(f, "video job {job_id} not finished by the deadline")?;
                if let Some(state) = state {
                    write!(f, " (last state {state}")?;
                    if let Some(p) = progress {
                        write!(f, ", {p}%")?;
                    }
                    f.write_str(")")?;
                }
                Ok(())
            }
            VideoError::NoBlob { job_id } => {
                write!(f, "video job {job_id} completed without a blob")
            }
            VideoError::Invalid(why) => write!(f, "video upload: {why}"),
        }
    }
}

impl std::error::Error for VideoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VideoError::Pds(e) => Some(e),
            VideoError::Service(e) => Some(e),
            _ => None,
        }
    }
}

impl<M: SessionManager> Agent<M> {
    /// Uploads a video through `service` and waits for it to be processed:
    /// the [`Blob`] for a post's `app.bsky.embed.video` (see the
    /// [module docs](crate::video) for the flow).
    ///
    /// The PDS calls (`describeServer`, `getServiceAuth`) carry the agent's
    /// options: call this on an agent without an `atproto-proxy`
    /// ([`Agent::with_proxy`]), or the PDS forwards them elsewhere.
    ///
    /// ```no_run
    /// # async fn f(agent: atmo_client::AtpAgent, bytes: Vec<u8>) -> Result<(), atmo_client::video::VideoError> {
    /// use atmo_client::video::{VideoService, VideoUpload};
    /// let service = VideoService::bluesky().map_err(|e| atmo_client::video::VideoError::Invalid(e.to_string()))?;
    /// let blob = agent.upload_video(&service, bytes, &VideoUpload::new()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upload_video(
        &self,
        service: &VideoService,
        bytes: impl Into<Vec<u8>>,
        options: &VideoUpload,
    ) -> Result<Blob, VideoError> {
        let did = self.did().ok_or(VideoError::NotSignedIn)?;
        let bytes = bytes.into();
        let mime_type = match &options.mime_type {
            Some(m) => m.clone(),
            None => guess_mime_type(&bytes)
                .filter(|m| m.starts_with("video/"))
                .unwrap_or(DEFAULT_VIDEO_MIME_TYPE)
                .to_owned(),
        };
        let audience = match &options.pds_audience {
            Some(did) => did.clone(),
            None => {
                let out = self
                    .call::<describe_server::DescribeServer>((), ())
                    .await
                    .map_err(|e| VideoError::Pds(e.into()))?;
                out.did.as_str().to_owned()
            }
        };
        let exp = SystemTime::now()
            .checked_add(options.token_lifetime)
            .ok_or_else(|| VideoError::Invalid("the token lifetime is too long".into()))?;
        let token = self
            .service_auth(&audience, Some(UPLOAD_BLOB_LXM), Some(exp))
            .await
            .map_err(|e| VideoError::Pds(e.into()))?;
        let name = match &options.name {
            Some(n) => n.clone(),
            None => default_name(&mime_type),
        };
        let first = service
            .upload(
                did.as_str(),
                &name,
                &mime_type,
                bytes,
                &token,
                options.upload_timeout,
            )
            .await?;
        if let Some(blob) = finished(&first)? {
            return Ok(blob);
        }
        service
            .wait_for_job(&first.job_id, options.deadline, options.poll_interval)
            .await
    }

    /// Whether the account may upload now, and how much more today
    /// (`app.bsky.video.getUploadLimits`, with a token from the PDS for the
    /// service's own DID, bound to that method).
    ///
    /// ```no_run
    /// # async fn f(agent: atmo_client::AtpAgent, s: atmo_client::video::VideoService) -> Result<(), atmo_client::video::VideoError> {
    /// let limits = agent.video_upload_limits(&s).await?;
    /// println!("{} videos left today", limits.remaining_daily_videos.unwrap_or(0));
    /// # Ok(()) }
    /// ```
    pub async fn video_upload_limits(
        &self,
        service: &VideoService,
    ) -> Result<get_upload_limits::Output, VideoError> {
        let nsid = get_upload_limits::GetUploadLimits::NSID;
        let exp = SystemTime::now() + Duration::from_secs(30 * 60);
        let token = self
            .service_auth(service.did(), Some(nsid), Some(exp))
            .await
            .map_err(|e| VideoError::Pds(e.into()))?;
        let mut req = XrpcRequest::new(nsid, Method::Query);
        req.accept = Some("application/json".into());
        let answer = service
            .transport
            .send(&service.url, &req, &Bearer(&token))
            .await
            .map_err(VideoError::Service)?;
        get_upload_limits::GetUploadLimits::decode_output(answer.body).map_err(VideoError::Decode)
    }
}

/// A file name for the service: the time in hex and the type's extension.
fn default_name(mime_type: &str) -> String {
    let ext = match mime_type {
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        "video/mpeg" => "mpeg",
        "video/x-matroska" => "mkv",
        "video/3gpp" => "3gp",
        _ => "mp4",
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_extension() {
        assert!(default_name("video/webm").ends_with(".webm"));
        assert!(default_name("application/octet-stream").ends_with(".mp4"));
    }

    #[test]
    fn a_bare_status_is_read() {
        let body =
            br#"{"jobId":"j1","did":"did:plc:abc","state":"JOB_STATE_ENCODING","progress":5}"#;
        let s = bare_job_status(body).unwrap();
        assert_eq!(s.job_id, "j1");
        assert!(bare_job_status(b"{}").is_none());
        assert!(bare_job_status(b"nope").is_none());
    }
}
