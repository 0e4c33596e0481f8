//! Replays `@atproto/api`'s published moderation suites, as extracted by
//! `tests/moderation-data/extract.mjs` from the upstream test files (which
//! are not kept in this repository), against this crate's moderation.
//!
//! Each recorded case names the upstream test; for every call it made the
//! data holds the subject, the options and the reference package's answer
//! (UI flags in all eight contexts and cause types, or the matched muted
//! words). Every difference is reported with the case's name.
//!
//! The data is looked for in `$ATPROTO_MODERATION_SUITES`, else
//! `target/moderation-suites` of the workspace. Without it each test prints
//! a notice and checks nothing else: run the extraction first (see the
//! script's header).
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "app-bsky")]

/// Every test's path starts with `moderation::`, so that
/// `cargo test -p atmo-client moderation` runs them all.
mod moderation {
    use std::path::PathBuf;
    use std::time::{SystemTime, UNIX_EPOCH};

    use atmo_client::atmo_api::app::bsky::actor::defs::{MutedWord, ProfileViewBasic};
    use atmo_client::atmo_api::app::bsky::feed::defs::{GeneratorView, PostView};
    use atmo_client::atmo_api::app::bsky::graph::defs::ListView;
    use atmo_client::atmo_api::app::bsky::notification::list_notifications::Notification;
    use atmo_client::atmo_types::object::Open;
    use atmo_client::atmo_types::{Datetime, Did};
    use atmo_client::moderation::*;
    use serde_json::Value;

    fn suites_dir() -> PathBuf {
        match std::env::var_os("ATPROTO_MODERATION_SUITES") {
            Some(d) => PathBuf::from(d),
            None => {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/moderation-suites")
            }
        }
    }

