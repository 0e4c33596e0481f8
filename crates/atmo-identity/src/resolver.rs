//! The resolver: handle → DID → document → [`Identity`], with caching.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use atmo_crypto::PublicKey;
use atmo_types::{Did, Handle};
use atmo_xrpc::{check_url, BoxFuture, HttpClient, ServiceUrl};

use crate::cache::{CacheKey, CacheValue, IdentityCache, MemoryCache};
use crate::dns::DnsLookup;
use crate::document::DidDocument;
use crate::error::{Error, ErrorKind, Step};
use crate::handle::{DnsTxtResolver, HandleResolver, WellKnownResolver, XrpcHandleResolver};
use crate::net::{is_too_large, non_public_host, Net, Target};
use crate::parse::{self, DidMethod};

/// The PLC directory used unless another is configured.
pub const DEFAULT_PLC_URL: &str = "https://plc.directory";
/// Per-request timeout unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest per-request timeout: a longer one is cut to this, so that HTTP
/// clients that add the timeout to the clock never overflow (and a lookup
/// never waits days).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Largest DID document read unless configured.
pub const DEFAULT_MAX_DOCUMENT_SIZE: usize = 64 * 1024;
/// How long found answers are cached unless configured.
pub const DEFAULT_POSITIVE_TTL: Duration = Duration::from_secs(60 * 60);
/// How long "not found" answers are cached unless configured.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(5 * 60);

/// A handle as an identity shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandleStatus {
    /// The document claims the handle and the handle resolves to the DID.
    Verified(Handle),
    /// The document claims the handle, but it does not resolve to the DID
    /// (or could not be resolved): apps show `handle.invalid`.
    Unverified(Handle),
    /// The document claims no (valid) handle.
    Missing,
}

impl HandleStatus {
    /// The handle when verified.
    pub fn verified(&self) -> Option<&Handle> {
        match self {
            HandleStatus::Verified(h) => Some(h),
            _ => None,
        }
    }

    /// The handle the document claims, verified or not.
    pub fn claimed(&self) -> Option<&Handle> {
        match self {
            HandleStatus::Verified(h) | HandleStatus::Unverified(h) => Some(h),
            HandleStatus::Missing => None,
        }
    }

    /// What to show: the verified handle, else `handle.invalid`.
    pub fn display(&self) -> &str {
        self.verified().map_or("handle.invalid", Handle::as_str)
    }
}

/// Everything atproto needs to know about an account.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    /// The account's DID.
    pub did: Did,
    /// Its handle, checked both ways.
    pub handle: HandleStatus,
    /// Its PDS (the `#atproto_pds` service).
    pub pds: ServiceUrl,
    /// Its signing key (the `#atproto` verification method).
    pub signing_key: PublicKey,
    /// The whole DID document.
    pub document: Arc<DidDocument>,
}

/// Resolves handles and DIDs. Cheap to clone (clones share the HTTP client,
/// the resolvers and the cache); `Send + Sync`.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
    fresh: bool,
}

struct Inner {
    net: Net,
    plc: ServiceUrl,
    handle_resolvers: Vec<Arc<dyn HandleResolver>>,
    cache: Option<Arc<dyn IdentityCache>>,
    positive_ttl: Duration,
    negative_ttl: Duration,
    max_document_size: usize,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let steps: Vec<Step> = self
            .inner
            .handle_resolvers
            .iter()
            .map(|r| r.step())
            .collect();
        f.debug_struct("Resolver")
            .field("plc", &self.inner.plc)
            .field("handle_resolvers", &steps)
            .field("cached", &self.inner.cache.is_some())
            .field("fresh", &self.fresh)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Resolver`]; see [`Resolver::builder`].
pub struct ResolverBuilder {
    http: Arc<dyn HttpClient>,
    plc: String,
    timeout: Duration,
    max_document_size: usize,
    allow_private: bool,
    allow_http_loopback: bool,
    allow_insecure_http: bool,
    dns: Option<Arc<dyn DnsLookup>>,
    dns_txt: bool,
    well_known: bool,
    resolve_handle_services: Vec<String>,
    extra: Vec<Arc<dyn HandleResolver>>,
    cache: Option<Arc<dyn IdentityCache>>,
    positive_ttl: Duration,
    negative_ttl: Duration,
}

impl ResolverBuilder {
    /// The PLC directory for `did:plc` (default `https://plc.directory`).
    /// Plain `http` only to loopback unless [`Self::allow_insecure_http`].
    pub fn plc_url(mut self, url: impl Into<String>) -> Self {
        self.plc = url.into();
        self
    }

