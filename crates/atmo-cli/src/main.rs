//! `atproto`: a command-line tool over this workspace's crates.
//!
//! ```text
//! atproto resolve <handle|did>
//! atproto repo export <handle|did> [-o FILE.car]
//! atproto repo ls <FILE.car>
//! atproto cbor <FILE>
//! atproto firehose [--service URL] [--cursor N] [--collection NSID] [--json]
//!                  [--verify] [--max-attempts N]
//! ```
//!
//! Network options (any command, before or after it): `--plc URL` (PLC
//! directory), `--pds URL` (resolve handles with that PDS's
//! `com.atproto.identity.resolveHandle`; also spelled
//! `--resolve-handle-via`), `--allow-private-hosts` (let identity lookups
//! and PDS endpoints reach private and loopback hosts, and plain http to
//! loopback; also spelled `--allow-loopback`), `--timeout SECS` (the
//! longest wait for any answer or any part of one, default 30), `--max-size
//! BYTES` (the largest repository `repo export` accepts, default 4 GiB;
//! `K`, `M`, `G` suffixes).
//!
//! Against a local development PDS and PLC directory (the reference PDS of
//! `tests/pds/run.sh`, `@atproto/dev-env`) nothing resolves with the
//! defaults, which suit the public network; pass
//! `--pds http://localhost:2583 --plc http://localhost:2582 --allow-private-hosts`
//! (the same setup as `atmo_client::LocalDev`).
//!
//! Handles resolve through `https://<handle>/.well-known/atproto-did`, the
//! `--pds` service, and with the `dns` feature DNS TXT records.
//!
//! Exit codes: 0 success, 1 the command failed, 2 the command line is
//! wrong. Errors go to stderr with their chain of causes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::error::Error as StdError;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use atmo_identity::Resolver;
use atmo_stream::{
    Config as StreamConfig, Firehose, RepoEvent, SubscribeRepos, Subscriber, Verifier,
};
use atmo_sync::{Cid, Repo, Value};
use atmo_types::xrpc::Method;
use atmo_xrpc::{HyperClient, NoAuth, Transport, TransportConfig, XrpcRequest};

const USAGE: &str = "usage:
  atproto resolve <handle|did>
  atproto repo export <handle|did> [-o FILE.car]
  atproto repo ls <FILE.car>
  atproto cbor <FILE>
  atproto firehose [--service URL] [--cursor N] [--collection NSID] [--json] [--verify]
                   [--max-attempts N]   give up after N failed connections in a row
options for network commands (before or after the command):
  --plc URL                 PLC directory (default https://plc.directory)
  --pds URL                 also resolve handles with this PDS's resolveHandle
                            (also spelled --resolve-handle-via)
  --allow-private-hosts     allow private and loopback hosts, and plain http to
                            loopback (a local PDS; also spelled --allow-loopback)
  --timeout SECS            longest wait for an answer or any part of one (default 30)
  --max-size BYTES          largest repository repo export accepts (default 4G; K, M, G)
a local development PDS and PLC:
  --pds http://localhost:2583 --plc http://localhost:2582 --allow-private-hosts";

/// Default of `--timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of `--max-size`: far above any account's repository today,
/// below what fills a disk by surprise.
const DEFAULT_MAX_SIZE: u64 = 4 << 30;

type BoxError = Box<dyn StdError + Send + Sync>;

/// A command-line mistake (exit code 2).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Usage {}

fn usage(msg: impl Into<String>) -> BoxError {
    Box::new(Usage(msg.into()))
}

/// A failure with a context line above its cause.
#[derive(Debug)]
struct Context {
    what: String,
    source: BoxError,
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl StdError for Context {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.source.as_ref())
    }
}

fn ctx<E: Into<BoxError>>(what: impl Into<String>) -> impl FnOnce(E) -> BoxError {
    let what = what.into();
    move |e| {
        Box::new(Context {
            what,
            source: e.into(),
        })
    }
}

