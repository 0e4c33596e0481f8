//! Every party decodes both fixtures and encodes them back to JSON equal to
//! the input (as JSON values: key order aside). A fixture only counts as
//! fair if all parties carry all of it.

use bench_suite::*;

fn check<'a, T: serde::Deserialize<'a> + serde::Serialize>(
    party: &str,
    fixture: &str,
    input: &'a str,
) {
    let out = round_trip::<T>(input).unwrap_or_else(|e| panic!("{party} {fixture}: {e}"));
    let a: serde_json::Value = serde_json::from_str(input).unwrap();
    let b: serde_json::Value = serde_json::from_str(&out).unwrap();
    let diff = json_diff(&a, &b);
    assert!(
        diff.is_empty(),
        "{party} {fixture} is lossy in {} places:\n{}",
        diff.len(),
        diff[..diff.len().min(20)].join("\n")
    );
}

#[test]
fn ours_is_lossless() {
    check::<ours::Timeline>("ours", "timeline", TIMELINE);
    check::<ours::Session>("ours", "session", SESSION);
}

#[test]
fn value_is_lossless() {
    check::<value::Timeline>("Value", "timeline", TIMELINE);
    check::<value::Session>("Value", "session", SESSION);
}

#[test]
fn atrium_is_lossless() {
    check::<atrium::Timeline>("atrium", "timeline", TIMELINE);
    check::<atrium::Session>("atrium", "session", SESSION);
}

#[test]
fn jacquard_is_lossless() {
    check::<jacquard::Timeline>("jacquard", "timeline", TIMELINE);
    check::<jacquard::Session>("jacquard", "session", SESSION);
}

#[test]
fn fixtures_are_current() {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["run", "-q", "-p", "fixture-gen", "--target-dir"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/fixture"))
        .arg("--")
        .arg("--check")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "benches/fixtures differ from what fixture-gen writes"
    );
}