    /// Timeout of each request (default 5 s; at most [`MAX_TIMEOUT`],
    /// longer ones are cut to it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// Largest DID document accepted (default 64 KiB).
    pub fn max_document_size(mut self, bytes: usize) -> Self {
        self.max_document_size = bytes;
        self
    }

    /// Let `did:web` and well-known lookups (and PDS endpoints) reach
    /// private, loopback and link-local hosts (default off: a server that
    /// resolves handles for anyone must not reach its internal network).
    pub fn allow_private_hosts(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Use plain `http` for `did:web` and well-known lookups of loopback
    /// hosts (`did:web:localhost%3A8080`): for development servers without
    /// TLS. Needs [`Self::allow_private_hosts`] too. Default off.
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.allow_http_loopback = allow;
        self
    }

    /// Allow plain `http` to non-loopback hosts for the services the
    /// application configures (PLC directory, `resolveHandle` service) and
    /// PDS endpoints. Default off.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Use `dns` for TXT lookups (and to check the addresses of user-given
    /// hosts). Turns the DNS handle resolver on.
    pub fn dns(mut self, dns: Arc<dyn DnsLookup>) -> Self {
        self.dns = Some(dns);
        self.dns_txt = true;
        self
    }

    /// The system's DNS resolver (feature `dns`, hickory-resolver).
    #[cfg(feature = "dns")]
    pub fn system_dns(self) -> Result<Self, crate::dns::DnsError> {
        let dns = crate::dns::SystemDns::from_system()?;
        Ok(self.dns(Arc::new(dns)))
    }

    /// Whether to ask DNS TXT records when a [`DnsLookup`] is set (default
    /// on).
    pub fn dns_txt(mut self, on: bool) -> Self {
        self.dns_txt = on;
        self
    }

    /// Whether to ask `https://<handle>/.well-known/atproto-did` (default on).
    pub fn well_known(mut self, on: bool) -> Self {
        self.well_known = on;
        self
    }

    /// Also ask `com.atproto.identity.resolveHandle` of `service` (a PDS or
    /// AppView URL).
    pub fn resolve_handle_via(mut self, service: impl Into<String>) -> Self {
        self.resolve_handle_services.push(service.into());
        self
    }

    /// Adds a handle resolver of the application's own.
    pub fn handle_resolver(mut self, resolver: Arc<dyn HandleResolver>) -> Self {
        self.extra.push(resolver);
        self
    }