/// Parsed options shared by the commands.
#[derive(Default)]
struct Opts {
    positional: Vec<String>,
    plc: Option<String>,
    resolve_via: Option<String>,
    allow_loopback: bool,
    output: Option<String>,
    service: Option<String>,
    cursor: Option<i64>,
    collection: Option<String>,
    json: bool,
    verify: bool,
    timeout: Option<Duration>,
    max_size: Option<u64>,
    max_attempts: Option<u32>,
}

impl Opts {
    fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    fn max_size(&self) -> u64 {
        self.max_size.unwrap_or(DEFAULT_MAX_SIZE)
    }
}

/// Options that take a value, wherever they appear.
const VALUE_OPTIONS: &[&str] = &[
    "--plc",
    "--pds",
    "--resolve-handle-via",
    "-o",
    "--output",
    "--service",
    "--cursor",
    "--collection",
    "--timeout",
    "--max-size",
    "--max-attempts",
];

/// `30` seconds (fractions allowed, more than zero, at most a day).
fn parse_timeout(v: &str) -> Result<Duration, BoxError> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            usage(format!(
                "--timeout {v:?} is not a number of seconds (0 < s <= 86400)"
            ))
        })
}

/// `1048576`, `512K`, `100M`, `4G` (powers of 1024).
fn parse_size(v: &str) -> Result<u64, BoxError> {
    let (digits, unit) = match v.char_indices().last() {
        Some((i, c @ ('K' | 'k' | 'M' | 'm' | 'G' | 'g'))) => (&v[..i], Some(c)),
        _ => (v, None),
    };
    let shift = match unit.map(|c| c.to_ascii_uppercase()) {
        None => 0,
        Some('K') => 10,
        Some('M') => 20,
        _ => 30,
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| usage(format!("--max-size {v:?} is not a size (e.g. 100M)")))
}

fn parse(args: &[String]) -> Result<Opts, BoxError> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| usage(format!("{name} needs a value")))
        };
        match a.as_str() {
            "--plc" => o.plc = Some(value("--plc")?),
            "--pds" | "--resolve-handle-via" => o.resolve_via = Some(value(a)?),
            "--allow-private-hosts" | "--allow-loopback" => o.allow_loopback = true,
            "--timeout" => o.timeout = Some(parse_timeout(&value("--timeout")?)?),
            "--max-size" => o.max_size = Some(parse_size(&value("--max-size")?)?),
            "--max-attempts" => {
                let v = value("--max-attempts")?;
                o.max_attempts =
                    Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        usage(format!("--max-attempts {v:?} is not a positive number"))
                    })?);
            }
            "-o" | "--output" => o.output = Some(value("-o")?),
            "--service" => o.service = Some(value("--service")?),
            "--cursor" => {
                let v = value("--cursor")?;
                o.cursor =
                    Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                        usage(format!("--cursor {v:?} is not a sequence number"))
                    })?);
            }
            "--collection" => o.collection = Some(value("--collection")?),
            "--json" => o.json = true,
            "--verify" => o.verify = true,
            "-h" | "--help" => return Err(usage("")),
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(usage(format!("unknown option {s}")))
            }
            _ => o.positional.push(a.clone()),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(u) = e.downcast_ref::<Usage>() {
                if !u.0.is_empty() {
                    eprintln!("error: {u}");
                }
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
            eprintln!("error: {e}");
            // A cause whose text the line above already ends with (errors
            // that print their source and also return it) is not repeated.
            let mut above = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                let text = s.to_string();
                if !above.ends_with(&text) {
                    eprintln!("  caused by: {text}");
                }
                above = text;
                source = s.source();
            }
            ExitCode::from(1)
        }
    }
}

