//! `lexgen install`: lexicons from the network, verified, into `lexicons/`
//! with a `lexicons.json` manifest in `@atproto/lex`'s format (feature
//! `net`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use atmo_lexicon::{
    check_document, document_cid, document_path, referenced_nsids, reverse_domain,
    Error as LexError, ErrorKind, LexiconResolver, Manifest, Resolution, ResolvedLexicon, Step,
    MANIFEST_FILE, SCHEMA_COLLECTION,
};

use crate::netopts::{self, NetOptions, NET_USAGE};

/// `lexgen install --help`.
pub fn usage() -> String {
    format!(
        "usage: lexgen install [NSID | PREFIX.* | AT-URI ...] [--lexicons DIR] [--manifest PATH]
                      [--update] [--ci] [--no-save] [network options]

Installs lexicons published on the network (Lexicon spec resolution: the
_lexicon.<authority> DNS TXT record, the DID document, the PDS), each fetched
with its proof and verified (commit signature with the DID's #atproto key,
tree path, record CID) and checked as a lexicon document whose id is its NSID.
Each document goes to DIR/<nsid as path>.json (com/example/foo.json); the
manifest lists the NSIDs asked for (a PREFIX.* as the NSIDs it found: run it
again to pick up documents published since) and, for every installed document,
the record it came from and its CID (@atproto/lex's lexicons.json format).

Documents the installed ones refer to (refs, union members, tokens) are
installed too, except those of the official set built into lexgen.
Without NSIDs, installs what the manifest lists. A document already on disk
that matches its manifest CID is kept without asking the network; one that
does not, or that the manifest does not list, is left alone and reported
(local work is not overwritten) unless --update. Nothing is written unless
every document resolves and verifies.

NSID                     a lexicon, e.g. com.example.bookmark.
PREFIX.*                 every schema record the authority of PREFIX publishes
                         under PREFIX (com.example.* asks _lexicon.example.com).
AT-URI                   at://<did>/com.atproto.lexicon.schema/<nsid>: that record,
                         from that repository, without asking DNS whose it is.
--lexicons DIR           where documents go (default lexicons).
--manifest PATH          the manifest (default lexicons.json).
--update                 resolve everything again through DNS (an AT-URI argument:
                         from its repository) and replace what is on disk.
--ci                     change nothing: fail, naming each file, when a document
                         the manifest lists is missing or does not match its CID.
                         Needs no network.
--no-save                do not write the manifest.
{NET_USAGE}
A development setup (PDS, PLC directory and a DNS server of your own on this
machine) needs all three, e.g.
  lexgen install 'com.example.*' --plc http://localhost:2582 --dns 127.0.0.1:5300 \\
    --allow-private-hosts
The DNS server answers the TXT record `lexgen publish` printed; without one, name
each document by AT-URI (still with --plc and --allow-private-hosts).

Exit codes: 0 done, 1 usage or I/O error or a file left alone, 2 a lexicon
could not be resolved or verified, or (--ci) the files do not match the
manifest."
    )
}

/// `at://<did>/com.atproto.lexicon.schema/<nsid>` → (DID, NSID).
fn parse_source(uri: &str) -> Result<(String, String), String> {
    let bad = || format!("{uri:?} is not at://<did>/{SCHEMA_COLLECTION}/<nsid>");
    let parsed = atmo_types::AtUri::new(uri).map_err(|_| bad())?;
    let (Some(collection), Some(rkey)) = (parsed.collection(), parsed.rkey()) else {
        return Err(bad());
    };
    let did = parsed.authority();
    if collection != SCHEMA_COLLECTION
        || !did.starts_with("did:")
        || atmo_types::Nsid::new(rkey).is_err()
    {
        return Err(bad());
    }
    Ok((did.to_owned(), rkey.to_owned()))
}

/// Parsed `lexgen install` arguments.
#[derive(Clone, Debug, Default)]
struct Args {
    targets: Vec<String>,
    /// NSID → the DID whose repository an AT-URI argument named.
    sources: BTreeMap<String, String>,
    lexicons: PathBuf,
    manifest: PathBuf,
    update: bool,
    ci: bool,
    no_save: bool,
    net: NetOptions,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        lexicons: PathBuf::from("lexicons"),
        manifest: PathBuf::from(MANIFEST_FILE),
        ..Args::default()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if a.net.take(arg, &mut it)? {
            continue;
        }
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--lexicons" => a.lexicons = PathBuf::from(value()?),
            "--manifest" => a.manifest = PathBuf::from(value()?),
            "--update" => a.update = true,
            "--ci" => a.ci = true,
            "--no-save" => a.no_save = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}")),
            s if s.starts_with("at://") => {
                let (did, nsid) = parse_source(s)?;
                a.sources.insert(nsid.clone(), did);
                a.targets.push(nsid);
            }
            s => {
                let nsid = s.strip_suffix(".*").unwrap_or(s);
                let ok = if s.ends_with(".*") {
                    // A prefix: an NSID's authority part, at least two segments.
                    nsid.split('.').count() >= 2
                        && atmo_types::Nsid::new(format!("{nsid}.x").as_str()).is_ok()
                } else {
                    atmo_types::Nsid::new(s).is_ok()
                };
                if !ok {
                    return Err(format!("{s:?} is neither an NSID, PREFIX.* nor an AT-URI"));
                }
                a.targets.push(s.to_owned());
            }
        }
    }
    if a.ci && a.update {
        return Err("--ci and --update exclude each other".into());
    }
    Ok(a)
}