    /// Caches in `cache` instead of a fresh [`MemoryCache`].
    pub fn cache(mut self, cache: Arc<dyn IdentityCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// No cache at all.
    pub fn no_cache(mut self) -> Self {
        self.cache = None;
        self.positive_ttl = Duration::ZERO;
        self
    }

    /// How long found answers are kept (default 1 h) and "not found"
    /// answers (default 5 min). Any duration is accepted: one past what the
    /// clock can hold means "for as long as the process runs".
    pub fn ttl(mut self, positive: Duration, negative: Duration) -> Self {
        self.positive_ttl = positive;
        self.negative_ttl = negative;
        self
    }

    /// The resolver; fails when a URL is invalid or refused, or no handle
    /// resolver is left.
    pub fn build(self) -> Result<Resolver, Error> {
        let url_err = |url: &str, e: atmo_xrpc::UrlError| {
            Error::new(Step::Syntax, url, ErrorKind::Refused(e.to_string()))
        };
        let plc =
            check_url(&self.plc, self.allow_insecure_http).map_err(|e| url_err(&self.plc, e))?;
        let net = Net {
            http: self.http,
            timeout: self.timeout,
            max_response_size: self.max_document_size.max(parse::MAX_WELL_KNOWN_BODY),
            allow_private: self.allow_private,
            allow_http_loopback: self.allow_http_loopback,
            allow_insecure_http: self.allow_insecure_http,
            dns: self.dns.clone(),
        };
        let mut handle_resolvers: Vec<Arc<dyn HandleResolver>> = Vec::new();
        if let (true, Some(dns)) = (self.dns_txt, &self.dns) {
            handle_resolvers.push(Arc::new(DnsTxtResolver::new(dns.clone())));
        }
        if self.well_known {
            handle_resolvers.push(Arc::new(WellKnownResolver::new(net.clone())));
        }
        for s in &self.resolve_handle_services {
            let url = check_url(s, self.allow_insecure_http).map_err(|e| url_err(s, e))?;
            handle_resolvers.push(Arc::new(XrpcHandleResolver::new(net.clone(), url)));
        }
        handle_resolvers.extend(self.extra);
        if handle_resolvers.is_empty() {
            return Err(Error::new(
                Step::Syntax,
                "resolver",
                ErrorKind::Refused("no handle resolver is configured".into()),
            ));
        }
        let cache = self
            .cache
            .filter(|_| !self.positive_ttl.is_zero() || !self.negative_ttl.is_zero());
        Ok(Resolver {
            inner: Arc::new(Inner {
                net,
                plc,
                handle_resolvers,
                cache,
                positive_ttl: self.positive_ttl,
                negative_ttl: self.negative_ttl,
                max_document_size: self.max_document_size,
            }),
            fresh: false,
        })
    }
}

impl Resolver {
    /// A builder sending requests through `http`. Defaults: PLC directory
    /// `https://plc.directory`, well-known handle resolution (plus DNS when
    /// [`ResolverBuilder::dns`] or `system_dns` is used), a [`MemoryCache`]
    /// (1 h for answers, 5 min for "not found"), 5 s timeouts, 64 KiB
    /// documents, no private hosts, no plain http except to a loopback PLC
    /// or `resolveHandle` service.
    pub fn builder(http: Arc<dyn HttpClient>) -> ResolverBuilder {
        ResolverBuilder {
            http,
            plc: DEFAULT_PLC_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            max_document_size: DEFAULT_MAX_DOCUMENT_SIZE,
            allow_private: false,
            allow_http_loopback: false,
            allow_insecure_http: false,
            dns: None,
            dns_txt: true,
            well_known: true,
            resolve_handle_services: Vec::new(),
            extra: Vec::new(),
            cache: Some(Arc::new(MemoryCache::new())),
            positive_ttl: DEFAULT_POSITIVE_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
        }
    }

    /// A resolver that skips cached answers (and stores what it finds): for
    /// when an answer is known to be stale, e.g. after a login failed at the
    /// PDS the cache named.
    pub fn fresh(&self) -> Resolver {
        Resolver {
            inner: self.inner.clone(),
            fresh: true,
        }
    }

    /// The PLC directory used.
    pub fn plc_url(&self) -> &ServiceUrl {
        &self.inner.plc
    }

    async fn cached(&self, key: &CacheKey) -> Option<CacheValue> {
        if self.fresh {
            return None;
        }
        self.inner.cache.as_ref()?.get(key).await
    }

    async fn store(&self, key: CacheKey, value: CacheValue) {
        let Some(cache) = &self.inner.cache else {
            return;
        };
        let ttl = if value == CacheValue::NotFound {
            self.inner.negative_ttl
        } else {
            self.inner.positive_ttl
        };
        if !ttl.is_zero() {
            cache.put(key, value, ttl).await;
        }
    }

    /// Handle → DID. The handle is normalized (lower case, an `@` in front
    /// tolerated) and checked before any network call; every configured
    /// handle resolver is asked at once. Resolvers that answer must agree
    /// (two different DIDs are [`ErrorKind::Conflict`]); one answer is
    /// enough when the others fail or know nothing.
    pub async fn resolve_handle(&self, handle: &str) -> Result<Did, Error> {
        let handle = parse::normalize_handle(handle)?;
        self.resolve_normalized_handle(&handle).await
    }

