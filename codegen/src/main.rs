//! The `lexgen` command line.
//!
//! ```text
//! lexgen generate --lexicons DIR [--lexicons DIR ...] --out DIR
//!                 [--external-crate NAME=DIR ...] [--no-external] [--secret NAME ...]
//! lexgen validate [--lexicons DIR ...] [--no-builtin] [--nsid NSID] FILE.json...
//! ```
//!
//! `generate` writes a module tree whose root file `lib.rs` works as the
//! `lib.rs` of a crate depending on `atproto-types` and `serde`. References
//! into an external crate's lexicons (by default the official set, `atproto_api`
//! from the `lexicons/` folder of this repository when it is found) resolve to
//! `::atproto_api::...` paths and are not generated again. String
//! properties named by `--secret` (by default [`DEFAULT_SECRETS`]) print as
//! `***` in the generated `Debug`.
//!
//! `generate` exit codes: 0 done, 1 usage or I/O error, 2 lexicon errors (each
//! printed as `file: json.path: problem`).
//!
//! `validate` checks each file (one record) against the lexicons at run time:
//! the official set built into the binary (unless `--no-builtin`) and those
//! of `--lexicons` (which take precedence for an NSID both define). A
//! reference that does not resolve is reported only for a record that
//! reaches it. It prints one line per file, `FILE: ok` or `FILE: ` and every violation
//! with its path (`; `-separated). Exit codes: 0 all valid, 1 some invalid,
//! 2 unusable input (usage, unreadable file, bad JSON, unknown NSID, bad
//! lexicon), with the reason on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage:
  lexgen generate --lexicons DIR [--lexicons DIR ...] --out DIR
                  [--external-crate NAME=DIR ...] [--no-external] [--secret NAME ...]
  lexgen validate [--lexicons DIR ...] [--no-builtin] [--nsid NSID] FILE.json...

--external-crate NAME=DIR  lexicons in DIR are already generated in crate NAME:
                           refs into them become ::NAME::... paths.
                           Default: atproto_api=<this repository>/lexicons when found.
--no-external              do not use the default external crate.
--secret NAME              a string property whose value generated Debug prints
                           as ***; repeatable. Default: password, accessJwt,
                           refreshJwt, token, authFactorToken, code, inviteCode.
--nsid NSID                (validate) check every file as this record type
                           instead of the one its $type names.
--no-builtin               (validate) leave out the official lexicons built
                           into lexgen; --lexicons DIR... are then all there is.";

/// The string properties whose values are secrets when no `--secret` is
/// given: passwords, session JWTs, one-time email/PLC/SMS tokens and codes.
const DEFAULT_SECRETS: &[&str] = &[
    "password",
    "accessJwt",
    "refreshJwt",
    "token",
    "authFactorToken",
    "code",
    "inviteCode",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("generate") => generate(&args[1..]),
        Some("validate") => validate(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(1)
        }
    }
}

fn default_official() -> Option<PathBuf> {
    // The repository this binary was built from.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lexicons");
    dir.is_dir().then_some(dir)
}

/// `lexgen generate` arguments, with the defaults applied.
struct GenerateArgs {
    lexicons: Vec<PathBuf>,
    out: PathBuf,
    externals: Vec<(String, PathBuf)>,
    secrets: Vec<String>,
}