/// Runs `lexgen install`.
pub fn run(args: &[String]) -> ExitCode {
    if netopts::wants_help(args) {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lexgen install: {e}\n\n{}", usage());
            return ExitCode::from(1);
        }
    };
    let manifest = match read_manifest(&args.manifest) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("lexgen install: {e}");
            return ExitCode::from(1);
        }
    };
    if args.ci {
        return ci(&args, manifest.as_ref());
    }
    let rt = match netopts::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lexgen install: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(install(&args, manifest.unwrap_or_default())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Io(e)) => {
            eprintln!("lexgen install: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Lexicon(errors)) => {
            let local = errors.iter().any(|e| matches!(e, OneError::Local(_)));
            for e in &errors {
                eprintln!("lexgen install: {e}");
            }
            eprintln!(
                "lexgen install: nothing was written ({} and {} are as they were)",
                args.lexicons.display(),
                args.manifest.display()
            );
            for h in hints(&errors, &args.net) {
                eprintln!("lexgen install: hint: {h}");
            }
            ExitCode::from(if local { 1 } else { 2 })
        }
    }
}

enum Failure {
    Io(String),
    Lexicon(Vec<OneError>),
}

/// Why one NSID was not installed.
enum OneError {
    /// Resolution or verification failed (exit code 2).
    Lexicon(LexError),
    /// A file could not be written, or would have overwritten local
    /// changes (exit code 1).
    Local(String),
}

impl std::fmt::Display for OneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OneError::Lexicon(e) => e.fmt(f),
            OneError::Local(why) => f.write_str(why),
        }
    }
}

/// What to try next after resolution failures, one line per step that
/// failed and whose network option was not given: a development setup (a
/// DNS server, PLC directory or PDS of your own) fails at these steps with
/// the public network's defaults.
fn hints(errors: &[OneError], net: &NetOptions) -> Vec<&'static str> {
    let steps: Vec<Step> = errors
        .iter()
        .filter_map(|e| match e {
            OneError::Lexicon(e) => Some(e.step()),
            OneError::Local(_) => None,
        })
        .collect();
    let mut out = Vec::new();
    for step in [Step::Dns, Step::Did, Step::Pds] {
        if !steps.contains(&step) {
            continue;
        }
        let hint = match step {
            Step::Dns if net.dns.is_empty() => {
                "the _lexicon TXT record was asked of this machine's DNS resolvers; \
                 pass --dns IP:PORT to ask a DNS server of your own, or name the record \
                 as at://<did>/com.atproto.lexicon.schema/<nsid>, which asks no DNS"
            }
            Step::Did if net.plc.is_none() => {
                "did:plc documents were asked of https://plc.directory; \
                 pass --plc URL for a PLC directory of your own"
            }
            Step::Pds if !net.allow_private_hosts => {
                "a PDS on this machine or a private network is refused by default; \
                 pass --allow-private-hosts for a development setup"
            }
            _ => continue,
        };
        out.push(hint);
    }
    out
}