/// Moves options given before the command after it, where each command
/// parses them: `atproto --plc URL resolve alice.test` is
/// `atproto resolve alice.test --plc URL`.
fn command_first(args: &[String]) -> Vec<String> {
    let mut leading = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if !a.starts_with('-') || a == "-h" || a == "--help" {
            break;
        }
        leading.push(a.clone());
        i += 1;
        if VALUE_OPTIONS.contains(&a.as_str()) {
            if let Some(v) = args.get(i) {
                leading.push(v.clone());
                i += 1;
            }
        }
    }
    let mut out: Vec<String> = args[i..].to_vec();
    // After `repo`, the subcommand comes first too.
    let split = if out.first().is_some_and(|c| c == "repo") {
        2
    } else {
        1
    };
    let at = split.min(out.len());
    let tail = out.split_off(at);
    out.extend(leading);
    out.extend(tail);
    out
}

async fn run(args: &[String]) -> Result<(), BoxError> {
    let args = command_first(args);
    let (cmd, rest) = args.split_first().ok_or_else(|| usage("no command"))?;
    match cmd.as_str() {
        "resolve" => {
            let o = parse(rest)?;
            let [id] = o.positional.as_slice() else {
                return Err(usage("resolve takes one handle or DID"));
            };
            resolve(&o, id).await
        }
        "repo" => {
            let (sub, rest) = rest
                .split_first()
                .ok_or_else(|| usage("repo needs export or ls"))?;
            let o = parse(rest)?;
            match (sub.as_str(), o.positional.as_slice()) {
                ("export", [id]) => export(&o, id).await,
                ("ls", [file]) => ls(file),
                ("export", _) => Err(usage("repo export takes one handle or DID")),
                ("ls", _) => Err(usage("repo ls takes one CAR file")),
                (other, _) => Err(usage(format!("unknown repo command {other:?}"))),
            }
        }
        "cbor" => {
            let o = parse(rest)?;
            let [file] = o.positional.as_slice() else {
                return Err(usage("cbor takes one file"));
            };
            cbor(file)
        }
        "firehose" => {
            let o = parse(rest)?;
            if !o.positional.is_empty() {
                return Err(usage("firehose takes no positional arguments"));
            }
            firehose(&o).await
        }
        "-h" | "--help" | "help" => Err(usage("")),
        other => Err(usage(format!("unknown command {other:?}"))),
    }
}

fn http() -> Result<Arc<HyperClient>, BoxError> {
    Ok(Arc::new(
        HyperClient::new().map_err(ctx("starting the HTTP client"))?,
    ))
}

fn resolver(o: &Opts, http: Arc<HyperClient>) -> Result<Resolver, BoxError> {
    let mut b = Resolver::builder(http)
        .timeout(o.timeout())
        .allow_private_hosts(o.allow_loopback)
        .allow_http_loopback(o.allow_loopback);
    if let Some(plc) = &o.plc {
        b = b.plc_url(plc.clone());
    }
    if let Some(via) = &o.resolve_via {
        b = b.resolve_handle_via(via.clone());
    }
    #[cfg(feature = "dns")]
    {
        b = b
            .system_dns()
            .map_err(ctx("reading the system's DNS configuration"))?;
    }
    b.build().map_err(ctx("configuring identity resolution"))
}

/// Resolves `id`; when that fails for a handle of a local development PDS
/// (`.test`, `.localhost`...) without the options such a setup needs, the
/// error says which ones.
async fn resolve_identity(
    o: &Opts,
    r: &Resolver,
    id: &str,
) -> Result<atmo_identity::Identity, BoxError> {
    r.resolve_identity(id).await.map_err(|e| {
        let what = match local_dev_hint(o, id) {
            Some(hint) => format!("resolving {id} ({hint})"),
            None => format!("resolving {id}"),
        };
        ctx(what)(e)
    })
}

