//! The resolver: NSID → `_lexicon` TXT → DID → PDS → the schema record
//! with its proof, verified, parsed and checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atmo_identity::net::non_public_host;
use atmo_identity::{DnsError, DnsLookup, Resolver};
use atmo_sync::Cid;
use atmo_types::{Did, Nsid};
use atmo_xrpc::{BoxFuture, HttpClient, HttpMethod, HttpRequest, HttpResponse, ServiceUrl};

use crate::error::{truncate, Error, ErrorKind};
use crate::proof::{
    check_document, record_to_json, verify_record_proof, DEFAULT_MAX_PROOF_SIZE, SCHEMA_COLLECTION,
};

/// Per-request timeout of the PDS requests unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest `listRecords` page read unless configured.
pub const DEFAULT_MAX_LIST_SIZE: usize = 8 << 20;

/// A lexicon document whose proof checked out.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedLexicon {
    /// The NSID, the document's `id`.
    pub nsid: String,
    /// The authority's DID, whose repository holds the record.
    pub did: Did,
    /// `at://<did>/com.atproto.lexicon.schema/<nsid>`.
    pub uri: String,
    /// The record's CID, which the signed commit's tree names.
    pub cid: Cid,
    /// The revision of the commit that proves it.
    pub rev: String,
    /// The record in the data model's JSON form (with its `$type`).
    pub document: serde_json::Value,
}

/// Where resolved lexicons are kept between calls of
/// [`LexiconResolver::resolve`]. A failing store should behave as a miss,
/// never fail a resolution. Only verified documents are stored.
pub trait LexiconCache: Send + Sync + 'static {
    /// The document stored for `nsid`, if any.
    fn get<'a>(&'a self, nsid: &'a str) -> BoxFuture<'a, Option<ResolvedLexicon>>;

    /// Stores a verified document.
    fn put<'a>(&'a self, lexicon: &'a ResolvedLexicon) -> BoxFuture<'a, ()>;
}

/// An in-process [`LexiconCache`] without expiry (for one run of a tool:
/// a long-running process should bring its own). Clones share entries.
#[derive(Clone, Debug, Default)]
pub struct MemoryLexiconCache {
    map: Arc<Mutex<HashMap<String, ResolvedLexicon>>>,
}

impl MemoryLexiconCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of documents held.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LexiconCache for MemoryLexiconCache {
    fn get<'a>(&'a self, nsid: &'a str) -> BoxFuture<'a, Option<ResolvedLexicon>> {
        let found = self.map.lock().ok().and_then(|m| m.get(nsid).cloned());
        Box::pin(async move { found })
    }

    fn put<'a>(&'a self, lexicon: &'a ResolvedLexicon) -> BoxFuture<'a, ()> {
        if let Ok(mut m) = self.map.lock() {
            m.insert(lexicon.nsid.clone(), lexicon.clone());
        }
        Box::pin(async {})
    }
}

/// The domain whose `_lexicon` TXT record names the authority of `nsid`:
/// the NSID without its name segment, reversed (`com.example.feed.post` →
/// `feed.example.com`).
pub fn authority_domain(nsid: &str) -> Result<String, Error> {
    let parsed =
        Nsid::new(nsid).map_err(|e| Error::new(nsid, ErrorKind::InvalidNsid(e.to_string())))?;
    Ok(reverse_domain(parsed.authority()))
}

/// `a.b.c` → `c.b.a`, lowercase (domains are case-insensitive).
pub fn reverse_domain(dotted: &str) -> String {
    let mut parts: Vec<String> = dotted.split('.').map(str::to_ascii_lowercase).collect();
    parts.reverse();
    parts.join(".")
}