impl From<LexError> for OneError {
    fn from(e: LexError) -> Self {
        OneError::Lexicon(e)
    }
}

fn read_manifest(path: &Path) -> Result<Option<Manifest>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Manifest::parse(&text)
            .map(Some)
            .map_err(|e| format!("{}: {}", path.display(), e.0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// What a file on disk holds against what the manifest says.
enum OnDisk {
    Matches(serde_json::Value),
    Missing,
    Differs(String),
}

fn on_disk(lexicons: &Path, nsid: &str, cid: &str) -> OnDisk {
    let path = lexicons.join(document_path(nsid));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return OnDisk::Missing,
        Err(e) => return OnDisk::Differs(format!("cannot be read: {e}")),
    };
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => return OnDisk::Differs(format!("is not JSON: {e}")),
    };
    match document_cid(&doc) {
        Ok(found) if found.to_string() == cid => OnDisk::Matches(doc),
        Ok(found) => OnDisk::Differs(format!(
            "does not match its manifest CID (manifest {cid}, file {found})"
        )),
        Err(e) => OnDisk::Differs(format!("cannot be hashed: {e}")),
    }
}

/// `--ci`: every manifest entry on disk and matching; no network.
fn ci(args: &Args, manifest: Option<&Manifest>) -> ExitCode {
    let Some(manifest) = manifest else {
        eprintln!(
            "lexgen install --ci: {} does not exist",
            args.manifest.display()
        );
        return ExitCode::from(2);
    };
    let mut problems = Vec::new();
    for t in &args.targets {
        let listed = match t.strip_suffix(".*") {
            Some(prefix) => manifest
                .lexicons
                .iter()
                .any(|l| l.starts_with(&format!("{prefix}."))),
            None => manifest.lexicons.contains(t),
        };
        if !listed {
            problems.push(format!("{t} is not in {}", args.manifest.display()));
        }
    }
    for l in &manifest.lexicons {
        if !manifest.resolutions.contains_key(l) {
            problems.push(format!(
                "{l} is listed without a resolution in {}",
                args.manifest.display()
            ));
        }
    }
    for (nsid, r) in &manifest.resolutions {
        let path = args.lexicons.join(document_path(nsid));
        match on_disk(&args.lexicons, nsid, &r.cid) {
            OnDisk::Matches(_) => {}
            OnDisk::Missing => problems.push(format!("{}: missing", path.display())),
            OnDisk::Differs(why) => problems.push(format!("{}: {why}", path.display())),
        }
    }
    if problems.is_empty() {
        println!(
            "{} lexicons match {}",
            manifest.resolutions.len(),
            args.manifest.display()
        );
        ExitCode::SUCCESS
    } else {
        for p in problems {
            eprintln!("lexgen install --ci: {p}");
        }
        eprintln!(
            "lexgen install --ci: hint: `lexgen install` fetches what is missing, \
             `lexgen install --update` replaces edited files with the published records \
             (to keep an edit, publish it first); then commit {} and {}",
            args.lexicons.display(),
            args.manifest.display()
        );
        ExitCode::from(2)
    }
}

/// The NSIDs of the official set built into lexgen: references into it are
/// not installed.
fn official_nsids() -> BTreeSet<String> {
    atmo_lexgen::official::nsids()
}

/// What one NSID's installation produced.
struct Installed {
    how: How,
    document: serde_json::Value,
    resolution: Resolution,
}

/// Whether a document came from disk or from the network.
enum How {
    Kept,
    /// The text to write to its file once every document is verified.
    Fetched(String),
}

/// How many documents are fetched at once.
const CONCURRENCY: usize = 8;

type Shared = Arc<(Args, LexiconResolver, Manifest)>;