/// What to pass for a handle under a top-level domain that only exists in
/// development setups, when it is not passed already.
fn local_dev_hint(o: &Opts, id: &str) -> Option<String> {
    const LOCAL_TLDS: &[&str] = &[".test", ".localhost", ".local", ".internal", ".example"];
    let lower = id.to_ascii_lowercase();
    if id.starts_with("did:") || !LOCAL_TLDS.iter().any(|t| lower.ends_with(t)) {
        return None;
    }
    let mut missing = Vec::new();
    if o.resolve_via.is_none() {
        missing.push("--pds URL");
    }
    if o.plc.is_none() {
        missing.push("--plc URL");
    }
    if !o.allow_loopback {
        missing.push("--allow-private-hosts");
    }
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "a handle of a local development PDS resolves only with {}, \
         e.g. --pds http://localhost:2583 --plc http://localhost:2582 --allow-private-hosts",
        missing.join(" ")
    ))
}

async fn resolve(o: &Opts, id: &str) -> Result<(), BoxError> {
    let r = resolver(o, http()?)?;
    let ident = resolve_identity(o, &r, id).await?;
    let out = serde_json::json!({
        "did": ident.did.as_str(),
        "handle": ident.handle.verified().map(|h| h.as_str()),
        "claimedHandle": ident.handle.claimed().map(|h| h.as_str()),
        "pds": ident.pds.as_str().trim_end_matches('/'),
        "signingKey": ident.signing_key.to_did_key(),
    });
    println!("{out}");
    Ok(())
}

