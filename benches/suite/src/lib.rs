//! Shared pieces of the benchmarks: the fixtures and, per party, the types a
//! `getTimeline` and a `createSession` response decode into.
//!
//! Every party decodes with `serde_json::from_str` and encodes with
//! `serde_json::to_string`, so the JSON layer is the same for all and the
//! difference measured is the shape of the types and their serde impls.

/// A 50-item `app.bsky.feed.getTimeline` response (see `fixture-gen`).
pub const TIMELINE: &str = include_str!("../../fixtures/timeline.json");
/// A `com.atproto.server.createSession` response with a DID document.
pub const SESSION: &str = include_str!("../../fixtures/session.json");

/// This repository's generated `atmo-api` (default features).
pub mod ours {
    /// `app.bsky.feed.getTimeline` output.
    pub type Timeline = atmo_api::app::bsky::feed::get_timeline::Output;
    /// `com.atproto.server.createSession` output.
    pub type Session = atmo_api::com::atproto::server::create_session::Output;
}

/// The untyped baseline: `serde_json::Value`.
pub mod value {
    /// Any JSON.
    pub type Timeline = serde_json::Value;
    /// Any JSON.
    pub type Session = serde_json::Value;
}

/// atrium-api 0.26.0.
pub mod atrium {
    /// `app.bsky.feed.getTimeline` output.
    pub type Timeline = atrium_api::app::bsky::feed::get_timeline::Output;
    /// `com.atproto.server.createSession` output.
    pub type Session = atrium_api::com::atproto::server::create_session::Output;
}

/// jacquard-api 0.12.2 with strings as `CowStr`, borrowed from the input
/// where no unescaping is needed (its fastest owned-or-borrowed mode).
pub mod jacquard {
    use jacquard_common::CowStr;
    /// `app.bsky.feed.getTimeline` output.
    pub type Timeline<'a> =
        jacquard_api::app_bsky::feed::get_timeline::GetTimelineOutput<CowStr<'a>>;
    /// `com.atproto.server.createSession` output.
    pub type Session<'a> =
        jacquard_api::com_atproto::server::create_session::CreateSessionOutput<CowStr<'a>>;
}

/// Decodes `input` as `T` and encodes it back.
pub fn round_trip<'a, T: serde::Deserialize<'a> + serde::Serialize>(
    input: &'a str,
) -> Result<String, String> {
    let typed: T = serde_json::from_str(input).map_err(|e| format!("decode: {e}"))?;
    serde_json::to_string(&typed).map_err(|e| format!("encode: {e}"))
}

/// Where two JSON values differ (`None` when equal), as JSON-pointer paths.
pub fn json_diff(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    fn walk(a: &Value, b: &Value, path: &mut String, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    let len = path.len();
                    path.push('/');
                    path.push_str(k);
                    match (x.get(k), y.get(k)) {
                        (Some(p), Some(q)) => walk(p, q, path, out),
                        (Some(_), None) => out.push(format!("{path}: dropped")),
                        (None, Some(_)) => out.push(format!("{path}: added")),
                        (None, None) => {}
                    }
                    path.truncate(len);
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    walk(p, q, path, out);
                    path.truncate(len);
                }
            }
            _ if a == b => {}
            _ => out.push(format!("{path}: {a} != {b}")),
        }
    }
    let mut out = Vec::new();
    walk(a, b, &mut String::new(), &mut out);
    out
}