/// Installs `nsids` concurrently (at most [`CONCURRENCY`] at a time);
/// results sorted by NSID.
async fn install_wave(
    shared: &Shared,
    nsids: Vec<String>,
) -> Vec<(String, Result<Installed, OneError>)> {
    let mut pending = nsids.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    let mut out = Vec::new();
    loop {
        while tasks.len() < CONCURRENCY {
            let Some(nsid) = pending.next() else { break };
            let shared = shared.clone();
            tasks.spawn(async move {
                let (args, resolver, old) = &*shared;
                let result = install_one(args, resolver, old, &nsid).await;
                (nsid, result)
            });
        }
        match tasks.join_next().await {
            Some(Ok(done)) => out.push(done),
            Some(Err(e)) => out.push((
                "(task)".to_owned(),
                Err(OneError::Local(format!("a task failed: {e}"))),
            )),
            None => break,
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn install(args: &Args, old: Manifest) -> Result<(), Failure> {
    let http = netopts::http().map_err(Failure::Io)?;
    let dns = netopts::dns(&args.net).map_err(Failure::Io)?;
    let resolver = netopts::lexicon_resolver(&args.net, http, dns).map_err(Failure::Io)?;
    let official = official_nsids();

    // The roots: what was asked (patterns expanded), then what the manifest
    // lists.
    let mut roots: BTreeSet<String> = BTreeSet::new();
    let mut errors = Vec::new();
    for t in &args.targets {
        match t.strip_suffix(".*") {
            Some(prefix) => match expand(&resolver, prefix).await {
                Ok((did, found)) if found.is_empty() => {
                    errors.push(LexError::new(t.as_str(), ErrorKind::RecordNotFound { did }).into())
                }
                Ok((_, found)) => roots.extend(found),
                Err(e) => errors.push(e.into()),
            },
            None => {
                roots.insert(t.clone());
            }
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Lexicon(errors));
    }
    roots.extend(old.lexicons.iter().cloned());
    if roots.is_empty() {
        return Err(Failure::Io(format!(
            "nothing to install: name NSIDs, or a manifest ({}) that lists some",
            args.manifest.display()
        )));
    }

    // Breadth first, one wave of NSIDs at a time, each wave fetched
    // concurrently; what a wave refers to makes the next one.
    let shared = Arc::new((args.clone(), resolver, old));
    let mut done: BTreeMap<String, Installed> = BTreeMap::new();
    let mut queued: BTreeSet<String> = roots.clone();
    let mut wave: Vec<String> = roots.iter().cloned().collect();
    while !wave.is_empty() {
        let results = install_wave(&shared, std::mem::take(&mut wave)).await;
        for (nsid, result) in results {
            match result {
                Ok(installed) => {
                    for r in referenced_nsids(&installed.document) {
                        if !official.contains(&r) && queued.insert(r.clone()) {
                            wave.push(r);
                        }
                    }
                    done.insert(nsid, installed);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    // All or nothing: a run that fails leaves lexicons/ and the manifest as
    // they were, so a file is never on disk without the manifest entry that
    // vouches for it (a later run would take it for local work).
    if !errors.is_empty() {
        return Err(Failure::Lexicon(errors));
    }
    for (nsid, installed) in &done {
        match &installed.how {
            How::Kept => println!("kept {nsid} ({})", installed.resolution.cid),
            How::Fetched(text) => {
                let path = args.lexicons.join(document_path(nsid));
                write(&path, text.as_bytes()).map_err(Failure::Io)?;
                println!(
                    "installed {nsid} ({}) from {}",
                    installed.resolution.cid, installed.resolution.uri
                );
            }
        }
    }
    if !args.no_save {
        let manifest = Manifest {
            lexicons: roots,
            resolutions: done
                .iter()
                .map(|(n, i)| (n.clone(), i.resolution.clone()))
                .collect(),
        };
        write(&args.manifest, manifest.to_json().as_bytes()).map_err(Failure::Io)?;
    }
    Ok(())
}

/// `PREFIX.*` → the repository `_lexicon.<PREFIX reversed>` names and the
/// NSIDs under PREFIX it holds.
async fn expand(
    resolver: &LexiconResolver,
    prefix: &str,
) -> Result<(String, Vec<String>), LexError> {
    let pattern = format!("{prefix}.*");
    let domain = reverse_domain(prefix);
    let did = resolver.authority_of_domain(&pattern, &domain).await?;
    let all = resolver.list(&pattern, did.as_str()).await?;
    let under = format!("{prefix}.");
    let found = all.into_iter().filter(|n| n.starts_with(&under)).collect();
    Ok((did.as_str().to_owned(), found))
}

async fn install_one(
    args: &Args,
    resolver: &LexiconResolver,
    old: &Manifest,
    nsid: &str,
) -> Result<Installed, OneError> {
    // An AT-URI argument names the repository; a manifest entry from
    // another one does not count.
    let source = args.sources.get(nsid).map(String::as_str);
    let pinned = old
        .resolutions
        .get(nsid)
        .filter(|r| source.is_none() || r.did() == source);
    if let (false, Some(r)) = (args.update, pinned) {
        if let OnDisk::Matches(document) = on_disk(&args.lexicons, nsid, &r.cid) {
            return Ok(Installed {
                how: How::Kept,
                document,
                resolution: r.clone(),
            });
        }
    }
    // A file that is there but is not what the manifest says may be local
    // work: only --update replaces it.
    let path = args.lexicons.join(document_path(nsid));
    if !args.update && path.exists() {
        let why = match pinned {
            Some(r) => format!("does not match its manifest CID {}", r.cid),
            None => "is not the manifest's copy of this record".to_owned(),
        };
        return Err(OneError::Local(format!(
            "{}: {why}; not replaced (--update replaces it)",
            path.display()
        )));
    }
    // An AT-URI argument, or else a pinned authority, is fetched from that
    // repository; --update and new NSIDs resolve the authority through DNS.
    let did = source.or_else(|| pinned.and_then(|r| r.did()).filter(|_| !args.update));
    let resolved = match did {
        Some(did) => resolver.fetch_from(nsid, did).await?,
        None => resolver.resolve(nsid).await?,
    };
    let text = checked_text(&resolved)?;
    Ok(Installed {
        how: How::Fetched(text),
        resolution: Resolution {
            uri: resolved.uri.clone(),
            cid: resolved.cid.to_string(),
        },
        document: resolved.document,
    })
}

/// Checks a verified document as lexgen reads lexicons and returns the
/// text of its file; its CID as written must be the record's.
fn checked_text(resolved: &ResolvedLexicon) -> Result<String, OneError> {
    let nsid = resolved.nsid.as_str();
    let parse_err = |why: String| LexError::new(nsid, ErrorKind::Parse(why));
    check_document(nsid, &resolved.document).map_err(|k| LexError::new(nsid, k))?;
    let mut text =
        serde_json::to_string_pretty(&resolved.document).map_err(|e| parse_err(e.to_string()))?;
    text.push('\n');
    if let Err(errors) = atmo_lexgen::model::parse_document(nsid, &text) {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(parse_err(all.join("; ")).into());
    }
    let reread: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| parse_err(e.to_string()))?;
    let cid = document_cid(&reread).map_err(|k| LexError::new(nsid, k))?;
    if cid != resolved.cid {
        return Err(LexError::new(
            nsid,
            ErrorKind::CidMismatch {
                expected: resolved.cid,
                found: cid,
            },
        )
        .into());
    }
    Ok(text)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, so
/// that an interrupted run leaves the old file or the new one.
fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".lexgen-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use atmo_lexicon::authority_domain;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn arguments() {
        let a = parse_args(&s(&[
            "com.example.a",
            "com.example.*",
            "--lexicons",
            "lx",
            "--manifest",
            "m.json",
            "--no-save",
            "--dns",
            "127.0.0.1:5300",
            "--plc",
            "http://localhost:2582",
            "--allow-private-hosts",
        ]))
        .unwrap();
        assert_eq!(a.targets, s(&["com.example.a", "com.example.*"]));
        assert_eq!(a.lexicons, PathBuf::from("lx"));
        assert_eq!(a.manifest, PathBuf::from("m.json"));
        assert!(a.no_save && a.net.allow_private_hosts);
        assert_eq!(a.net.dns.len(), 1);
        assert!(parse_args(&s(&["nope"])).is_err());
        assert!(parse_args(&s(&["com.*"])).is_err());
        assert!(parse_args(&s(&["--dns", "example.com"])).is_err());
        assert!(parse_args(&s(&["--ci", "--update"])).is_err());
        assert!(parse_args(&s(&["--frobnicate"])).is_err());
        let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        let a = parse_args(&s(&[&format!(
            "at://{did}/com.atproto.lexicon.schema/com.example.a"
        )]))
        .unwrap();
        assert_eq!(a.targets, s(&["com.example.a"]));
        assert_eq!(a.sources["com.example.a"], did);
        for bad in [
            format!("at://{did}/app.bsky.feed.post/com.example.a"),
            "at://alice.example.com/com.atproto.lexicon.schema/com.example.a".to_owned(),
            format!("at://{did}/com.atproto.lexicon.schema"),
            format!("at://{did}/com.atproto.lexicon.schema/3kabc"),
        ] {
            assert!(parse_args(&s(&[&bad])).is_err(), "{bad}");
        }
    }

    /// A failed step whose development option was not given names that
    /// option; given, or for other steps and local errors, no hint.
    #[test]
    fn resolution_failures_name_the_option_a_local_setup_needs() {
        let dns = || {
            OneError::Lexicon(LexError::new(
                "com.example.a",
                ErrorKind::NoAuthorityRecord {
                    name: "_lexicon.example.com".into(),
                },
            ))
        };
        let pds = || {
            OneError::Lexicon(LexError::new(
                "com.example.b",
                ErrorKind::Pds("the PDS host localhost is a loopback name".into()),
            ))
        };
        let none = NetOptions::default();
        let hinted = hints(&[dns(), pds(), dns()], &none);
        assert_eq!(hinted.len(), 2, "{hinted:?}");
        assert!(hinted[0].contains("--dns IP:PORT"), "{}", hinted[0]);
        assert!(hinted[1].contains("--allow-private-hosts"), "{}", hinted[1]);
        let local = NetOptions {
            dns: vec!["127.0.0.1:5300".parse().unwrap()],
            plc: Some("http://localhost:2582".into()),
            allow_private_hosts: true,
        };
        assert!(hints(&[dns(), pds()], &local).is_empty());
        let signature = OneError::Lexicon(LexError::new(
            "com.example.a",
            ErrorKind::Signature("bad".into()),
        ));
        assert!(hints(&[signature, OneError::Local("x".into())], &none).is_empty());
    }

    #[test]
    fn authority_of_an_nsid_and_a_prefix_agree() {
        assert_eq!(
            authority_domain("com.example.feed.post").unwrap(),
            reverse_domain("com.example.feed")
        );
    }

    /// `--ci` after a file was edited names that file; a missing file too;
    /// no network is involved.
    #[test]
    fn ci_names_each_file_that_is_missing_or_edited() {
        let dir = std::env::temp_dir().join(format!("lexgen-ci-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let lexicons = dir.join("lexicons");
        let doc = serde_json::json!({
            "$type": "com.atproto.lexicon.schema",
            "lexicon": 1, "id": "com.example.a",
            "defs": {"main": {"type": "token"}}
        });
        let path = lexicons.join("com/example/a.json");
        write(
            &path,
            serde_json::to_string_pretty(&doc).unwrap().as_bytes(),
        )
        .unwrap();
        let cid = document_cid(&doc).unwrap().to_string();
        let mut manifest = Manifest::default();
        for n in ["com.example.a", "com.example.b"] {
            manifest.lexicons.insert(n.into());
            manifest.resolutions.insert(
                n.into(),
                Resolution {
                    uri: format!(
                        "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/com.atproto.lexicon.schema/{n}"
                    ),
                    cid: cid.clone(),
                },
            );
        }
        let args = Args {
            lexicons: lexicons.clone(),
            manifest: dir.join("lexicons.json"),
            ci: true,
            ..Args::default()
        };
        // b is missing.
        assert!(matches!(
            on_disk(&lexicons, "com.example.a", &cid),
            OnDisk::Matches(_)
        ));
        assert!(matches!(
            on_disk(&lexicons, "com.example.b", &cid),
            OnDisk::Missing
        ));
        assert_eq!(ci(&args, Some(&manifest)), ExitCode::from(2));
        manifest.lexicons.remove("com.example.b");
        manifest.resolutions.remove("com.example.b");
        assert_eq!(ci(&args, Some(&manifest)), ExitCode::SUCCESS);
        // An edit, even one that keeps the JSON valid, is caught.
        let edited = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"token\"", "\"string\"");
        std::fs::write(&path, edited).unwrap();
        match on_disk(&lexicons, "com.example.a", &cid) {
            OnDisk::Differs(why) => {
                assert!(why.contains("does not match its manifest CID"), "{why}")
            }
            _ => panic!("an edited file must differ"),
        }
        assert_eq!(ci(&args, Some(&manifest)), ExitCode::from(2));
        assert_eq!(ci(&args, None), ExitCode::from(2));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
