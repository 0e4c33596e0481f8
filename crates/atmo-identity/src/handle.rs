//! Handle → DID: the three ways of asking, behind [`HandleResolver`].

use std::sync::Arc;

use atmo_types::{Did, Handle};
use atmo_xrpc::{BoxFuture, ServiceUrl};

use crate::dns::{DnsError, DnsLookup};
use crate::error::{Error, ErrorKind, Step};
use crate::net::{is_too_large, Net, Target};
use crate::parse;

/// One way of resolving a handle to a DID.
///
/// `Ok(Some(did))` is an answer, `Ok(None)` a definite "this way knows no
/// DID for it" (no `did=` record, HTTP 404, `HandleNotFound`), `Err` a
/// failure. The handle arrives checked and lower-case.
pub trait HandleResolver: Send + Sync + 'static {
    /// The step this resolver reports in errors.
    fn step(&self) -> Step;

    /// Resolves `handle`.
    fn resolve<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, Result<Option<Did>, Error>>;
}

/// The DNS TXT record `_atproto.<handle>`, `did=<DID>`.
#[derive(Clone)]
pub struct DnsTxtResolver {
    dns: Arc<dyn DnsLookup>,
}

impl DnsTxtResolver {
    /// Resolves through `dns`.
    pub fn new(dns: Arc<dyn DnsLookup>) -> Self {
        DnsTxtResolver { dns }
    }
}

impl HandleResolver for DnsTxtResolver {
    fn step(&self) -> Step {
        Step::Dns
    }

    fn resolve<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, Result<Option<Did>, Error>> {
        Box::pin(async move {
            let name = format!("_atproto.{}", handle.as_str());
            match self.dns.lookup_txt(&name).await {
                Ok(records) => parse::did_from_txt_records(handle, &records),
                Err(DnsError::NotFound) => Ok(None),
                Err(DnsError::Failed(why)) => {
                    Err(Error::new(Step::Dns, handle.as_str(), ErrorKind::Dns(why)))
                }
            }
        })
    }
}

/// `GET https://<handle>/.well-known/atproto-did`, a DID as plain text.
#[derive(Clone)]
pub struct WellKnownResolver {
    net: Net,
}

impl WellKnownResolver {
    pub(crate) fn new(net: Net) -> Self {
        WellKnownResolver { net }
    }
}

impl HandleResolver for WellKnownResolver {
    fn step(&self) -> Step {
        Step::WellKnown
    }

    fn resolve<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, Result<Option<Did>, Error>> {
        Box::pin(async move {
            let host = handle.as_str();
            let url = format!(
                "{}://{host}/.well-known/atproto-did",
                self.net.scheme_for(host)
            );
            let response = self
                .net
                .get(
                    Step::WellKnown,
                    host,
                    url,
                    "text/plain",
                    parse::MAX_WELL_KNOWN_BODY,
                    Target::UserHost,
                )
                .await
                .map_err(|e| {
                    if is_too_large(&e) {
                        Error::new(
                            Step::WellKnown,
                            host,
                            ErrorKind::BadAnswer(format!(
                                "the body is larger than {} bytes",
                                parse::MAX_WELL_KNOWN_BODY
                            )),
                        )
                    } else {
                        e
                    }
                })?;
            match response.status {
                200 => parse::did_from_well_known(handle, &response.body).map(Some),
                404 | 410 => Ok(None),
                s => Err(Error::new(Step::WellKnown, host, ErrorKind::Status(s))),
            }
        })
    }
}

/// `com.atproto.identity.resolveHandle` against a chosen service (a PDS or
/// an AppView): how `.test` handles of a local PDS resolve, and what apps
/// that trust their service use.
#[derive(Clone)]
pub struct XrpcHandleResolver {
    net: Net,
    service: ServiceUrl,
}

impl XrpcHandleResolver {
    pub(crate) fn new(net: Net, service: ServiceUrl) -> Self {
        XrpcHandleResolver { net, service }
    }

    /// The service asked.
    pub fn service(&self) -> &ServiceUrl {
        &self.service
    }
}

/// Largest `resolveHandle` answer read.
const MAX_XRPC_BODY: usize = 16 * 1024;

impl HandleResolver for XrpcHandleResolver {
    fn step(&self) -> Step {
        Step::ResolveHandle
    }

    fn resolve<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, Result<Option<Did>, Error>> {
        Box::pin(async move {
            let id = handle.as_str();
            let url = self.service.xrpc_url(
                "com.atproto.identity.resolveHandle",
                &[("handle".to_owned(), id.to_owned())],
            );
            let r = self
                .net
                .get(
                    Step::ResolveHandle,
                    id,
                    url,
                    "application/json",
                    MAX_XRPC_BODY,
                    Target::Configured,
                )
                .await
                .map_err(|e| {
                    // Too large is an answer of the wrong form, not a
                    // network trouble worth retrying.
                    if is_too_large(&e) {
                        Error::new(
                            Step::ResolveHandle,
                            id,
                            ErrorKind::BadAnswer(format!(
                                "the answer is larger than {MAX_XRPC_BODY} bytes"
                            )),
                        )
                    } else {
                        e
                    }
                })?;
            let bad = |why: String| Error::new(Step::ResolveHandle, id, ErrorKind::BadAnswer(why));
            let json: Option<serde_json::Value> = serde_json::from_slice(&r.body).ok();
            match r.status {
                200 => {
                    let did = json
                        .as_ref()
                        .and_then(|j| j.get("did"))
                        .and_then(|d| d.as_str())
                        .ok_or_else(|| bad("the answer has no \"did\" string".into()))?;
                    parse::did_answer(Step::ResolveHandle, handle, did).map(Some)
                }
                400 | 404
                    if r.status == 404
                        || json
                            .as_ref()
                            .and_then(|j| j.get("error"))
                            .and_then(|e| e.as_str())
                            .is_some_and(|e| e == "HandleNotFound" || e == "NotFound")
                        || json
                            .as_ref()
                            .and_then(|j| j.get("message"))
                            .and_then(|e| e.as_str())
                            .is_some_and(|m| m.contains("Unable to resolve handle")) =>
                {
                    Ok(None)
                }
                s => Err(Error::new(Step::ResolveHandle, id, ErrorKind::Status(s))),
            }
        })
    }
}