    async fn resolve_normalized_handle(&self, handle: &Handle) -> Result<Did, Error> {
        let key = CacheKey::Handle(handle.clone());
        match self.cached(&key).await {
            Some(CacheValue::Did(did)) => return Ok(did),
            Some(CacheValue::NotFound) => {
                return Err(Error::new(
                    Step::Handle,
                    handle.as_str(),
                    ErrorKind::NotFound,
                ))
            }
            _ => {}
        }
        let result = self.ask_handle_resolvers(handle).await;
        match &result {
            Ok(did) => self.store(key, CacheValue::Did(did.clone())).await,
            Err(e) if e.is_not_found() => self.store(key, CacheValue::NotFound).await,
            Err(_) => {}
        }
        result
    }

    async fn ask_handle_resolvers(&self, handle: &Handle) -> Result<Did, Error> {
        let resolvers = &self.inner.handle_resolvers;
        let results = join_all(resolvers.iter().map(|r| r.resolve(handle)).collect()).await;
        let mut answers: Vec<(Step, Did)> = Vec::new();
        let mut failures: Vec<Error> = Vec::new();
        for (resolver, result) in resolvers.iter().zip(results) {
            let step = resolver.step();
            match result {
                Ok(Some(did)) => answers.push((step, did)),
                Ok(None) => failures.push(Error::new(step, handle.as_str(), ErrorKind::NotFound)),
                Err(e) => failures.push(e),
            }
        }
        if let Some((_, first)) = answers.first() {
            if answers.iter().any(|(_, d)| d != first) {
                return Err(Error::new(
                    Step::Handle,
                    handle.as_str(),
                    ErrorKind::Conflict(
                        answers
                            .iter()
                            .map(|(s, d)| (*s, d.as_str().to_owned()))
                            .collect(),
                    ),
                ));
            }
            return Ok(first.clone());
        }
        if failures.len() == 1 {
            if let Some(e) = failures.pop() {
                return Err(e);
            }
        }
        Err(Error::new(
            Step::Handle,
            handle.as_str(),
            ErrorKind::AllFailed(failures),
        ))
    }

    /// DID → document: `did:plc` from the PLC directory, `did:web` from
    /// `https://<host>/.well-known/did.json`. The document's `id` must be
    /// the DID asked for.
    pub async fn resolve_did(&self, did: &str) -> Result<Arc<DidDocument>, Error> {
        let (did, method) = parse::parse_did(did)?;
        self.resolve_parsed_did(&did, &method).await
    }

    async fn resolve_parsed_did(
        &self,
        did: &Did,
        method: &DidMethod,
    ) -> Result<Arc<DidDocument>, Error> {
        let key = CacheKey::Did(did.clone());
        match self.cached(&key).await {
            Some(CacheValue::Document(doc)) => return Ok(doc),
            Some(CacheValue::NotFound) => {
                return Err(Error::new(
                    step_of(method),
                    did.as_str(),
                    ErrorKind::NotFound,
                ))
            }
            _ => {}
        }
        let result = self.fetch_document(did, method).await.map(Arc::new);
        match &result {
            Ok(doc) => self.store(key, CacheValue::Document(doc.clone())).await,
            Err(e) if e.is_not_found() => self.store(key, CacheValue::NotFound).await,
            Err(_) => {}
        }
        result
    }

    async fn fetch_document(&self, did: &Did, method: &DidMethod) -> Result<DidDocument, Error> {
        let step = step_of(method);
        let id = did.as_str();
        let (url, target) = match method {
            DidMethod::Plc => (
                format!("{}{}", self.inner.plc.as_str(), id),
                Target::Configured,
            ),
            DidMethod::Web(host) => (
                format!(
                    "{}://{host}/.well-known/did.json",
                    self.inner.net.scheme_for(host)
                ),
                Target::UserHost,
            ),
        };
        let limit = self.inner.max_document_size;
        let response = self
            .inner
            .net
            .get(
                step,
                id,
                url,
                "application/did+ld+json, application/json",
                limit,
                target,
            )
            .await
            .map_err(|e| {
                if is_too_large(&e) {
                    Error::new(
                        step,
                        id,
                        ErrorKind::BadAnswer(format!("the document is larger than {limit} bytes")),
                    )
                } else {
                    e
                }
            })?;
        match response.status {
            200 => {}
            404 | 410 => return Err(Error::new(step, id, ErrorKind::NotFound)),
            s => return Err(Error::new(step, id, ErrorKind::Status(s))),
        }
        let doc = DidDocument::parse(&response.body)
            .map_err(|e| Error::new(Step::Document, id, ErrorKind::Document(e)))?;
        if doc.id() != did {
            return Err(Error::new(
                Step::Document,
                id,
                ErrorKind::WrongDocument(crate::truncate(doc.id().as_str().to_owned(), 200)),
            ));
        }
        Ok(doc)
    }