async fn export(o: &Opts, id: &str) -> Result<(), BoxError> {
    let http = http()?;
    let r = resolver(o, http.clone())?;
    let ident = resolve_identity(o, &r, id).await?;
    let transport = Transport::new(
        http,
        TransportConfig {
            timeout: o.timeout(),
            max_response_size: usize::try_from(o.max_size()).unwrap_or(usize::MAX),
        },
    );
    let mut req = XrpcRequest::new("com.atproto.sync.getRepo", Method::Query);
    req.query
        .push(("did".into(), ident.did.as_str().to_owned()));
    req.accept = Some("application/vnd.ipld.car".into());
    let mut answer = transport
        .send_streaming(&ident.pds, &req, &NoAuth)
        .await
        .map_err(ctx(format!(
            "fetching the repository of {}",
            ident.did.as_str()
        )))?;
    let total: Option<u64> = answer.header("content-length").and_then(|v| v.parse().ok());
    let path = o
        .output
        .clone()
        .unwrap_or_else(|| format!("{}.car", ident.did.as_str().replace(':', "_")));
    // Written beside the target and renamed once checked: a failed export
    // neither leaves a partial file under the name nor replaces an older
    // good one.
    let part = format!("{path}.part");
    let result = download(o, &mut answer.body, &part, total)
        .await
        .and_then(|()| {
            // Check what was written: every block against its CID, the tree walked.
            let bytes = std::fs::read(&part).map_err(ctx(format!("reading back {part}")))?;
            let repo = Repo::from_car(&bytes).map_err(ctx(format!(
                "the repository of {} is not a valid repository",
                ident.did.as_str()
            )))?;
            repo.commit().verify(&ident.signing_key).map_err(ctx(
                "the repository's commit is not signed by the account's key",
            ))?;
            std::fs::rename(&part, &path).map_err(ctx(format!("renaming {part} to {path}")))?;
            Ok((repo.len(), repo.commit().rev.to_string()))
        });
    let (records, rev) = match result {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    eprintln!("wrote {path}: {records} records, rev {rev}, signature verified");
    Ok(())
}

/// Streams the answer's body into `path`, showing progress on a terminal.
async fn download(
    o: &Opts,
    body: &mut Box<dyn atmo_xrpc::BodyStream>,
    path: &str,
    total: Option<u64>,
) -> Result<(), BoxError> {
    let mut file = std::fs::File::create(path).map_err(ctx(format!("creating {path}")))?;
    let show = std::io::stderr().is_terminal();
    let mut got: u64 = 0;
    let mut shown = 0u64;
    // The transport's timeout covers the answer's start; each later part of
    // the body gets the same time to arrive, so a server that stops
    // sending is an error, not a hang.
    let timeout = o.timeout();
    let result = loop {
        let chunk = match tokio::time::timeout(timeout, body.next_chunk()).await {
            Err(_) => {
                break Err(format!(
                    "reading the repository: nothing arrived for {} s (--timeout)",
                    timeout.as_secs_f64()
                )
                .into())
            }
            Ok(Err(e)) if e.kind == atmo_xrpc::HttpErrorKind::TooLarge => {
                break Err(ctx(format!(
                    "reading the repository: larger than {} bytes (--max-size)",
                    o.max_size()
                ))(e))
            }
            Ok(Err(e)) => break Err(ctx("reading the repository")(e)),
            Ok(Ok(None)) => break Ok(()),
            Ok(Ok(Some(chunk))) => chunk,
        };
        if let Err(e) = file.write_all(&chunk) {
            break Err(ctx(format!("writing {path}"))(e));
        }
        got += chunk.len() as u64;
        if show && got - shown >= 1 << 20 {
            shown = got;
            progress(got, total);
        }
    };
    if show {
        progress(got, total);
        eprintln!();
    }
    result?;
    file.flush().map_err(ctx(format!("writing {path}")))?;
    Ok(())
}

fn progress(got: u64, total: Option<u64>) {
    let mib = got as f64 / (1024.0 * 1024.0);
    match total {
        Some(t) if t > 0 => eprint!("\r{mib:.1} MiB of {:.1} MiB", t as f64 / (1024.0 * 1024.0)),
        _ => eprint!("\r{mib:.1} MiB"),
    }
}

fn ls(file: &str) -> Result<(), BoxError> {
    let bytes = std::fs::read(file).map_err(ctx(format!("reading {file}")))?;
    let repo = Repo::from_car(&bytes).map_err(ctx(format!("{file} is not a valid repository")))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for record in repo.records() {
        let value = record
            .value()
            .map_err(ctx(format!("record {}/{}", record.collection, record.rkey)))?;
        let line = serde_json::json!({
            "collection": record.collection,
            "rkey": record.rkey,
            "cid": record.cid.to_string(),
            "value": value.to_json(),
        });
        if writeln!(out, "{line}").is_err() {
            return Ok(()); // stdout closed (a pager quit): nothing more to say
        }
    }
    let _ = out.flush();
    Ok(())
}

fn cbor(file: &str) -> Result<(), BoxError> {
    let bytes = std::fs::read(file).map_err(ctx(format!("reading {file}")))?;
    let value =
        Value::from_cbor(&bytes).map_err(ctx(format!("{file} is not canonical DAG-CBOR")))?;
    let out = serde_json::json!({
        "cid": Cid::for_dag_cbor(&bytes).to_string(),
        "value": value.to_json(),
    });
    println!("{out}");
    Ok(())
}

async fn firehose(o: &Opts) -> Result<(), BoxError> {
    let service = o
        .service
        .clone()
        .unwrap_or_else(|| "wss://bsky.network".to_owned());
    // `--timeout` bounds the handshake and the silence before a connection
    // counts as dead (the stream reconnects); `--max-attempts` ends the
    // command after that many failed connections in a row.
    let mut config = StreamConfig::default();
    if let Some(t) = o.timeout {
        config.connect_timeout = t;
        config.read_timeout = t;
    }
    config.max_attempts = o.max_attempts;
    let sub = Subscriber::<SubscribeRepos>::builder(service.clone())
        .config(config)
        .cursor(o.cursor)
        .on_connection(|e| eprintln!("firehose: {e:?}"))
        .build()
        .map_err(ctx(format!("subscribing to {service}")))?;
    let mut hose = Firehose::new(sub);
    if o.verify {
        hose = hose.verify(Verifier::new(resolver(o, http()?)?));
    }
    let stdout = std::io::stdout();
    while let Some(item) = hose.next().await {
        let event = match item {
            Ok(e) => e,
            Err(e) if e.is_fatal() => return Err(ctx("the firehose ended")(e)),
            Err(e) => {
                eprintln!("firehose: skipped: {e}");
                continue;
            }
        };
        let lines = render(&event, o);
        let mut out = stdout.lock();
        for line in lines {
            if writeln!(out, "{line}").is_err() {
                return Ok(());
            }
        }
        let _ = out.flush();
    }
    Ok(())
}

/// The lines printed for one event: JSON objects with `--json`, readable
/// text otherwise; commits filtered by `--collection`.
fn render(event: &RepoEvent, o: &Opts) -> Vec<String> {
    let seq = event
        .seq()
        .map_or_else(|| "-".to_owned(), |s| s.to_string());
    match event {
        RepoEvent::Commit(c) => c
            .ops
            .iter()
            .filter(|op| {
                o.collection
                    .as_deref()
                    .is_none_or(|want| op.collection == want)
            })
            .map(|op| {
                if o.json {
                    serde_json::json!({
                        "seq": c.commit.seq,
                        "type": "commit",
                        "repo": c.repo(),
                        "rev": c.rev(),
                        "action": op.action.as_str(),
                        "collection": op.collection,
                        "rkey": op.rkey,
                        "cid": op.cid.map(|c| c.to_string()),
                        "record": match op.record_json() {
                            Some(Ok(v)) => v,
                            Some(Err(e)) => serde_json::json!({ "error": e.to_string() }),
                            None => serde_json::Value::Null,
                        },
                        "check": c.check.as_ref().map(|k| format!("{k:?}")),
                    })
                    .to_string()
                } else {
                    let text = op
                        .record_json()
                        .and_then(Result::ok)
                        .and_then(|r| r.get("text").and_then(|t| t.as_str()).map(str::to_owned))
                        .map(|t| format!(" {t:?}"))
                        .unwrap_or_default();
                    format!(
                        "{seq} {} {} {}/{}{text}",
                        c.repo(),
                        op.action,
                        op.collection,
                        op.rkey
                    )
                }
            })
            .collect(),
        _ if o.collection.is_some() => Vec::new(),
        other => {
            let kind = match other {
                RepoEvent::Sync(_) => "sync",
                RepoEvent::Identity(_) => "identity",
                RepoEvent::Account(_) => "account",
                RepoEvent::Info(_) => "info",
                _ => "unknown",
            };
            if o.json {
                vec![
                    serde_json::json!({"seq": event.seq(), "type": kind, "did": event.did()})
                        .to_string(),
                ]
            } else {
                vec![format!("{seq} {} {kind}", event.did().unwrap_or("-"))]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atmo_stream::{decode_frame, encode_frame, Frame, DEFAULT_MAX_FRAME_SIZE};
    use atmo_sync::car::write_car;
    use atmo_sync::Map;

    fn s(v: &str) -> Value<'static> {
        Value::String(v.to_owned().into())
    }

    fn commit_event() -> RepoEvent {
        let mut rec = Map::new();
        rec.insert("$type", s("app.bsky.feed.post"));
        rec.insert("text", s("hi there"));
        rec.insert("createdAt", s("2024-01-01T00:00:00.000Z"));
        let rec = Value::Map(rec).to_cbor();
        let rec_cid = Cid::for_dag_cbor(&rec);
        let mut commit = Map::new();
        commit.insert("did", s("did:plc:abc"));
        let commit = Value::Map(commit).to_cbor();
        let commit_cid = Cid::for_dag_cbor(&commit);
        let car = write_car(&[commit_cid], [commit.as_slice(), rec.as_slice()]);
        let op = |coll: &str| {
            let mut m = Map::new();
            m.insert("action", s("create"));
            m.insert("path", s(&format!("{coll}/3kabcdefghij2")));
            m.insert("cid", Value::Link(rec_cid));
            Value::Map(m)
        };
        let mut body = Map::new();
        for (k, v) in [
            ("seq", Value::Integer(5)),
            ("rebase", Value::Bool(false)),
            ("tooBig", Value::Bool(false)),
            ("repo", s("did:plc:abc")),
            ("commit", Value::Link(commit_cid)),
            ("rev", s("3kabcdefghij2")),
            ("since", Value::Null),
            ("blocks", Value::Bytes(car.into())),
            (
                "ops",
                Value::Array(vec![op("app.bsky.feed.post"), op("app.bsky.feed.like")]),
            ),
            ("blobs", Value::Array(vec![])),
            ("time", s("2024-01-01T00:00:00.000Z")),
        ] {
            body.insert(k, v);
        }
        let frame = encode_frame(1, Some("#commit"), &Value::Map(body).to_cbor());
        let Ok(Frame::Message(m)) = decode_frame::<SubscribeRepos>(&frame, DEFAULT_MAX_FRAME_SIZE)
        else {
            panic!("frame decodes")
        };
        RepoEvent::from_message(m).unwrap()
    }

    #[test]
    fn options_before_the_command_move_after_it() {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            command_first(&v(&["--plc", "P", "--allow-private-hosts", "resolve", "x"])),
            v(&["resolve", "--plc", "P", "--allow-private-hosts", "x"])
        );
        assert_eq!(
            command_first(&v(&["--timeout", "2", "repo", "export", "x", "-o", "f"])),
            v(&["repo", "export", "--timeout", "2", "x", "-o", "f"])
        );
        assert_eq!(command_first(&v(&["resolve", "x"])), v(&["resolve", "x"]));
        assert_eq!(command_first(&v(&["--help"])), v(&["--help"]));
        assert_eq!(command_first(&v(&["--pds"])), v(&["--pds"]));
    }

    #[test]
    fn sizes_and_timeouts() {
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("100m").unwrap(), 100 << 20);
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        for bad in ["", "G", "0", "-1", "1T", "99999999999G", "1.5M"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_timeout("0.5").unwrap(), Duration::from_millis(500));
        for bad in ["0", "-1", "NaN", "inf", "1e9", "soon"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn local_dev_hint_names_only_what_is_missing() {
        let o = Opts::default();
        let hint = local_dev_hint(&o, "alice.test").unwrap();
        assert!(
            hint.contains("--pds URL --plc URL --allow-private-hosts"),
            "{hint}"
        );
        assert!(local_dev_hint(&o, "alice.bsky.social").is_none());
        assert!(local_dev_hint(&o, "did:plc:ewvi7nxzyoun6zhxrhs64oiz").is_none());
        let all = Opts {
            plc: Some("p".into()),
            resolve_via: Some("s".into()),
            allow_loopback: true,
            ..Opts::default()
        };
        assert!(local_dev_hint(&all, "alice.test").is_none());
    }

    #[test]
    fn readable_and_json_lines_with_collection_filter() {
        let ev = commit_event();
        let o = Opts::default();
        assert_eq!(
            render(&ev, &o),
            [
                "5 did:plc:abc create app.bsky.feed.post/3kabcdefghij2 \"hi there\"",
                "5 did:plc:abc create app.bsky.feed.like/3kabcdefghij2 \"hi there\"",
            ]
        );
        let o = Opts {
            json: true,
            collection: Some("app.bsky.feed.post".into()),
            ..Opts::default()
        };
        let lines = render(&ev, &o);
        assert_eq!(lines.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["seq"], 5);
        assert_eq!(v["action"], "create");
        assert_eq!(v["collection"], "app.bsky.feed.post");
        assert_eq!(v["record"]["text"], "hi there");
        assert_eq!(v["check"], serde_json::Value::Null);
    }
}