fn generate_args(args: &[String]) -> Result<GenerateArgs, String> {
    let mut lexicons = Vec::new();
    let mut out = None;
    let mut externals: Vec<(String, PathBuf)> = Vec::new();
    let mut no_external = false;
    let mut secrets: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--lexicons" => lexicons.push(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--external-crate" => {
                let v = value()?;
                let (n, d) = v.split_once('=').ok_or("--external-crate takes NAME=DIR")?;
                externals.push((n.replace('-', "_"), PathBuf::from(d)));
            }
            "--no-external" => no_external = true,
            "--secret" => secrets.push(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let out = out.ok_or("--out is required")?;
    if lexicons.is_empty() {
        return Err("--lexicons is required".into());
    }
    if secrets.is_empty() {
        secrets = DEFAULT_SECRETS.iter().map(|s| s.to_string()).collect();
    }
    if externals.is_empty() && !no_external {
        if let Some(dir) = default_official() {
            let canon = |p: &Path| p.canonicalize().ok();
            // Generating the official set itself: no external crate.
            if !lexicons.iter().any(|l| canon(l) == canon(&dir)) {
                externals.push(("atproto_api".into(), dir));
            }
        }
    }
    Ok(GenerateArgs {
        lexicons,
        out,
        externals,
        secrets,
    })
}

fn generate(args: &[String]) -> ExitCode {
    let GenerateArgs {
        lexicons,
        out,
        externals,
        secrets,
    } = match generate_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let result = build(&lexicons, &externals, secrets);
    let generated = match result {
        Ok(g) => g,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("lexgen: {} error(s); nothing written", errors.len());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = write_files(&out, &generated) {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    eprintln!(
        "lexgen: wrote {} files to {}",
        generated.files.len(),
        out.display()
    );
    for (krate, features) in &generated.external_features {
        let list: Vec<&str> = features.iter().map(String::as_str).collect();
        eprintln!(
            "lexgen: the generated code uses {krate} with features: {}",
            list.join(", ")
        );
    }
    ExitCode::SUCCESS
}

/// Loads the lexicons and the external crates' and generates.
fn build(
    lexicons: &[PathBuf],
    externals: &[(String, PathBuf)],
    secrets: Vec<String>,
) -> Result<lexgen::Generated, Vec<lexgen::Error>> {
    let mut errors = Vec::new();
    let mut local = Vec::new();
    for dir in lexicons {
        match lexgen::load_dir(dir) {
            Ok(d) => local.extend(d),
            Err(e) => errors.extend(e),
        }
    }
    let mut external = Vec::new();
    for (name, dir) in externals {
        match lexgen::load_dir(dir) {
            Ok(d) => external.push((name.clone(), d)),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        lexgen::Set::build(local, external).and_then(|set| {
            let opts = lexgen::Options {
                source_label: "lexicons".into(),
                regenerate_hint: "lexgen generate".into(),
                features: false,
                crate_doc: "Types and XRPC endpoints generated by lexgen.".into(),
                secret_properties: secrets,
            };
            lexgen::generate(&set, &opts)
        })
    } else {
        Err(errors)
    }
}

/// Writes the generated files under `out`.
fn write_files(out: &Path, generated: &lexgen::Generated) -> Result<(), String> {
    for (rel, text) in &generated.files {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

// The official lexicons, embedded by build.rs.
include!(concat!(env!("OUT_DIR"), "/builtin_lexicons.rs"));

/// `lexgen validate` arguments.
#[derive(Default)]
struct ValidateArgs {
    lexicons: Vec<PathBuf>,
    nsid: Option<String>,
    no_builtin: bool,
    files: Vec<PathBuf>,
}

fn validate_args(args: &[String]) -> Result<ValidateArgs, String> {
    let mut v = ValidateArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--lexicons" | "--nsid" => {
                let value = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                if a == "--nsid" {
                    v.nsid = Some(value.clone());
                } else {
                    v.lexicons.push(PathBuf::from(value));
                }
            }
            "--no-builtin" => v.no_builtin = true,
            other if other.starts_with("--") => return Err(format!("unknown argument {other:?}")),
            file => v.files.push(PathBuf::from(file)),
        }
    }
    if v.files.is_empty() {
        return Err("at least one file is required".into());
    }
    if v.no_builtin && v.lexicons.is_empty() {
        return Err("--no-builtin needs --lexicons".into());
    }
    Ok(v)
}

/// The `--lexicons` documents, then the built-in ones whose NSID none of
/// them defines (so `--lexicons lexicons` or a newer copy of an official
/// document takes precedence).
fn validation_set(args: &ValidateArgs) -> Result<lexgen::Set, Vec<lexgen::Error>> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for dir in &args.lexicons {
        match lexgen::load_dir_any(dir) {
            Ok(d) => docs.extend(d),
            Err(e) => errors.extend(e),
        }
    }
    if !args.no_builtin {
        let given: std::collections::BTreeSet<String> = docs.iter().map(|d| d.id.clone()).collect();
        for (path, text) in BUILTIN_LEXICONS {
            match lexgen::model::parse_document(&format!("(built in) lexicons/{path}"), text) {
                Ok(d) if !given.contains(&d.id) => docs.push(d),
                Ok(_) => {}
                Err(e) => errors.extend(e),
            }
        }
    }
    if errors.is_empty() {
        lexgen::Set::build_for_validation(docs)
    } else {
        Err(errors)
    }
}

fn validate(args: &[String]) -> ExitCode {
    let args = match validate_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let set = match validation_set(&args) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "lexgen validate: {} lexicon error(s); nothing checked",
                errors.len()
            );
            return ExitCode::from(2);
        }
    };
    let (mut invalid, mut unusable) = (false, false);
    for file in &args.files {
        match check_file(&set, args.nsid.as_deref(), file) {
            Ok(violations) if violations.is_empty() => println!("{}: ok", file.display()),
            Ok(violations) => {
                invalid = true;
                let all: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
                println!("{}: {}", file.display(), all.join("; "));
            }
            Err(reason) => {
                unusable = true;
                eprintln!("lexgen validate: {}: {reason}", file.display());
            }
        }
    }
    if unusable {
        ExitCode::from(2)
    } else if invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// One record file's violations, or why it cannot be checked.
fn check_file(
    set: &lexgen::Set,
    nsid: Option<&str>,
    file: &Path,
) -> Result<Vec<atproto_types::validate::Violation>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    let value = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => v,
        Err(e) => return json_problem(&e),
    };
    lexgen::validate::validate_record(set, nsid, &value).map_err(|e| e.0)
}

/// Deepest nesting of arrays and objects a record file may have: serde_json's
/// recursion limit (128 levels) less one, so that reading never exhausts the
/// stack and the checks that walk the value stay bounded too.
const MAX_NESTING: usize = 127;

/// What is wrong with a file serde_json cannot read. Valid JSON that is not
/// data-model text says so: a nesting deeper than [`MAX_NESTING`] (exit 2,
/// this tool's limit) or a `\uD800`-style escape that is half of a UTF-16
/// pair (a violation: atproto strings are Unicode text).
fn json_problem(e: &serde_json::Error) -> Result<Vec<atproto_types::validate::Violation>, String> {
    let at = format!("line {} column {}", e.line(), e.column());
    let text = e.to_string();
    if text.starts_with("recursion limit exceeded") {
        return Err(format!(
            "nested deeper than {MAX_NESTING} levels of arrays and objects at {at} \
             (the most lexgen validate reads)"
        ));
    }
    if text.starts_with("lone leading surrogate")
        || text.starts_with("unexpected end of hex escape")
    {
        let mut out = atproto_types::validate::Violations::default();
        out.push(
            &atproto_types::validate::Path::Root,
            format_args!(
                "data model: a string escape at {at} is a lone UTF-16 surrogate \
                 (\\uD800-\\uDFFF without its pair), which is not Unicode text"
            ),
        );
        return Ok(out.0);
    }
    Err(format!("invalid JSON: {e}"))
}