/// The DID of the `did=` record among a `_lexicon` name's TXT records:
/// `Ok(None)` when there is none, an error when there are several or the
/// DID is invalid.
pub fn did_from_lexicon_txt(nsid: &str, records: &[String]) -> Result<Option<Did>, Error> {
    let found: Vec<&str> = records
        .iter()
        .filter_map(|r| r.strip_prefix("did="))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Did::new(one.trim()).map(Some).map_err(|e| {
            Error::new(
                nsid,
                ErrorKind::Dns(format!(
                    "the TXT record names an invalid DID {:?}: {e}",
                    truncate(one.trim().to_owned(), 200)
                )),
            )
        }),
        more => Err(Error::new(
            nsid,
            ErrorKind::Dns(format!(
                "{} did= TXT records; exactly one is allowed",
                more.len()
            )),
        )),
    }
}

/// Resolves and verifies lexicon documents. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct LexiconResolver {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Resolver,
    dns: Arc<dyn DnsLookup>,
    http: Arc<dyn HttpClient>,
    timeout: Duration,
    max_proof_size: usize,
    max_list_size: usize,
    allow_private: bool,
    allow_insecure_http: bool,
    cache: Option<Arc<dyn LexiconCache>>,
}

impl std::fmt::Debug for LexiconResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LexiconResolver")
            .field("identity", &self.inner.identity)
            .field("timeout", &self.inner.timeout)
            .field("allow_private", &self.inner.allow_private)
            .field("cached", &self.inner.cache.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`LexiconResolver`]; see [`LexiconResolver::builder`].
pub struct LexiconResolverBuilder {
    identity: Resolver,
    dns: Arc<dyn DnsLookup>,
    http: Arc<dyn HttpClient>,
    timeout: Duration,
    max_proof_size: usize,
    max_list_size: usize,
    allow_private: bool,
    allow_insecure_http: bool,
    cache: Option<Arc<dyn LexiconCache>>,
}

impl LexiconResolverBuilder {
    /// Timeout of each PDS request (default 10 s). DNS lookups are bounded
    /// by the [`DnsLookup`], DID resolution by the identity resolver.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest proof CAR accepted (default 2 MiB).
    pub fn max_proof_size(mut self, bytes: usize) -> Self {
        self.max_proof_size = bytes;
        self
    }

    /// Largest `listRecords` page accepted (default 8 MiB).
    pub fn max_list_size(mut self, bytes: usize) -> Self {
        self.max_list_size = bytes;
        self
    }

