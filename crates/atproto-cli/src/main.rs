//! `atproto`: a command-line tool over this workspace's crates.
//!
//! ```text
//! atproto resolve <handle|did>
//! atproto repo export <handle|did> [-o FILE.car]
//! atproto repo ls <FILE.car>
//! atproto cbor <FILE>
//! atproto firehose [--service URL] [--cursor N] [--collection NSID] [--json]
//! ```
//!
//! Network options (any command): `--plc URL` (PLC directory),
//! `--resolve-handle-via URL` (resolve handles with that service's
//! `com.atproto.identity.resolveHandle`), `--allow-loopback` (let identity
//! lookups and PDS endpoints reach loopback and plain-http hosts, for a
//! local development PDS).
//!
//! Handles resolve through `https://<handle>/.well-known/atproto-did`, the
//! `--resolve-handle-via` service, and with the `dns` feature DNS TXT
//! records.
//!
//! Exit codes: 0 success, 1 the command failed, 2 the command line is
//! wrong. Errors go to stderr with their chain of causes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::error::Error as StdError;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use atproto_identity::Resolver;
use atproto_stream::{Firehose, RepoEvent, SubscribeRepos, Subscriber, Verifier};
use atproto_sync::{Cid, Repo, Value};
use atproto_types::xrpc::Method;
use atproto_xrpc::{HyperClient, NoAuth, Transport, TransportConfig, XrpcRequest};

const USAGE: &str = "usage:
  atproto resolve <handle|did>
  atproto repo export <handle|did> [-o FILE.car]
  atproto repo ls <FILE.car>
  atproto cbor <FILE>
  atproto firehose [--service URL] [--cursor N] [--collection NSID] [--json] [--verify]
options for network commands:
  --plc URL                 PLC directory (default https://plc.directory)
  --resolve-handle-via URL  also resolve handles with this service's resolveHandle
  --allow-loopback          allow loopback hosts and plain http to them (local PDS)";

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
            "--resolve-handle-via" => o.resolve_via = Some(value("--resolve-handle-via")?),
            "--allow-loopback" => o.allow_loopback = true,
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
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(1)
        }
    }
}

async fn run(args: &[String]) -> Result<(), BoxError> {
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

async fn resolve(o: &Opts, id: &str) -> Result<(), BoxError> {
    let r = resolver(o, http()?)?;
    let ident = r
        .resolve_identity(id)
        .await
        .map_err(ctx(format!("resolving {id}")))?;
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
    let ident = r
        .resolve_identity(id)
        .await
        .map_err(ctx(format!("resolving {id}")))?;
    let transport = Transport::new(
        http,
        TransportConfig {
            max_response_size: usize::MAX,
            ..TransportConfig::default()
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
    let mut file = std::fs::File::create(&path).map_err(ctx(format!("creating {path}")))?;
    let mut got: u64 = 0;
    let mut shown = 0u64;
    while let Some(chunk) = answer
        .body
        .next_chunk()
        .await
        .map_err(ctx("reading the repository"))?
    {
        file.write_all(&chunk)
            .map_err(ctx(format!("writing {path}")))?;
        got += chunk.len() as u64;
        if got - shown >= 1 << 20 {
            shown = got;
            progress(got, total);
        }
    }
    file.flush().map_err(ctx(format!("writing {path}")))?;
    progress(got, total);
    eprintln!();
    // Check what was written: every block against its CID, the tree walked.
    let bytes = std::fs::read(&path).map_err(ctx(format!("reading back {path}")))?;
    let repo = Repo::from_car(&bytes).map_err(ctx(format!("{path} is not a valid repository")))?;
    repo.commit().verify(&ident.signing_key).map_err(ctx(
        "the repository's commit is not signed by the account's key",
    ))?;
    eprintln!(
        "wrote {path}: {} records, rev {}, signature verified",
        repo.len(),
        repo.commit().rev
    );
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
    let sub = Subscriber::<SubscribeRepos>::builder(service.clone())
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
    use atproto_stream::{decode_frame, encode_frame, Frame, DEFAULT_MAX_FRAME_SIZE};
    use atproto_sync::car::write_car;
    use atproto_sync::Map;

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
