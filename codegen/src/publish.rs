//! `lexgen publish`: a folder of lexicon documents as
//! `com.atproto.lexicon.schema` records of the author's repository
//! (feature `net`). Raw XRPC calls over the HTTP client: no session layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use atmo_lexicon::{authority_domain, check_document, record_cid, SCHEMA_COLLECTION};
use atmo_xrpc::{check_url, HttpClient, HttpMethod, HttpRequest, HttpResponse, ServiceUrl};

use crate::netopts::{self, wants_help};

/// The environment variable holding the account's handle, DID or email.
pub const IDENTIFIER_VAR: &str = "LEXGEN_IDENTIFIER";
/// The environment variable holding the account's (app) password.
pub const PASSWORD_VAR: &str = "LEXGEN_PASSWORD";
/// The environment variable naming the PDS when `--pds` is not given.
pub const PDS_VAR: &str = "LEXGEN_PDS";

/// Timeout of each request to the PDS.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest JSON answer read from the PDS.
const MAX_RESPONSE: usize = 4 << 20;

/// `lexgen publish --help`.
pub fn usage() -> String {
    format!(
        "usage: lexgen publish DIR --pds URL

Publishes every lexicon document under DIR (*.json, recursively) as a
{SCHEMA_COLLECTION} record keyed by its id in the repository of the account
logged in, skipping documents whose record is already the same (same CID).
Then prints the DNS TXT record each authority needs so that others can
resolve the lexicons (`lexgen install`, `lex install`):
  _lexicon.<authority> TXT \"did=<your DID>\"
Until that record is set, `lexgen install at://<your DID>/{SCHEMA_COLLECTION}/<nsid>`
installs a document without asking DNS.

{IDENTIFIER_VAR}   the account's handle, DID or email (required).
{PASSWORD_VAR}     its password; an app password is best (required).
--pds URL           the account's PDS, e.g. https://pds.example.com (required;
                    the environment variable {PDS_VAR} may give it instead).

Exit codes: 0 done, 1 usage, I/O or login error, 2 a document is not a
lexicon or the PDS refused a record."
    )
}

/// Runs `lexgen publish`.
pub fn run(args: &[String]) -> ExitCode {
    if wants_help(args) {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let mut dir = None;
    let mut pds = std::env::var(PDS_VAR).ok();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--pds" => match it.next() {
                Some(v) => pds = Some(v.clone()),
                None => return usage_error("--pds needs a value"),
            },
            s if s.starts_with('-') => return usage_error(&format!("unknown option {s:?}")),
            s if dir.is_none() => dir = Some(PathBuf::from(s)),
            s => return usage_error(&format!("one DIR only ({s:?} is a second one)")),
        }
    }
    let Some(dir) = dir else {
        return usage_error("DIR is required");
    };
    let Some(pds) = pds else {
        return usage_error(&format!("--pds URL (or ${PDS_VAR}) is required"));
    };
    let pds = match check_url(&pds, false) {
        Ok(u) => u,
        Err(e) => return usage_error(&format!("--pds {pds:?}: {e}")),
    };
    let (Ok(identifier), Ok(password)) =
        (std::env::var(IDENTIFIER_VAR), std::env::var(PASSWORD_VAR))
    else {
        return usage_error(&format!("{IDENTIFIER_VAR} and {PASSWORD_VAR} must be set"));
    };
    let password = atmo_xrpc::Secret::new(password);

    let documents = match load(&dir) {
        Ok(d) => d,
        Err(problems) => {
            for p in problems {
                eprintln!("lexgen publish: {p}");
            }
            return ExitCode::from(2);
        }
    };
    if documents.is_empty() {
        eprintln!("lexgen publish: no *.json lexicon under {}", dir.display());
        return ExitCode::from(1);
    }
    let rt = match netopts::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lexgen publish: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async {
        let http = match netopts::http() {
            Ok(h) => h,
            Err(e) => {
                eprintln!("lexgen publish: {e}");
                return ExitCode::from(1);
            }
        };
        let session = match login(&http, &pds, &identifier, &password).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("lexgen publish: login as {identifier}: {e}");
                return ExitCode::from(1);
            }
        };
        let mut failed = false;
        for (nsid, (file, doc)) in &documents {
            match put(&http, &pds, &session, nsid, doc).await {
                Ok(Outcome::Unchanged(cid)) => println!("unchanged {nsid} ({cid})"),
                Ok(Outcome::Published(cid)) => println!("published {nsid} ({cid})"),
                Err(e) => {
                    eprintln!("lexgen publish: {} ({nsid}): {e}", file.display());
                    failed = true;
                }
            }
        }
        let authorities: BTreeSet<String> = documents
            .keys()
            .filter_map(|n| authority_domain(n).ok())
            .collect();
        println!("\nDNS records to set (one per authority):");
        for a in authorities {
            println!("_lexicon.{a} TXT \"did={}\"", session.did);
        }
        if failed {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    })
}

fn usage_error(why: &str) -> ExitCode {
    eprintln!("lexgen publish: {why}\n\n{}", usage());
    ExitCode::from(1)
}

type Documents = BTreeMap<String, (PathBuf, serde_json::Value)>;