    /// Let PDS endpoints be private, loopback or link-local hosts (default
    /// off; the identity resolver has its own setting for DID documents).
    pub fn allow_private_hosts(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Let PDS endpoints be plain `http` to non-loopback hosts (default
    /// off; loopback may always be plain `http` when private hosts are
    /// allowed).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Caches verified documents in `cache` (default: none).
    pub fn cache(mut self, cache: Arc<dyn LexiconCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The resolver.
    pub fn build(self) -> LexiconResolver {
        LexiconResolver {
            inner: Arc::new(Inner {
                identity: self.identity,
                dns: self.dns,
                http: self.http,
                timeout: self.timeout,
                max_proof_size: self.max_proof_size,
                max_list_size: self.max_list_size,
                allow_private: self.allow_private,
                allow_insecure_http: self.allow_insecure_http,
                cache: self.cache,
            }),
        }
    }
}

/// A PDS's identity as resolution needs it.
struct Authority {
    did: Did,
    pds: ServiceUrl,
    key: atmo_crypto::PublicKey,
}

impl LexiconResolver {
    /// A builder: `identity` resolves DIDs to documents (with its timeouts,
    /// size caps, host policy and cache), `dns` answers `_lexicon` TXT
    /// lookups, `http` talks to the PDS.
    pub fn builder(
        identity: Resolver,
        dns: Arc<dyn DnsLookup>,
        http: Arc<dyn HttpClient>,
    ) -> LexiconResolverBuilder {
        LexiconResolverBuilder {
            identity,
            dns,
            http,
            timeout: DEFAULT_TIMEOUT,
            max_proof_size: DEFAULT_MAX_PROOF_SIZE,
            max_list_size: DEFAULT_MAX_LIST_SIZE,
            allow_private: false,
            allow_insecure_http: false,
            cache: None,
        }
    }

    /// NSID → the DID of its authority, from the TXT record
    /// `_lexicon.<authority domain>` (no recursion to parent domains).
    pub async fn authority(&self, nsid: &str) -> Result<Did, Error> {
        let domain = authority_domain(nsid)?;
        self.authority_of_domain(nsid, &domain).await
    }

    /// The DID named by `_lexicon.<domain>`; errors name `nsid`.
    pub async fn authority_of_domain(&self, nsid: &str, domain: &str) -> Result<Did, Error> {
        let name = format!("_lexicon.{domain}");
        match self.inner.dns.lookup_txt(&name).await {
            Ok(records) => did_from_lexicon_txt(nsid, &records)?
                .ok_or_else(|| Error::new(nsid, ErrorKind::NoAuthorityRecord { name })),
            Err(DnsError::NotFound) => Err(Error::new(nsid, ErrorKind::NoAuthorityRecord { name })),
            Err(DnsError::Failed(why)) => Err(Error::new(
                nsid,
                ErrorKind::Dns(format!("looking up {name}: {why}")),
            )),
        }
    }

    /// NSID → its verified document: the cached one when a cache is set
    /// and holds it, else [`Self::authority`] then [`Self::fetch_from`].
    pub async fn resolve(&self, nsid: &str) -> Result<ResolvedLexicon, Error> {
        if let Some(cache) = &self.inner.cache {
            if let Some(found) = cache.get(nsid).await {
                return Ok(found);
            }
        }
        let did = self.authority(nsid).await?;
        self.fetch_from(nsid, did.as_str()).await
    }

    /// The schema record for `nsid` from the repository of `did` (known
    /// from a manifest, or from [`Self::authority`]), verified: DID
    /// document → PDS and `#atproto` key → `com.atproto.sync.getRecord` →
    /// commit signature, tree path, record CID → document shape and `id`.
    /// Stores the result in the cache, if any.
    pub async fn fetch_from(&self, nsid: &str, did: &str) -> Result<ResolvedLexicon, Error> {
        Nsid::new(nsid).map_err(|e| Error::new(nsid, ErrorKind::InvalidNsid(e.to_string())))?;
        let authority = self.authority_of_did(nsid, did).await?;
        let url = authority.pds.xrpc_url(
            "com.atproto.sync.getRecord",
            &[
                ("did".into(), authority.did.as_str().to_owned()),
                ("collection".into(), SCHEMA_COLLECTION.to_owned()),
                ("rkey".into(), nsid.to_owned()),
            ],
        );
        let response = self
            .get(
                nsid,
                url,
                "application/vnd.ipld.car",
                self.inner.max_proof_size,
            )
            .await?;
        if response.status != 200 {
            return Err(self.status_error(nsid, &authority.did, &response));
        }
        let verified = verify_record_proof(
            &response.body,
            authority.did.as_str(),
            &authority.key,
            SCHEMA_COLLECTION,
            nsid,
        )
        .map_err(|k| Error::new(nsid, k))?;
        let document = record_to_json(&verified.bytes).map_err(|k| Error::new(nsid, k))?;
        check_document(nsid, &document).map_err(|k| Error::new(nsid, k))?;
        let resolved = ResolvedLexicon {
            nsid: nsid.to_owned(),
            uri: format!("at://{}/{SCHEMA_COLLECTION}/{nsid}", authority.did.as_str()),
            did: authority.did,
            cid: verified.cid,
            rev: verified.rev,
            document,
        };
        if let Some(cache) = &self.inner.cache {
            cache.put(&resolved).await;
        }
        Ok(resolved)
    }

    /// The NSIDs of every schema record in the repository of `did`
    /// (`com.atproto.repo.listRecords`, all pages), sorted. These are only
    /// names: fetch each with [`Self::fetch_from`] to get it verified.
    /// Errors name `context` (the pattern being expanded).
    pub async fn list(&self, context: &str, did: &str) -> Result<Vec<String>, Error> {
        let authority = self.authority_of_did(context, did).await?;
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        // A bound on pages, so a PDS that always returns a cursor cannot
        // keep us forever.
        for _ in 0..1000 {
            let mut query = vec![
                ("repo".to_owned(), authority.did.as_str().to_owned()),
                ("collection".to_owned(), SCHEMA_COLLECTION.to_owned()),
                ("limit".to_owned(), "100".to_owned()),
            ];
            if let Some(c) = &cursor {
                query.push(("cursor".to_owned(), c.clone()));
            }
            let url = authority
                .pds
                .xrpc_url("com.atproto.repo.listRecords", &query);
            let response = self
                .get(context, url, "application/json", self.inner.max_list_size)
                .await?;
            if response.status != 200 {
                return Err(self.status_error(context, &authority.did, &response));
            }
            let bad =
                |why: &str| Error::new(context, ErrorKind::Fetch(format!("listRecords: {why}")));
            let body: serde_json::Value =
                serde_json::from_slice(&response.body).map_err(|e| bad(&e.to_string()))?;
            let records = body
                .get("records")
                .and_then(serde_json::Value::as_array)
                .ok_or_else(|| bad("no \"records\" array"))?;
            for r in records {
                let uri = r
                    .get("uri")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| bad("a record without \"uri\""))?;
                let rkey = uri.rsplit('/').next().unwrap_or_default();
                if Nsid::new(rkey).is_ok() {
                    out.push(rkey.to_owned());
                }
            }
            let next = body
                .get("cursor")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            if records.is_empty() || next.is_none() || next == cursor {
                break;
            }
            cursor = next;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn authority_of_did(&self, nsid: &str, did: &str) -> Result<Authority, Error> {
        let document = self
            .inner
            .identity
            .resolve_did(did)
            .await
            .map_err(|e| Error::new(nsid, ErrorKind::Did(e)))?;
        let pds_err = |why: String| Error::new(nsid, ErrorKind::Pds(why));
        let pds = document
            .pds()
            .map_err(|e| pds_err(format!("the DID document of {did}: {e}")))?;
        let key = document
            .signing_key()
            .map_err(|e| pds_err(format!("the DID document of {did}: {e}")))?;
        if pds.scheme() == "http" && !self.inner.allow_insecure_http && !pds.is_loopback() {
            return Err(pds_err(format!("refused: the PDS {pds} is plain http")));
        }
        if !self.inner.allow_private {
            if let Some(why) = non_public_host(pds.host()) {
                return Err(pds_err(format!(
                    "refused: the PDS host {} is {why}",
                    pds.host()
                )));
            }
        }
        Ok(Authority {
            did: document.id().clone(),
            pds,
            key,
        })
    }

    async fn get(
        &self,
        nsid: &str,
        url: String,
        accept: &str,
        limit: usize,
    ) -> Result<HttpResponse, Error> {
        let request = HttpRequest {
            method: HttpMethod::Get,
            url: url.clone(),
            headers: vec![("accept".into(), accept.into())],
            body: None,
            timeout: self.inner.timeout,
            max_response_size: limit,
        };
        self.inner
            .http
            .send(request)
            .await
            .map_err(|e| Error::new(nsid, ErrorKind::Fetch(format!("{url}: {e}"))))
    }

    fn status_error(&self, nsid: &str, did: &Did, response: &HttpResponse) -> Error {
        let error_name = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str().map(str::to_owned)));
        let not_found = matches!(
            error_name.as_deref(),
            Some("RecordNotFound" | "RepoNotFound")
        ) || response.status == 404;
        if not_found {
            return Error::new(
                nsid,
                ErrorKind::RecordNotFound {
                    did: did.as_str().to_owned(),
                },
            );
        }
        Error::new(
            nsid,
            ErrorKind::Fetch(format!(
                "HTTP status {}{}",
                response.status,
                error_name
                    .map(|e| format!(" ({})", truncate(e, 100)))
                    .unwrap_or_default()
            )),
        )
    }
}