    fn load(suite: &str) -> Option<Value> {
        let path = suites_dir().join(format!("{suite}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!(
                "notice: {} not found; the published @atproto/api suite {suite} was not replayed \
                 (run crates/atmo-client/tests/moderation-data/extract.mjs first)",
                path.display()
            );
            return None;
        };
        match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => panic!("{}: not JSON: {e}", path.display()),
        }
    }

    fn now_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    /// Muted words whose expiry was set relative to the extraction time keep
    /// the same distance from now.
    fn shift_expiry(words: &mut Value, extracted_at_ms: Option<i64>) -> Result<(), String> {
        let (Some(at), Some(words)) = (extracted_at_ms, words.as_array_mut()) else {
            return Ok(());
        };
        for w in words {
            if let Some(exp) = w.get("expiresAt").and_then(Value::as_str) {
                let d: Datetime = exp.parse().map_err(|e| format!("expiresAt {exp}: {e}"))?;
                let shifted = d.unix_micros() + (now_ms() - at) * 1000;
                w["expiresAt"] =
                    Value::String(Datetime::from_unix_micros(shifted).as_str().to_owned());
            }
        }
        Ok(())
    }

    fn action(v: &Value) -> Result<Option<ModerationAction>, String> {
        Ok(match v.as_str() {
            None => None,
            Some("blur") => Some(ModerationAction::Blur),
            Some("alert") => Some(ModerationAction::Alert),
            Some("inform") => Some(ModerationAction::Inform),
            Some(other) => return Err(format!("unknown action {other:?}")),
        })
    }

    fn behavior(v: &Value) -> Result<ModerationBehavior, String> {
        Ok(ModerationBehavior {
            profile_list: action(&v["profileList"])?,
            profile_view: action(&v["profileView"])?,
            avatar: action(&v["avatar"])?,
            banner: action(&v["banner"])?,
            display_name: action(&v["displayName"])?,
            content_list: action(&v["contentList"])?,
            content_view: action(&v["contentView"])?,
            content_media: action(&v["contentMedia"])?,
        })
    }

    fn pref(v: &Value) -> Result<LabelPreference, String> {
        v.as_str()
            .and_then(LabelPreference::parse)
            .ok_or_else(|| format!("bad label preference {v}"))
    }

    fn did(v: &str) -> Result<Did, String> {
        v.parse().map_err(|e| format!("DID {v:?}: {e}"))
    }

    /// An interpreted definition as the test wrote it (flags and behaviours
    /// taken as given, not re-derived).
    fn interpreted(v: &Value) -> Result<InterpretedLabelValueDefinition, String> {
        let flags: Vec<&str> = v["flags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        Ok(InterpretedLabelValueDefinition {
            identifier: v["identifier"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
                .into(),
            severity: Open::from(v["severity"].as_str().unwrap_or("none")),
            blurs: Open::from(v["blurs"].as_str().unwrap_or("none")),
            adult_only: v["adultOnly"].as_bool().unwrap_or(false),
            locales: serde_json::from_value(v["locales"].clone()).unwrap_or_default(),
            defined_by: v["definedBy"].as_str().map(did).transpose()?,
            configurable: v["configurable"].as_bool().unwrap_or(false),
            default_setting: pref(&v["defaultSetting"])?,
            flags: LabelFlags {
                no_override: flags.contains(&"no-override"),
                adult: flags.contains(&"adult"),
                unauthed: flags.contains(&"unauthed"),
                no_self: flags.contains(&"no-self"),
            },
            behaviors: LabelBehaviors {
                account: behavior(&v["behaviors"]["account"])?,
                profile: behavior(&v["behaviors"]["profile"])?,
                content: behavior(&v["behaviors"]["content"])?,
            },
        })
    }

    fn opts(v: &Value, extracted_at: Option<i64>) -> Result<ModerationOpts, String> {
        let user = match v["userDid"].as_str() {
            None | Some("") => None,
            Some(d) => Some(did(d)?),
        };
        let p = &v["prefs"];
        let mut prefs = ModerationPrefs::empty();
        prefs.adult_content_enabled = p["adultContentEnabled"].as_bool().unwrap_or(false);
        for (k, s) in p["labels"].as_object().into_iter().flatten() {
            prefs.labels.insert(k.clone(), pref(s)?);
        }
        for l in p["labelers"].as_array().into_iter().flatten() {
            let mut lp = LabelerPrefs::new(did(l["did"].as_str().unwrap_or_default())?);
            for (k, s) in l["labels"].as_object().into_iter().flatten() {
                lp.labels.insert(k.clone(), pref(s)?);
            }
            prefs.labelers.push(lp);
        }
        let mut words = p["mutedWords"].clone();
        shift_expiry(&mut words, extracted_at)?;
        prefs.muted_words =
            serde_json::from_value(words).map_err(|e| format!("mutedWords: {e}"))?;
        prefs.hidden_posts = serde_json::from_value(p["hiddenPosts"].clone())
            .map_err(|e| format!("hiddenPosts: {e}"))?;
        let mut o = ModerationOpts::new(user, prefs);
        for (labeler, defs) in v["labelDefs"].as_object().into_iter().flatten() {
            let defs = defs
                .as_array()
                .into_iter()
                .flatten()
                .map(interpreted)
                .collect::<Result<Vec<_>, _>>()?;
            o.label_defs.insert(did(labeler)?, defs);
        }
        Ok(o)
    }

    /// Some upstream fixtures write `viewer.following` as `true` or `'true'`
    /// where the lexicon has the follow record's at-uri (the reference code only
    /// tests it for truth): such a value becomes a follow URI, a `false` is
    /// dropped.
    const FOLLOW: &str = "at://did:web:self.test/app.bsky.graph.follow/fixture";

    fn repair_fixture(v: &mut Value) {
        match v {
            Value::Object(map) => {
                let replace = match map.get("following") {
                    Some(Value::Bool(b)) => Some(*b),
                    Some(Value::String(s)) => Some(!s.starts_with("at://")).filter(|r| *r),
                    _ => None,
                };
                match replace {
                    Some(true) => {
                        map.insert("following".into(), Value::String(FOLLOW.into()));
                    }
                    Some(false) => {
                        map.remove("following");
                    }
                    None => {}
                }
                map.values_mut().for_each(repair_fixture);
            }
            Value::Array(items) => items.iter_mut().for_each(repair_fixture),
            _ => {}
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(v: &Value, what: &str) -> Result<T, String> {
        let mut v = v.clone();
        repair_fixture(&mut v);
        serde_json::from_value(v).map_err(|e| format!("{what} does not decode: {e}"))
    }

    fn compare_decision(d: &ModerationDecision<'_>, outcome: &Value) -> Result<(), String> {
        let mut diffs = Vec::new();
        for ctx in ModerationContext::ALL {
            let want = &outcome["ui"][ctx.as_str()];
            let ui = d.ui(ctx);
            for (flag, got) in [
                ("filter", ui.filter()),
                ("blur", ui.blur()),
                ("alert", ui.alert()),
                ("inform", ui.inform()),
                ("noOverride", ui.no_override),
            ] {
                if want[flag].as_bool() != Some(got) {
                    diffs.push(format!(
                        "{}.{flag} = {got}, reference {}",
                        ctx.as_str(),
                        want[flag]
                    ));
                }
            }
        }
        let causes: Vec<&str> = d.causes.iter().map(|c| c.kind.as_str()).collect();
        let want: Vec<&str> = outcome["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if causes != want {
            diffs.push(format!("causes {causes:?}, reference {want:?}"));
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(diffs.join("; "))
        }
    }

    fn replay_call(call: &Value, extracted_at: Option<i64>) -> Result<(), String> {
        let f = call["fn"].as_str().unwrap_or_default();
        if f == "matchMuteWords" {
            let p = &call["params"];
            let mut words = p["mutedWords"].clone();
            shift_expiry(&mut words, extracted_at)?;
            let words: Vec<MutedWord> = decode(&words, "mutedWords")?;
            let mut tags: Vec<&str> = p["outlineTags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for facet in p["facets"].as_array().into_iter().flatten() {
                for feature in facet["features"].as_array().into_iter().flatten() {
                    if feature["$type"] == "app.bsky.richtext.facet#tag" {
                        tags.extend(feature["tag"].as_str());
                    }
                }
            }
            let langs: Vec<&str> = p["languages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let text = MuteWordText {
                text: p["text"].as_str().unwrap_or_default(),
                tags: &tags,
                languages: &langs,
                author_followed: match &p["actor"]["viewer"]["following"] {
                    Value::String(s) => !s.is_empty(),
                    Value::Bool(b) => *b,
                    _ => false,
                },
            };
            let got: Vec<(String, String)> = match_mute_words(&words, &text)
                .into_iter()
                .map(|m| (m.word.value.clone(), m.predicate))
                .collect();
            let want: Vec<(String, String)> = call["outcome"]["matches"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    (
                        m["value"].as_str().unwrap_or_default().to_owned(),
                        m["predicate"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            return if got == want {
                Ok(())
            } else {
                Err(format!("matches {got:?}, reference {want:?}"))
            };
        }
        let o = opts(&call["opts"], extracted_at)?;
        let s = &call["subject"];
        let outcome = &call["outcome"];
        match f {
            "moderatePost" => {
                compare_decision(&moderate_post(&decode::<PostView>(s, "post")?, &o), outcome)
            }
            "moderateProfile" => compare_decision(
                &moderate_profile(&decode::<ProfileViewBasic>(s, "profile")?, &o),
                outcome,
            ),
            "moderateNotification" => compare_decision(
                &moderate_notification(&decode::<Notification>(s, "notification")?, &o),
                outcome,
            ),
            "moderateFeedGenerator" => compare_decision(
                &moderate_feed_generator(&decode::<GeneratorView>(s, "feed generator")?, &o),
                outcome,
            ),
            "moderateUserList" => compare_decision(
                &moderate_user_list(&decode::<ListView>(s, "list")?, &o),
                outcome,
            ),
            other => Err(format!("unknown call {other:?}")),
        }
    }

    fn replay(suite: &str) {
        let Some(data) = load(suite) else { return };
        let cases = data["cases"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!cases.is_empty(), "{suite}: no cases in the extracted data");
        let mut failures = Vec::new();
        let mut calls = 0;
        for case in cases {
            let name = case["name"].as_str().unwrap_or("?");
            // Expiry times in the data were relative to when the case ran.
            let extracted_at = case["startedAtMs"].as_i64();
            for (i, call) in case["calls"].as_array().into_iter().flatten().enumerate() {
                calls += 1;
                if let Err(e) = replay_call(call, extracted_at) {
                    failures.push(format!("  {name} (call {}): {e}", i + 1));
                }
            }
        }
        let version = data["package"]["version"].as_str().unwrap_or("?");
        eprintln!(
            "{suite}: {} cases, {calls} calls replayed against @atproto/api {version}",
            cases.len()
        );
        assert!(
            failures.is_empty(),
            "{suite}: {} of {calls} calls differ from @atproto/api {version}:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn published_moderation() {
        replay("moderation");
    }

    #[test]
    fn published_moderation_behaviors() {
        replay("moderation-behaviors");
    }

    #[test]
    fn published_custom_labels() {
        replay("moderation-custom-labels");
    }

    #[test]
    fn published_quote_posts() {
        replay("moderation-quoteposts");
    }

    #[test]
    fn published_mute_words() {
        replay("moderation-mutewords");
    }
}