    /// A handle or a DID → [`Identity`]: the DID, its document's PDS and
    /// signing key, and the handle the document claims, verified by
    /// resolving it back to the DID.
    ///
    /// Starting from a handle, that handle must resolve (or this fails); the
    /// identity's handle is then the one the document claims, which is the
    /// same one when all is well.
    pub async fn resolve_identity(&self, identifier: &str) -> Result<Identity, Error> {
        let trimmed = identifier.strip_prefix("at://").unwrap_or(identifier);
        let (did, input_handle) = if trimmed.starts_with("did:") {
            let (did, _) = parse::parse_did(trimmed)?;
            (did, None)
        } else {
            let handle = parse::normalize_handle(trimmed)?;
            let did = self.resolve_normalized_handle(&handle).await?;
            (did, Some(handle))
        };
        let method = parse::did_method(&did)?;
        let document = self.resolve_parsed_did(&did, &method).await?;
        let doc_err = |e| Error::new(Step::Document, did.as_str(), ErrorKind::Document(e));
        let pds = document.pds().map_err(doc_err)?;
        self.check_pds(&did, &pds).await?;
        let signing_key = document.signing_key().map_err(doc_err)?;
        let handle = match document.handle() {
            None => HandleStatus::Missing,
            Some(claimed) if Some(&claimed) == input_handle.as_ref() => {
                HandleStatus::Verified(claimed)
            }
            Some(claimed) => {
                // Reserved or malformed claims are unverified, not errors.
                let verified = match parse::normalize_handle(claimed.as_str()) {
                    Ok(h) => self
                        .resolve_normalized_handle(&h)
                        .await
                        .is_ok_and(|d| d == did),
                    Err(_) => false,
                };
                if verified {
                    HandleStatus::Verified(claimed)
                } else {
                    HandleStatus::Unverified(claimed)
                }
            }
        };
        Ok(Identity {
            did,
            handle,
            pds,
            signing_key,
            document,
        })
    }

    /// PDS endpoints come from documents anyone can write: plain http only
    /// to loopback (or when insecure http is allowed), and no private hosts
    /// unless allowed. With a [`DnsLookup`], the host's addresses are
    /// checked too (a lookup that fails is left to whoever connects).
    async fn check_pds(&self, did: &Did, pds: &ServiceUrl) -> Result<(), Error> {
        let net = &self.inner.net;
        let refused =
            |why: String| Error::new(Step::Document, did.as_str(), ErrorKind::Refused(why));
        if pds.scheme() == "http" && !net.allow_insecure_http && !pds.is_loopback() {
            return Err(refused(format!("the PDS {pds} is plain http")));
        }
        if !net.allow_private {
            let host = pds.host();
            if let Some(why) = non_public_host(host) {
                return Err(refused(format!("the PDS host {host} is {why}")));
            }
            if let Some(dns) = &net.dns {
                if let Ok(ips) = dns.lookup_ip(host.trim_end_matches('.')).await {
                    if let Some((ip, why)) = ips
                        .iter()
                        .find_map(|ip| Some((ip, crate::net::non_public_ip(*ip)?)))
                    {
                        return Err(refused(format!(
                            "the PDS host {host} resolves to {ip}, {why}"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

fn step_of(method: &DidMethod) -> Step {
    match method {
        DidMethod::Plc => Step::Plc,
        DidMethod::Web(_) => Step::DidWeb,
    }
}

/// Runs `futures` concurrently; their outputs in order.
async fn join_all<'a, T>(futures: Vec<BoxFuture<'a, T>>) -> Vec<T> {
    let mut pending: Vec<Option<Pin<Box<dyn Future<Output = T> + Send + 'a>>>> =
        futures.into_iter().map(Some).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}