/// Every `*.json` under `dir`, each a lexicon document (checked as lexgen
/// reads them), by id; two files with one id are an error.
fn load(dir: &Path) -> Result<Documents, Vec<String>> {
    let mut files = Vec::new();
    collect(dir, &mut files).map_err(|e| vec![e])?;
    files.sort();
    let mut out = Documents::new();
    let mut problems = Vec::new();
    for f in files {
        let shown = f.display().to_string();
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let doc = match atmo_lexgen::model::parse_document(&shown, &text) {
            Ok(d) => d,
            Err(errors) => {
                problems.extend(errors.iter().map(ToString::to_string));
                continue;
            }
        };
        let json: serde_json::Value = match serde_json::from_str(&text) {
            Ok(j) => j,
            Err(e) => {
                problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        if let Err(e) = check_document(&doc.id, &json).and_then(|()| record_cid(&json).map(drop)) {
            problems.push(format!("{shown}: {e}"));
            continue;
        }
        if let Some((other, _)) = out.get(&doc.id) {
            problems.push(format!(
                "{shown}: id {} is also the id of {}",
                doc.id,
                other.display()
            ));
            continue;
        }
        out.insert(doc.id.clone(), (f, json));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in rd {
        let p = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// A logged-in account: its DID and access token (never printed).
struct Session {
    did: String,
    access: atmo_xrpc::Secret,
}

async fn xrpc(
    http: &Arc<dyn HttpClient>,
    pds: &ServiceUrl,
    method: HttpMethod,
    nsid: &str,
    query: &[(String, String)],
    body: Option<&serde_json::Value>,
    access: Option<&atmo_xrpc::Secret>,
) -> Result<HttpResponse, String> {
    let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    if let Some(token) = access {
        headers.push(("authorization".into(), format!("Bearer {}", token.expose())));
    }
    let request = HttpRequest {
        method,
        url: pds.xrpc_url(nsid, query),
        headers,
        body: body.map(|b| b.to_string().into_bytes()),
        timeout: TIMEOUT,
        max_response_size: MAX_RESPONSE,
    };
    http.send(request).await.map_err(|e| format!("{nsid}: {e}"))
}

/// The XRPC error of a non-200 answer: `status error: message`.
fn describe(nsid: &str, r: &HttpResponse) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let field = |k: &str| v.get(k).and_then(|e| e.as_str()).unwrap_or("").to_owned();
    let mut message = field("message");
    message.truncate(300);
    format!("{nsid}: HTTP {} {} {}", r.status, field("error"), message)
        .trim_end()
        .to_owned()
}

async fn login(
    http: &Arc<dyn HttpClient>,
    pds: &ServiceUrl,
    identifier: &str,
    password: &atmo_xrpc::Secret,
) -> Result<Session, String> {
    let nsid = "com.atproto.server.createSession";
    let body = serde_json::json!({"identifier": identifier, "password": password.expose()});
    let r = xrpc(http, pds, HttpMethod::Post, nsid, &[], Some(&body), None).await?;
    if r.status != 200 {
        return Err(describe(nsid, &r));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("{nsid}: {e}"))?;
    let text = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("{nsid}: the answer has no {k}"))
    };
    Ok(Session {
        did: text("did")?,
        access: atmo_xrpc::Secret::new(text("accessJwt")?),
    })
}

enum Outcome {
    Unchanged(String),
    Published(String),
}

async fn put(
    http: &Arc<dyn HttpClient>,
    pds: &ServiceUrl,
    session: &Session,
    nsid: &str,
    doc: &serde_json::Value,
) -> Result<Outcome, String> {
    let mut record = doc.clone();
    if let Some(m) = record.as_object_mut() {
        m.entry("$type")
            .or_insert_with(|| serde_json::Value::String(SCHEMA_COLLECTION.to_owned()));
    }
    let want = record_cid(&record).map_err(|e| e.to_string())?.to_string();
    let query = [
        ("repo".to_owned(), session.did.clone()),
        ("collection".to_owned(), SCHEMA_COLLECTION.to_owned()),
        ("rkey".to_owned(), nsid.to_owned()),
    ];
    let get = "com.atproto.repo.getRecord";
    let r = xrpc(http, pds, HttpMethod::Get, get, &query, None, None).await?;
    if r.status == 200 {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if v.get("cid").and_then(|c| c.as_str()) == Some(want.as_str()) {
            return Ok(Outcome::Unchanged(want));
        }
    } else if !describe(get, &r).contains("RecordNotFound") {
        return Err(describe(get, &r));
    }
    let put = "com.atproto.repo.putRecord";
    let body = serde_json::json!({
        "repo": session.did,
        "collection": SCHEMA_COLLECTION,
        "rkey": nsid,
        "record": record,
    });
    let r = xrpc(
        http,
        pds,
        HttpMethod::Post,
        put,
        &[],
        Some(&body),
        Some(&session.access),
    )
    .await?;
    if r.status != 200 {
        return Err(describe(put, &r));
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    match v.get("cid").and_then(|c| c.as_str()) {
        Some(cid) if cid == want => Ok(Outcome::Published(want)),
        Some(cid) => Err(format!(
            "the PDS stored it as {cid}, not as {want}: installs will see its CID"
        )),
        None => Err(format!("{put}: the answer has no cid")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_refuses_non_lexicons_and_duplicate_ids() {
        let dir = std::env::temp_dir().join(format!("lexgen-publish-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a")).unwrap();
        let doc = r#"{"lexicon": 1, "id": "com.example.a", "defs": {"main": {"type": "token"}}}"#;
        std::fs::write(dir.join("a/a.json"), doc).unwrap();
        let loaded = load(&dir).unwrap();
        assert_eq!(loaded.keys().collect::<Vec<_>>(), ["com.example.a"]);
        std::fs::write(dir.join("b.json"), doc).unwrap();
        let e = load(&dir).unwrap_err();
        assert!(e[0].contains("also the id of"), "{e:?}");
        std::fs::remove_file(dir.join("b.json")).unwrap();
        std::fs::write(dir.join("c.json"), r#"{"lexicon": 1, "defs": {}}"#).unwrap();
        assert!(load(&dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
