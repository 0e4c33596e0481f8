//! `cargo xtask lexicons --version X`: replaces `lexicons/` with the lexicon
//! documents shipped in the npm package `@atproto/api` at version X.
//!
//! The package carries every document in `dist/client/lexicons.js` as one
//! object literal; `extract_lexicons.js` evaluates just that literal (in an
//! empty VM context) and writes one JSON file per NSID. Node and npm are needed
//! for this refresh only, never for building or generating code.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::{run_status as run_cmd, workspace_root};

const EXTRACT_JS: &str = include_str!("extract_lexicons.js");

pub fn run(args: &[String]) -> Result<(), String> {
    let version = match args {
        [flag, v] if flag == "--version" => v.clone(),
        _ => return Err("usage: cargo xtask lexicons --version X (e.g. 0.21.0)".into()),
    };
    if !version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(format!("{version:?} is not a package version"));
    }
    let root = workspace_root();
    let work = root.join("target/xtask-lexicons");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;

    let spec = format!("@atproto/api@{version}");
    run_cmd(
        Command::new("npm")
            .args(["pack", &spec, "--silent"])
            .current_dir(&work),
    )?;
    let tarball = fs::read_dir(&work)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or("npm pack produced no tarball")?;
    run_cmd(
        Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .current_dir(&work),
    )?;

    let script = work.join("extract_lexicons.js");
    fs::write(&script, EXTRACT_JS).map_err(|e| e.to_string())?;
    let staged = work.join("lexicons");
    fs::create_dir_all(&staged).map_err(|e| e.to_string())?;
    run_cmd(
        Command::new("node")
            .arg(&script)
            .arg(work.join("package/dist/client/lexicons.js"))
            .arg(&staged),
    )?;

    // Swap in the new documents, keeping the hand-written README.
    let target = root.join("lexicons");
    for entry in fs::read_dir(&target).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            fs::remove_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    copy_tree(&staged, &target)?;
    let count = count_json(&target);
    println!("lexicons/: {count} documents from {spec}; update lexicons/README.md, then run cargo xtask codegen");
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    for entry in fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
            copy_tree(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
    }
    Ok(())
}

fn count_json(dir: &Path) -> usize {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_json(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "json"))
            }
        })
        .sum()
}
