//! Moderation scenarios: each a named test case over a subject, a viewer
//! configuration and the expected UI per context, in the shape of
//! `@atproto/api`'s published moderation suites (behaviours with
//! configurations, custom labels, quote posts, muted words), written here
//! from the documented semantics.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "app-bsky")]

/// Every test's path starts with `moderation::`, so that
/// `cargo test -p atmo-client moderation` runs them all.
mod moderation {
    use std::collections::HashMap;

    use atmo_client::atmo_api::app::bsky::actor::defs::{
        AdultContentPref, ContentLabelPref, ContentLabelPrefVisibility, LabelerPrefItem,
        LabelersPref, MutedWord, MutedWordActorTarget, MutedWordTarget, PreferencesItem,
        ProfileViewBasic,
    };
    use atmo_client::atmo_api::app::bsky::feed::defs::PostView;
    use atmo_client::atmo_api::com::atproto::label::defs::{
        LabelValueDefinition, LabelValueDefinitionBlurs, LabelValueDefinitionSeverity,
    };
    use atmo_client::atmo_types::Did;
    use atmo_client::moderation::*;
    use serde_json::{json, Value};

    const SELF: &str = "did:web:self.test";
    const LABELER: &str = "did:plc:fake-labeler";
    const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

    fn did(s: &str) -> Did {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    // ---------------------------------------------------------------- fixtures

    /// The viewer's relationship to each test user.
    fn viewer_state(name: &str) -> Value {
        let list = json!({
            "uri": "at://did:web:self.test/app.bsky.graph.list/fake",
            "cid": CID, "name": "Fake List", "purpose": "app.bsky.graph.defs#modlist"
        });
        let block = "at://did:web:self.test/app.bsky.graph.block/fake";
        match name {
            "bob" => json!({ "blocking": block }),
            "carla" => json!({ "blockedBy": true }),
            "dan" => json!({ "muted": true }),
            "elise" => json!({ "muted": true, "mutedByList": list }),
            "fern" => json!({ "blocking": block, "blockedBy": true }),
            "georgia" => json!({ "blocking": block, "blockingByList": list }),
            "followed" => json!({ "following": "at://did:web:self.test/app.bsky.graph.follow/f" }),
            _ => json!({}),
        }
    }

    fn user_did(name: &str) -> String {
        if name == "self" {
            SELF.to_owned()
        } else {
            format!("did:web:{name}")
        }
    }

    fn label(src: &str, uri: &str, val: &str) -> Value {
        json!({ "src": src, "uri": uri, "val": val, "cts": "2024-01-01T00:00:00.000Z" })
    }

    /// Labels of one scenario, by where they are put.
    #[derive(Default, Clone, Copy)]
    struct Labels {
        post: &'static [&'static str],
        profile: &'static [&'static str],
        account: &'static [&'static str],
        quoted_post: &'static [&'static str],
        quoted_account: &'static [&'static str],
        /// Who labels: the fake labeler unless set (`"author"` for self-labels).
        src: Option<&'static str>,
    }

    fn src_for(labels: &Labels, author: &str) -> String {
        match labels.src {
            None => LABELER.to_owned(),
            Some("author") => user_did(author),
            Some(other) => other.to_owned(),
        }
    }

    fn profile_json(name: &str, account: &[&str], profile: &[&str], src: &str) -> Value {
        let d = user_did(name);
        let mut labels: Vec<Value> = account.iter().map(|v| label(src, &d, v)).collect();
        let self_uri = format!("at://{d}/app.bsky.actor.profile/self");
        labels.extend(profile.iter().map(|v| label(src, &self_uri, v)));
        json!({
            "did": d, "handle": format!("{name}.test"),
            "labels": labels, "viewer": viewer_state(name),
        })
    }

    fn post_record(text: &str) -> Value {
        json!({ "$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-01-01T00:00:00.000Z" })
    }

    fn post_json(author: &str, quote_author: Option<&str>, labels: &Labels) -> Value {
        let src = src_for(labels, author);
        let d = user_did(author);
        let uri = format!("at://{d}/app.bsky.feed.post/fake");
        let mut post = json!({
            "uri": uri, "cid": CID,
            "author": profile_json(author, labels.account, labels.profile, &src),
            "record": post_record("Post text"),
            "labels": labels.post.iter().map(|v| label(&src, &uri, v)).collect::<Vec<_>>(),
            "indexedAt": "2024-01-01T00:00:00.000Z",
        });
        if let Some(q) = quote_author {
            let qd = user_did(q);
            let quri = format!("at://{qd}/app.bsky.feed.post/quoted");
            post["embed"] = json!({
                "$type": "app.bsky.embed.record#view",
                "record": {
                    "$type": "app.bsky.embed.record#viewRecord",
                    "uri": quri, "cid": CID,
                    "author": profile_json(q, labels.quoted_account, &[], LABELER),
                    "value": post_record("Quoted post text"),
                    "labels": labels.quoted_post.iter().map(|v| label(LABELER, &quri, v)).collect::<Vec<_>>(),
                    "indexedAt": "2024-01-01T00:00:00.000Z",
                }
            });
        }
        post
    }

    fn decode<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("fixture does not decode: {e}"))
    }

    // ---------------------------------------------------------- configurations

    #[derive(Clone, Copy)]
    enum Cfg {
        None,
        AdultDisabled,
        PornHide,
        PornWarn,
        PornIgnore,
        LoggedOut,
    }

    fn opts(cfg: Cfg) -> ModerationOpts {
        let mut prefs = ModerationPrefs::empty();
        prefs.labelers.push(LabelerPrefs::new(did(LABELER)));
        let mut user = Some(did(SELF));
        let porn = |p: &mut ModerationPrefs, s| {
            p.adult_content_enabled = true;
            p.labels.insert("porn".into(), s);
        };
        match cfg {
            Cfg::None | Cfg::AdultDisabled => {}
            Cfg::PornHide => porn(&mut prefs, LabelPreference::Hide),
            Cfg::PornWarn => porn(&mut prefs, LabelPreference::Warn),
            Cfg::PornIgnore => porn(&mut prefs, LabelPreference::Ignore),
            Cfg::LoggedOut => user = None,
        }
        ModerationOpts::new(user, prefs)
    }

    // -------------------------------------------------------------- assertions

    /// `flags` is e.g. "filter blur noOverride"; contexts not listed expect
    /// nothing.
    fn check_ui(
        scenario: &str,
        decision: &ModerationDecision<'_>,
        contexts: &[ModerationContext],
        expected: &[(&str, &str)],
    ) {
        for ctx in contexts {
            let want = expected
                .iter()
                .find(|(c, _)| *c == ctx.as_str())
                .map_or("", |(_, f)| *f);
            let want: Vec<&str> = want.split_whitespace().collect();
            let ui = decision.ui(*ctx);
            let got = [
                ("filter", ui.filter()),
                ("blur", ui.blur()),
                ("alert", ui.alert()),
                ("inform", ui.inform()),
                ("noOverride", ui.no_override),
            ];
            for (flag, value) in got {
                assert_eq!(
                    value,
                    want.contains(&flag),
                    "scenario {scenario:?}, context {}: {flag} should be {}; causes {:?}",
                    ctx.as_str(),
                    want.contains(&flag),
                    decision
                        .causes
                        .iter()
                        .map(|c| c.kind.as_str())
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    const PROFILE_CONTEXTS: [ModerationContext; 8] = ModerationContext::ALL;
    /// Posts are checked where posts are shown (as the published suite does).
    const POST_CONTEXTS: [ModerationContext; 6] = [
        ModerationContext::Avatar,
        ModerationContext::Banner,
        ModerationContext::DisplayName,
        ModerationContext::ContentList,
        ModerationContext::ContentView,
        ModerationContext::ContentMedia,
    ];

    #[derive(Clone, Copy)]
    enum Subject {
        Post,
        Profile,
    }

    struct Scenario {
        cfg: Cfg,
        subject: Subject,
        author: &'static str,
        quote_author: Option<&'static str>,
        labels: Labels,
        expect: &'static [(&'static str, &'static str)],
    }

    fn run(name: &str, s: Scenario) {
        let o = opts(s.cfg);
        match s.subject {
            Subject::Profile => {
                let src = src_for(&s.labels, s.author);
                let p: ProfileViewBasic = decode(profile_json(
                    s.author,
                    s.labels.account,
                    s.labels.profile,
                    &src,
                ));
                check_ui(name, &moderate_profile(&p, &o), &PROFILE_CONTEXTS, s.expect);
            }
            Subject::Post => {
                let p: PostView = decode(post_json(s.author, s.quote_author, &s.labels));
                check_ui(name, &moderate_post(&p, &o), &POST_CONTEXTS, s.expect);
            }
        }
    }

    macro_rules! scenarios {
        ($($name:ident: $cfg:ident $subject:ident $author:literal $(quoting $quote:literal)?,
            { $($lk:ident: $lv:expr),* $(,)? } => [$($ctx:literal: $flags:literal),* $(,)?];)*) => {$(
            #[test]
            fn $name() {
                let quote_author: Option<&'static str> = None $(.or(Some($quote)))?;
                run(stringify!($name), Scenario {
                    cfg: Cfg::$cfg,
                    subject: Subject::$subject,
                    author: $author,
                    quote_author,
                    labels: Labels { $($lk: $lv,)* ..Labels::default() },
                    expect: &[$(($ctx, $flags)),*],
                });
            }
        )*};
    }

    // ------------------------------------------------- behaviours: imperatives

    scenarios! {
        hide_on_account: None Profile "alice", { account: &["!hide"] } => [
            "profileList": "filter blur noOverride", "profileView": "blur noOverride",
            "avatar": "blur noOverride", "banner": "blur noOverride", "displayName": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        hide_on_profile: None Profile "alice", { profile: &["!hide"] } => [
            "avatar": "blur noOverride", "banner": "blur noOverride", "displayName": "blur noOverride",
        ];
        hide_on_post: None Post "alice", { post: &["!hide"] } => [
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        hide_on_authors_account_seen_on_post: None Post "alice", { account: &["!hide"] } => [
            "avatar": "blur noOverride", "banner": "blur noOverride", "displayName": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        hide_self_applied_is_ignored: None Post "alice", { post: &["!hide"], src: Some("author") } => [];
        warn_on_account: None Profile "alice", { account: &["!warn"] } => [
            "profileList": "blur", "profileView": "blur", "avatar": "blur", "banner": "blur",
            "contentList": "blur", "contentView": "blur",
        ];
        warn_on_profile: None Profile "alice", { profile: &["!warn"] } => [
            "avatar": "blur", "banner": "blur", "displayName": "blur",
        ];
        warn_on_post: None Post "alice", { post: &["!warn"] } => [
            "contentList": "blur", "contentView": "blur",
        ];
        no_unauthenticated_logged_in_is_ignored: None Profile "alice", { account: &["!no-unauthenticated"] } => [];
        no_unauthenticated_on_account_logged_out: LoggedOut Profile "alice", { account: &["!no-unauthenticated"] } => [
            "profileList": "filter blur noOverride", "profileView": "blur noOverride",
            "avatar": "blur noOverride", "banner": "blur noOverride", "displayName": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        no_unauthenticated_on_profile_record_counts_for_account: LoggedOut Profile "alice", { profile: &["!no-unauthenticated"] } => [
            "profileList": "filter blur noOverride", "profileView": "blur noOverride",
            "avatar": "blur noOverride", "banner": "blur noOverride", "displayName": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        no_unauthenticated_on_post_logged_out: LoggedOut Post "alice", { post: &["!no-unauthenticated"] } => [
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        unknown_value_is_ignored: None Post "alice", { post: &["intolerance"], account: &["spam"] } => [];
        unsubscribed_labeler_is_ignored: None Post "alice", { post: &["!hide"], src: Some("did:plc:someone-else") } => [];
    }

    // ------------------------------------------------- behaviours: adult labels

    scenarios! {
        porn_on_post_adult_disabled: AdultDisabled Post "alice", { post: &["porn"] } => [
            "contentList": "filter", "contentMedia": "blur noOverride",
        ];
        porn_on_post_hide: PornHide Post "alice", { post: &["porn"] } => [
            "contentList": "filter", "contentMedia": "blur",
        ];
        porn_on_post_warn: PornWarn Post "alice", { post: &["porn"] } => [ "contentMedia": "blur" ];
        porn_on_post_ignore: PornIgnore Post "alice", { post: &["porn"] } => [];
        porn_on_account_hide: PornHide Profile "alice", { account: &["porn"] } => [
            "profileList": "filter", "avatar": "blur", "banner": "blur", "contentList": "filter",
        ];
        porn_on_account_adult_disabled: None Profile "alice", { account: &["porn"] } => [
            "profileList": "filter", "avatar": "blur noOverride", "banner": "blur noOverride",
            "contentList": "filter",
        ];
        porn_on_profile_warn: PornWarn Profile "alice", { profile: &["porn"] } => [
            "avatar": "blur", "banner": "blur",
        ];
        porn_on_profile_hide_does_not_filter: PornHide Profile "alice", { profile: &["porn"] } => [
            "avatar": "blur", "banner": "blur",
        ];
        porn_self_label_warn: PornWarn Post "alice", { post: &["porn"], src: Some("author") } => [
            "contentMedia": "blur",
        ];
        porn_self_label_adult_disabled: None Post "alice", { post: &["porn"], src: Some("author") } => [
            "contentList": "filter", "contentMedia": "blur noOverride",
        ];
        sexual_default_warn: PornIgnore Post "alice", { post: &["sexual"] } => [ "contentMedia": "blur" ];
        nudity_default_ignore: None Post "alice", { post: &["nudity"] } => [];
        graphic_media_adult_disabled: None Post "alice", { post: &["graphic-media"] } => [
            "contentList": "filter", "contentMedia": "blur noOverride",
        ];
        gore_legacy_value_still_applies: PornWarn Post "alice", { post: &["gore"] } => [ "contentMedia": "blur" ];
        own_post_hide_label_not_filtered: None Post "self", { post: &["!hide"] } => [
            "contentList": "blur", "contentView": "blur",
        ];
        own_account_porn_not_filtered: None Profile "self", { account: &["porn"] } => [
            "avatar": "blur", "banner": "blur",
        ];
    }

    // ---------------------------------------------- behaviours: mutes and blocks

    scenarios! {
        blocking_profile: None Profile "bob", {} => [
            "profileList": "filter blur noOverride", "profileView": "alert",
            "avatar": "blur noOverride", "banner": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        blocking_post: None Post "bob", {} => [
            "avatar": "blur noOverride", "banner": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        blocked_by_profile: None Profile "carla", {} => [
            "profileList": "filter blur noOverride", "profileView": "alert",
            "avatar": "blur noOverride", "banner": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        blocking_and_blocked_by_post: None Post "fern", {} => [
            "avatar": "blur noOverride", "banner": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        blocking_by_list_profile: None Profile "georgia", {} => [
            "profileList": "filter blur noOverride", "profileView": "alert",
            "avatar": "blur noOverride", "banner": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
        muted_profile: None Profile "dan", {} => [
            "profileList": "filter inform", "profileView": "alert",
            "contentList": "filter blur", "contentView": "inform",
        ];
        muted_by_list_post: None Post "elise", {} => [
            "contentList": "filter blur", "contentView": "inform",
        ];
        muted_with_hide_label_post: None Post "dan", { post: &["!hide"] } => [
            "contentList": "filter blur noOverride", "contentView": "blur noOverride inform",
        ];
        logged_out_sees_no_block: LoggedOut Post "alice", {} => [];
        ignores_relationship_labels_for_unlabelled_friend: None Post "alice", {} => [];
    }

    // -------------------------------------------------------------- quote posts

    scenarios! {
        quoted_post_hide_only_filters: None Post "alice" quoting "alice", { quoted_post: &["!hide"] } => [
            "contentList": "filter",
        ];
        quoted_post_warn_does_nothing: None Post "alice" quoting "alice", { quoted_post: &["!warn"] } => [];
        quoted_account_hide_only_filters: None Post "alice" quoting "alice", { quoted_account: &["!hide"] } => [
            "contentList": "filter",
        ];
        quoted_account_porn_adult_disabled_filters: None Post "alice" quoting "alice", { quoted_account: &["porn"] } => [
            "contentList": "filter",
        ];
        quoted_post_porn_warn_does_nothing: PornWarn Post "alice" quoting "alice", { quoted_post: &["porn"] } => [];
        quoted_author_blocked_filters: None Post "alice" quoting "bob", {} => [ "contentList": "filter" ];
        quoted_author_blocks_viewer_filters: None Post "alice" quoting "carla", {} => [ "contentList": "filter" ];
        quoted_author_muted_filters: None Post "alice" quoting "dan", {} => [ "contentList": "filter" ];
        quoting_blocked_author_still_blurs_outer: None Post "bob" quoting "alice", { quoted_post: &["!hide"] } => [
            "avatar": "blur noOverride", "banner": "blur noOverride",
            "contentList": "filter blur noOverride", "contentView": "blur noOverride",
        ];
    }

    // ------------------------------------------------------------ custom labels

    /// A labeler defining `custom` with `blurs` and `severity`; the viewer set
    /// it to hide for that labeler; adult content on.
    fn custom_opts(
        blurs: LabelValueDefinitionBlurs,
        severity: LabelValueDefinitionSeverity,
        adult_only: bool,
        setting: Option<LabelPreference>,
    ) -> ModerationOpts {
        let labeler = did("did:web:labeler.test");
        let mut def =
            LabelValueDefinition::new("custom".into(), severity.into(), blurs.into(), vec![]);
        def.adult_only = Some(adult_only);
        let mut prefs = ModerationPrefs::empty();
        prefs.adult_content_enabled = !adult_only;
        let mut l = LabelerPrefs::new(labeler.clone());
        if let Some(s) = setting {
            l.labels.insert("custom".into(), s);
        }
        prefs.labelers.push(l);
        ModerationOpts::new(Some(did("did:web:alice.test")), prefs).with_label_defs(
            labeler.clone(),
            vec![interpret_label_value_definition(&def, Some(&labeler))],
        )
    }

    fn custom_case(
        name: &str,
        blurs: LabelValueDefinitionBlurs,
        severity: LabelValueDefinitionSeverity,
        target: &str,
        o: &ModerationOpts,
        expected: &[(&str, &str)],
    ) {
        let bob = "did:web:bob.test";
        let (uri, post_target) = match target {
            "post" => (format!("at://{bob}/app.bsky.feed.post/fake"), true),
            "profile" => (format!("at://{bob}/app.bsky.actor.profile/self"), false),
            _ => (bob.to_owned(), false),
        };
        let l = label("did:web:labeler.test", &uri, "custom");
        let name = format!(
            "{name}: blurs={}, severity={}, target={target}",
            blurs_str(blurs),
            sev_str(severity)
        );
        if post_target {
            let p: PostView = decode(json!({
                "uri": uri, "cid": CID,
                "author": { "did": bob, "handle": "bob.test", "displayName": "Bob" },
                "record": post_record("Hello"), "labels": [l],
                "indexedAt": "2024-01-01T00:00:00.000Z",
            }));
            check_ui(&name, &moderate_post(&p, o), &PROFILE_CONTEXTS, expected);
        } else {
            let p: ProfileViewBasic = decode(json!({
                "did": bob, "handle": "bob.test", "displayName": "Bob", "labels": [l],
            }));
            check_ui(&name, &moderate_profile(&p, o), &PROFILE_CONTEXTS, expected);
        }
    }

    fn blurs_str(b: LabelValueDefinitionBlurs) -> &'static str {
        match b {
            LabelValueDefinitionBlurs::Content => "content",
            LabelValueDefinitionBlurs::Media => "media",
            LabelValueDefinitionBlurs::None => "none",
        }
    }

    fn sev_str(s: LabelValueDefinitionSeverity) -> &'static str {
        match s {
            LabelValueDefinitionSeverity::Alert => "alert",
            LabelValueDefinitionSeverity::Inform => "inform",
            LabelValueDefinitionSeverity::None => "none",
        }
    }

    /// The expected UI of a custom label set to hide, per target, derived from
    /// the interpretation rules: the badge (alert / inform / nothing) shows
    /// where the value does not blur; hide filters the target's lists.
    fn custom_expected(
        blurs: LabelValueDefinitionBlurs,
        badge: &str,
        target: &str,
    ) -> Vec<(String, String)> {
        use LabelValueDefinitionBlurs as Bl;
        let with = |base: &str, extra: &str| format!("{base} {extra}").trim().to_owned();
        let mut e: Vec<(String, String)> = Vec::new();
        let mut put = |c: &str, f: String| {
            if !f.is_empty() {
                e.push((c.to_owned(), f));
            }
        };
        match (target, blurs) {
            ("account", Bl::Content) => {
                put("profileList", with("filter", badge));
                put("profileView", badge.into());
                put("contentList", "filter blur".into());
                put("contentView", badge.into());
            }
            ("account", Bl::Media) => {
                put("profileList", with("filter", badge));
                put("profileView", badge.into());
                put("avatar", "blur".into());
                put("banner", "blur".into());
                put("contentList", "filter".into());
            }
            ("account", Bl::None) => {
                put("profileList", with("filter", badge));
                put("profileView", badge.into());
                put("contentList", with("filter", badge));
                put("contentView", badge.into());
            }
            ("profile", Bl::Media) => {
                put("profileList", badge.into());
                put("profileView", badge.into());
                put("avatar", "blur".into());
                put("banner", "blur".into());
            }
            ("profile", _) => {
                put("profileList", badge.into());
                put("profileView", badge.into());
            }
            (_, Bl::Content) => {
                put("contentList", "filter blur".into());
                put("contentView", badge.into());
            }
            (_, Bl::Media) => {
                put("contentList", "filter".into());
                put("contentMedia", "blur".into());
            }
            (_, Bl::None) => {
                put("contentList", with("filter", badge));
                put("contentView", badge.into());
            }
        }
        e
    }

    #[test]
    fn custom_labels_blurs_by_severity_by_target() {
        use LabelValueDefinitionBlurs as Bl;
        use LabelValueDefinitionSeverity as Sv;
        let mut cases = 0;
        for blurs in [Bl::Content, Bl::Media, Bl::None] {
            for (severity, badge) in [(Sv::Alert, "alert"), (Sv::Inform, "inform"), (Sv::None, "")]
            {
                let o = custom_opts(blurs, severity, false, Some(LabelPreference::Hide));
                for target in ["post", "profile", "account"] {
                    let expected = custom_expected(blurs, badge, target);
                    let expected: Vec<(&str, &str)> = expected
                        .iter()
                        .map(|(c, f)| (c.as_str(), f.as_str()))
                        .collect();
                    custom_case(
                        "custom label set to hide",
                        blurs,
                        severity,
                        target,
                        &o,
                        &expected,
                    );
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 27);
    }

    #[test]
    fn custom_label_default_setting_is_warn() {
        let o = custom_opts(
            LabelValueDefinitionBlurs::Content,
            LabelValueDefinitionSeverity::Alert,
            false,
            None,
        );
        custom_case(
            "no setting",
            LabelValueDefinitionBlurs::Content,
            LabelValueDefinitionSeverity::Alert,
            "post",
            &o,
            &[("contentList", "blur"), ("contentView", "alert")],
        );
    }

    #[test]
    fn custom_adult_only_label_hides_without_override_when_adult_disabled() {
        let o = custom_opts(
            LabelValueDefinitionBlurs::Content,
            LabelValueDefinitionSeverity::Alert,
            true,
            Some(LabelPreference::Ignore),
        );
        // adult-only blurs the post opened on its own too
        custom_case(
            "adult only",
            LabelValueDefinitionBlurs::Content,
            LabelValueDefinitionSeverity::Alert,
            "post",
            &o,
            &[
                ("contentList", "filter blur noOverride"),
                ("contentView", "blur noOverride"),
            ],
        );
    }

    #[test]
    fn custom_label_global_setting_applies_when_labeler_has_none() {
        let mut o = custom_opts(
            LabelValueDefinitionBlurs::None,
            LabelValueDefinitionSeverity::Inform,
            false,
            None,
        );
        o.prefs
            .labels
            .insert("custom".into(), LabelPreference::Ignore);
        custom_case(
            "global ignore",
            LabelValueDefinitionBlurs::None,
            LabelValueDefinitionSeverity::Inform,
            "post",
            &o,
            &[],
        );
        o.prefs.labelers[0]
            .labels
            .insert("custom".into(), LabelPreference::Warn);
        custom_case(
            "labeler warn beats global ignore",
            LabelValueDefinitionBlurs::None,
            LabelValueDefinitionSeverity::Inform,
            "post",
            &o,
            &[("contentList", "inform"), ("contentView", "inform")],
        );
    }

    #[test]
    fn custom_label_from_another_labeler_is_not_defined_there() {
        // `custom` defined by labeler.test but applied by the fake labeler: no
        // definition there and no built-in value, so nothing.
        let mut o = custom_opts(
            LabelValueDefinitionBlurs::Content,
            LabelValueDefinitionSeverity::Alert,
            false,
            Some(LabelPreference::Hide),
        );
        o.prefs.labelers.push(LabelerPrefs::new(did(LABELER)));
        let p: PostView = decode(json!({
            "uri": "at://did:web:bob.test/app.bsky.feed.post/x", "cid": CID,
            "author": { "did": "did:web:bob.test", "handle": "bob.test" },
            "record": post_record("x"),
            "labels": [label(LABELER, "at://did:web:bob.test/app.bsky.feed.post/x", "custom")],
            "indexedAt": "2024-01-01T00:00:00.000Z",
        }));
        assert!(moderate_post(&p, &o).causes.is_empty());
    }

    #[test]
    fn interpreted_definitions_keep_locales_and_definer() {
        let labeler = did("did:web:labeler.test");
        let def: LabelValueDefinition = decode(json!({
            "identifier": "spoiler", "severity": "inform", "blurs": "content",
            "defaultSetting": "hide", "adultOnly": false,
            "locales": [{ "lang": "en", "name": "Spoiler", "description": "Plot details" }],
        }));
        let i = interpret_label_value_definition(&def, Some(&labeler));
        assert_eq!(i.default_setting, LabelPreference::Hide);
        assert_eq!(i.locales[0].name, "Spoiler");
        assert_eq!(i.defined_by.as_ref(), Some(&labeler));
        assert!(i.configurable && i.flags.no_self && !i.flags.adult);
    }

    // -------------------------------------------------------------- muted words

    fn word(value: &str, targets: &[MutedWordTarget]) -> MutedWord {
        MutedWord::new(value.into(), targets.iter().map(|t| (*t).into()).collect())
    }

    fn content(value: &str) -> MutedWord {
        word(value, &[MutedWordTarget::Content, MutedWordTarget::Tag])
    }

    struct MuteCase {
        words: Vec<MutedWord>,
        text: &'static str,
        tags: &'static [&'static str],
        langs: &'static [&'static str],
        followed: bool,
        matched: bool,
    }

    fn mute_case(name: &str, c: MuteCase) {
        let t = MuteWordText {
            text: c.text,
            tags: c.tags,
            languages: c.langs,
            author_followed: c.followed,
        };
        assert_eq!(
            has_muted_word(&c.words, &t),
            c.matched,
            "muted-word scenario {name:?}: {:?} in {:?}",
            c.words.iter().map(|w| w.value.as_str()).collect::<Vec<_>>(),
            c.text
        );
    }

    macro_rules! mute_cases {
        ($($name:ident: [$($w:expr),*] in $text:literal $(tags [$($tag:literal),*])? $(langs [$($lang:literal),*])? $(followed $f:literal)? => $m:expr;)*) => {$(
            #[test]
            fn $name() {
                #[allow(unused_mut, unused_assignments)]
                let (mut tags, mut langs, mut followed): (&'static [&'static str], &'static [&'static str], bool) = (&[], &[], false);
                $(tags = &[$($tag),*];)? $(langs = &[$($lang),*];)? $(followed = $f;)?
                mute_case(stringify!($name), MuteCase { words: vec![$($w),*], text: $text, tags, langs, followed, matched: $m });
            }
        )*};
    }

    fn expiring(value: &str, at: &str) -> MutedWord {
        let mut w = content(value);
        w.expires_at = Some(at.parse().unwrap_or_else(|e| panic!("{at}: {e}")));
        w
    }

    fn excluding_following(value: &str) -> MutedWord {
        let mut w = content(value);
        w.actor_target = MutedWordActorTarget::ExcludeFollowing.into();
        w
    }

    mute_cases! {
        mute_whole_word: [content("spoiler")] in "big spoiler here" => true;
        mute_ignores_case: [content("Spoiler")] in "BIG SPOILER" => true;
        mute_not_inside_word: [content("spoil")] in "big spoiler" => false;
        mute_exact_text: [content("hello")] in "hello" => true;
        mute_longer_than_text: [content("spoilers")] in "spoil" => false;
        mute_trailing_punctuation: [content("hello")] in "well, hello!" => true;
        mute_leading_punctuation: [content("hello")] in "(hello)" => true;
        mute_phrase_with_space: [content("bad word")] in "this is a bad word ok" => true;
        mute_phrase_across_lines_is_not_a_phrase: [content("bad word")] in "bad\nwords" => false;
        mute_word_with_inner_punctuation: [content("s@ssy")] in "so s@ssy!" => true;
        mute_hyphenated_part: [content("bad")] in "super-bad day" => true;
        mute_hyphen_joined: [content("superbad")] in "super-bad day" => true;
        mute_hyphen_spaced: [content("super bad")] in "super-bad day" => true;
        mute_slash_is_not_joined: [content("andor")] in "and/or" => false;
        mute_slash_stops_word_parts: [content("and")] in "and/or" => false;
        mute_single_character_anywhere: [content("x")] in "a box" => true;
        mute_single_cjk_character: [content("猫")] in "黒い猫です" => true;
        mute_japanese_without_spaces: [content("カワイイ")] in "超カワイイ写真" langs ["ja"] => true;
        mute_japanese_needs_language: [content("カワイイ")] in "超カワイイ写真" => false;
        mute_only_first_language_counts: [content("カワイイ")] in "超カワイイ写真" langs ["en", "ja"] => false;
        mute_thai_without_spaces: [content("แมว")] in "ฉันรักแมวมาก" langs ["th"] => true;
        mute_tag_from_tags: [word("rust", &[MutedWordTarget::Tag])] in "no tag in text" tags ["Rust"] => true;
        mute_tag_target_skips_text: [word("rust", &[MutedWordTarget::Tag])] in "I like rust" => false;
        mute_content_target_also_matches_tags: [word("rust", &[MutedWordTarget::Content])] in "hi" tags ["rust"] => true;
        mute_expired_word: [expiring("spoiler", "2000-01-01T00:00:00Z")] in "spoiler" => false;
        mute_unexpired_word: [expiring("spoiler", "2999-01-01T00:00:00Z")] in "spoiler" => true;
        mute_excluding_followed_author: [excluding_following("spoiler")] in "spoiler" followed true => false;
        mute_excluding_following_other_author: [excluding_following("spoiler")] in "spoiler" => true;
        mute_all_authors_even_followed: [content("spoiler")] in "spoiler" followed true => true;
        mute_empty_text: [content("spoiler")] in "" => false;
        mute_one_of_many: [content("alpha"), content("beta"), content("gamma")] in "say gamma" => true;
    }

    #[test]
    fn match_reports_word_and_predicate() {
        let words = [content("hello"), content("bad word")];
        let t = MuteWordText {
            text: "Hello! a bad word",
            ..Default::default()
        };
        let m = match_mute_words(&words, &t);
        let got: Vec<(&str, &str)> = m
            .iter()
            .map(|m| (m.word.value.as_str(), m.predicate.as_str()))
            .collect();
        assert_eq!(got, [("hello", "hello!"), ("bad word", "bad word")]);
    }

    fn post_with(author: &str, record: Value, embed: Option<Value>) -> PostView {
        let d = user_did(author);
        let mut v = json!({
            "uri": format!("at://{d}/app.bsky.feed.post/m"), "cid": CID,
            "author": { "did": d, "handle": format!("{author}.test"), "viewer": viewer_state(author) },
            "record": record, "indexedAt": "2024-01-01T00:00:00.000Z",
        });
        if let Some(e) = embed {
            v["embed"] = e;
        }
        decode(v)
    }

    fn muted_opts(words: Vec<MutedWord>) -> ModerationOpts {
        let mut o = opts(Cfg::None);
        o.prefs.muted_words = words;
        o
    }

    fn assert_muted(name: &str, post: &PostView, o: &ModerationOpts, muted: bool) {
        let d = moderate_post(post, o);
        let found = d
            .causes
            .iter()
            .any(|c| matches!(c.kind, CauseKind::MuteWord(_)));
        assert_eq!(found, muted, "post muted-word scenario {name:?}");
        if muted {
            check_ui(
                name,
                &d,
                &POST_CONTEXTS,
                &[("contentList", "filter blur"), ("contentView", "blur")],
            );
        }
    }

    #[test]
    fn post_text_muted() {
        let o = muted_opts(vec![content("spoiler")]);
        assert_muted(
            "text",
            &post_with("alice", post_record("a spoiler"), None),
            &o,
            true,
        );
        assert_muted(
            "clean",
            &post_with("alice", post_record("nothing"), None),
            &o,
            false,
        );
    }

    #[test]
    fn post_facet_tag_muted() {
        let o = muted_opts(vec![word("rust", &[MutedWordTarget::Tag])]);
        let record = json!({
            "$type": "app.bsky.feed.post", "text": "#Rust", "createdAt": "2024-01-01T00:00:00Z",
            "facets": [{ "index": { "byteStart": 0, "byteEnd": 5 },
                         "features": [{ "$type": "app.bsky.richtext.facet#tag", "tag": "Rust" }] }],
        });
        assert_muted("facet tag", &post_with("alice", record, None), &o, true);
    }

    #[test]
    fn own_post_never_muted_by_words() {
        let o = muted_opts(vec![content("spoiler")]);
        assert_muted(
            "own",
            &post_with("self", post_record("a spoiler"), None),
            &o,
            false,
        );
    }

    #[test]
    fn image_alt_text_muted() {
        let o = muted_opts(vec![content("spoiler")]);
        let record = json!({
            "$type": "app.bsky.feed.post", "text": "look", "createdAt": "2024-01-01T00:00:00Z",
            "embed": { "$type": "app.bsky.embed.images", "images": [
                { "alt": "a spoiler pic", "image": { "$type": "blob", "ref": { "$link": CID }, "mimeType": "image/png", "size": 1 } }
            ] },
        });
        assert_muted("alt", &post_with("alice", record, None), &o, true);
    }

    #[test]
    fn link_card_muted() {
        let o = muted_opts(vec![content("spoiler")]);
        let embed = json!({ "$type": "app.bsky.embed.external#view", "external": {
            "uri": "https://example.com", "title": "Spoiler inside", "description": "desc" } });
        assert_muted(
            "card",
            &post_with("alice", post_record("read"), Some(embed)),
            &o,
            true,
        );
    }

    #[test]
    fn quoted_post_text_muted() {
        let o = muted_opts(vec![content("spoiler")]);
        let embed = json!({ "$type": "app.bsky.embed.record#view", "record": {
            "$type": "app.bsky.embed.record#viewRecord",
            "uri": "at://did:web:bob/app.bsky.feed.post/q", "cid": CID,
            "author": { "did": "did:web:bob", "handle": "bob.test" },
            "value": post_record("huge spoiler"), "indexedAt": "2024-01-01T00:00:00.000Z" } });
        assert_muted(
            "quote",
            &post_with("alice", post_record("look"), Some(embed)),
            &o,
            true,
        );
    }

    #[test]
    fn quoted_post_of_followed_author_excluded() {
        let o = muted_opts(vec![excluding_following("spoiler")]);
        let embed = json!({ "$type": "app.bsky.embed.record#view", "record": {
            "$type": "app.bsky.embed.record#viewRecord",
            "uri": "at://did:web:followed/app.bsky.feed.post/q", "cid": CID,
            "author": { "did": "did:web:followed", "handle": "followed.test", "viewer": viewer_state("followed") },
            "value": post_record("huge spoiler"), "indexedAt": "2024-01-01T00:00:00.000Z" } });
        assert_muted(
            "followed quote",
            &post_with("alice", post_record("look"), Some(embed)),
            &o,
            false,
        );
    }

    #[test]
    fn record_with_escapes_still_matched() {
        let o = muted_opts(vec![content("spoiler")]);
        let record = json!({ "$type": "app.bsky.feed.post", "text": "\"quoted\"\n\u{1F600} spoiler", "createdAt": "2024-01-01T00:00:00Z" });
        assert_muted("escapes", &post_with("alice", record, None), &o, true);
    }

    #[test]
    fn malformed_record_has_no_text() {
        let o = muted_opts(vec![content("spoiler")]);
        let record = json!({ "$type": "app.bsky.feed.post", "text": 42, "createdAt": "x" });
        assert_muted("malformed", &post_with("alice", record, None), &o, false);
    }

    // ------------------------------------------------------------ hidden posts

    #[test]
    fn hidden_post_and_hidden_quote() {
        let mut o = opts(Cfg::None);
        let p = post_with("alice", post_record("x"), None);
        o.prefs.hidden_posts = vec![p.uri.clone()];
        let d = moderate_post(&p, &o);
        check_ui(
            "hidden",
            &d,
            &POST_CONTEXTS,
            &[("contentList", "filter blur"), ("contentView", "blur")],
        );

        let embed = json!({ "$type": "app.bsky.embed.record#view", "record": {
            "$type": "app.bsky.embed.record#viewRecord",
            "uri": p.uri.as_str(), "cid": CID,
            "author": { "did": "did:web:alice", "handle": "alice.test" },
            "value": post_record("x"), "indexedAt": "2024-01-01T00:00:00.000Z" } });
        let quoting = post_with("bob2", post_record("look"), Some(embed));
        let d = moderate_post(&quoting, &o);
        check_ui(
            "quote of hidden",
            &d,
            &POST_CONTEXTS,
            &[("contentList", "filter blur"), ("contentView", "blur")],
        );
    }

    #[test]
    fn blocked_quote_filters() {
        let o = opts(Cfg::None);
        let embed = json!({ "$type": "app.bsky.embed.record#view", "record": {
            "$type": "app.bsky.embed.record#viewBlocked",
            "uri": "at://did:web:bob/app.bsky.feed.post/q", "blocked": true,
            "author": { "did": "did:web:bob", "viewer": viewer_state("bob") } } });
        let p = post_with("alice", post_record("look"), Some(embed));
        let d = moderate_post(&p, &o);
        check_ui(
            "blocked quote",
            &d,
            &POST_CONTEXTS,
            &[("contentList", "filter")],
        );
        assert!(d.causes.iter().all(|c| c.downgraded));
    }

    // ------------------------------------------------------ other subjects

    #[test]
    fn notification_feed_generator_and_lists() {
        let o = opts(Cfg::None);
        let bob =
            json!({ "did": "did:web:bob", "handle": "bob.test", "viewer": viewer_state("bob") });
        let n: atmo_client::atmo_api::app::bsky::notification::list_notifications::Notification =
            decode(json!({
                "uri": "at://did:web:bob/app.bsky.feed.like/1", "cid": CID, "author": bob,
                "reason": "like", "record": {}, "isRead": false, "indexedAt": "2024-01-01T00:00:00.000Z",
            }));
        check_ui(
            "notification from blocked",
            &moderate_notification(&n, &o),
            &POST_CONTEXTS,
            &[
                ("avatar", "blur noOverride"),
                ("banner", "blur noOverride"),
                ("contentList", "filter blur noOverride"),
                ("contentView", "blur noOverride"),
            ],
        );

        let alice = json!({ "did": "did:web:alice", "handle": "alice.test" });
        let g: atmo_client::atmo_api::app::bsky::feed::defs::GeneratorView = decode(json!({
            "uri": "at://did:web:alice/app.bsky.feed.generator/f", "cid": CID, "did": "did:web:feed",
            "creator": alice, "displayName": "Feed", "indexedAt": "2024-01-01T00:00:00.000Z",
            "labels": [label(LABELER, "at://did:web:alice/app.bsky.feed.generator/f", "!hide")],
        }));
        check_ui(
            "hidden feed",
            &moderate_feed_generator(&g, &o),
            &POST_CONTEXTS,
            &[
                ("contentList", "filter blur noOverride"),
                ("contentView", "blur noOverride"),
            ],
        );

        let list_uri = "at://did:web:alice/app.bsky.graph.list/l";
        let basic: atmo_client::atmo_api::app::bsky::graph::defs::ListViewBasic = decode(json!({
            "uri": list_uri, "cid": CID, "name": "L", "purpose": "app.bsky.graph.defs#curatelist",
            "labels": [label(LABELER, list_uri, "!warn")],
        }));
        let d = moderate_user_list(&basic, &o);
        assert_eq!(d.did, "did:web:alice");
        check_ui(
            "warned list",
            &d,
            &POST_CONTEXTS,
            &[("contentList", "blur"), ("contentView", "blur")],
        );

        let full: atmo_client::atmo_api::app::bsky::graph::defs::ListView = decode(json!({
            "uri": list_uri, "cid": CID, "name": "L", "purpose": "app.bsky.graph.defs#curatelist",
            "creator": { "did": "did:web:bob", "handle": "bob.test", "viewer": viewer_state("bob") },
            "indexedAt": "2024-01-01T00:00:00.000Z",
        }));
        assert!(moderate_user_list(&full, &o).blocked());
    }

    #[test]
    fn causes_sorted_by_priority_and_sources_kept() {
        let o = opts(Cfg::None);
        // muted (6) by list, then !hide (1) on the post: filters come out by priority
        let p: PostView = decode(post_json(
            "elise",
            None,
            &Labels {
                post: &["!hide"],
                ..Labels::default()
            },
        ));
        let d = moderate_post(&p, &o);
        let ui = d.ui(ModerationContext::ContentList);
        let order: Vec<&str> = ui.filters.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(order, ["label", "muted"]);
        assert!(matches!(
            d.mute_cause().map(|c| c.source),
            Some(CauseSource::List(_))
        ));
        let l = d
            .label_causes()
            .next()
            .map(|l| (l.setting, l.no_override, l.target));
        assert_eq!(l, Some((LabelPreference::Hide, true, LabelTarget::Content)));
        assert!(matches!(d.causes[0].source, CauseSource::Labeler(x) if x.as_str() == LABELER));
    }

    // -------------------------------------------------------------- preferences

    #[test]
    fn preferences_read_like_get_preferences() {
        let labeler = did("did:plc:labeler-a");
        let mut per_labeler =
            ContentLabelPref::new("spoiler".into(), ContentLabelPrefVisibility::Hide.into());
        per_labeler.labeler_did = Some(labeler.clone());
        let mut unknown_labeler =
            ContentLabelPref::new("spoiler".into(), ContentLabelPrefVisibility::Warn.into());
        unknown_labeler.labeler_did = Some(did("did:plc:not-subscribed"));
        let items = vec![
            // label prefs come before the labelers pref: still applied
            PreferencesItem::ContentLabelPref(Box::new(per_labeler)),
            PreferencesItem::ContentLabelPref(Box::new(unknown_labeler)),
            PreferencesItem::ContentLabelPref(Box::new(ContentLabelPref::new(
                "nsfw".into(),
                ContentLabelPrefVisibility::Show.into(),
            ))),
            PreferencesItem::ContentLabelPref(Box::new(ContentLabelPref::new(
                "gore".into(),
                ContentLabelPrefVisibility::Hide.into(),
            ))),
            PreferencesItem::LabelersPref(Box::new(LabelersPref::new(vec![LabelerPrefItem::new(
                labeler.clone(),
            )]))),
            PreferencesItem::AdultContentPref(Box::new(AdultContentPref::new(true))),
        ];
        let bsky = did(BSKY_LABELER_DID);
        let prefs = ModerationPrefs::from_preferences(&items, std::slice::from_ref(&bsky));
        assert!(prefs.adult_content_enabled);
        let dids: Vec<&str> = prefs.labelers.iter().map(|l| l.did.as_str()).collect();
        assert_eq!(dids, [BSKY_LABELER_DID, "did:plc:labeler-a"]);
        assert_eq!(
            prefs.labelers[1].labels,
            HashMap::from([("spoiler".to_owned(), LabelPreference::Hide)])
        );
        assert_eq!(prefs.labels["nsfw"], LabelPreference::Ignore);
        assert_eq!(
            prefs.labels["porn"],
            LabelPreference::Ignore,
            "legacy nsfw sets porn"
        );
        assert_eq!(
            prefs.labels["graphic-media"],
            LabelPreference::Hide,
            "legacy gore sets graphic-media"
        );
        assert_eq!(
            prefs.labels["sexual"],
            LabelPreference::Warn,
            "default kept"
        );
    }

    #[test]
    fn builtin_definitions_match_published_table() {
        let ids: Vec<&str> = builtin_labels().map(|d| d.identifier.as_ref()).collect();
        assert_eq!(
            ids,
            [
                "!hide",
                "!warn",
                "!no-unauthenticated",
                "porn",
                "sexual",
                "nudity",
                "graphic-media",
                "gore"
            ]
        );
        let adult: Vec<&str> = builtin_labels()
            .filter(|d| d.flags.adult)
            .map(|d| d.identifier.as_ref())
            .collect();
        assert_eq!(adult, ["porn", "sexual", "graphic-media", "gore"]);
        let fixed: Vec<&str> = builtin_labels()
            .filter(|d| !d.configurable)
            .map(|d| d.identifier.as_ref())
            .collect();
        assert_eq!(fixed, ["!hide", "!warn", "!no-unauthenticated"]);
        assert!(builtin_label("!no-unauthenticated")
            .is_some_and(|d| d.flags.unauthed && !d.flags.no_self));
    }

    #[test]
    fn live_status_labels_are_content_labels() {
        let o = opts(Cfg::None);
        let status_uri = "at://did:web:alice/app.bsky.actor.status/self";
        let p: ProfileViewBasic = decode(json!({
            "did": "did:web:alice", "handle": "alice.test",
            "status": { "status": "app.bsky.actor.status#live", "record": {},
                        "labels": [label(LABELER, status_uri, "!hide")] },
        }));
        check_ui(
            "status",
            &moderate_status(&p, &o),
            &PROFILE_CONTEXTS,
            &[
                ("contentList", "filter blur noOverride"),
                ("contentView", "blur noOverride"),
            ],
        );
        // the profile itself is not moderated by its status's labels
        assert!(moderate_profile(&p, &o).causes.is_empty());
    }

    #[cfg(feature = "chat-bsky")]
    #[test]
    fn chat_profile_view_is_a_profile_subject() {
        let o = opts(Cfg::None);
        let p: atmo_client::atmo_api::chat::bsky::actor::defs::ProfileViewBasic =
            decode(profile_json("dan", &[], &[], LABELER));
        check_ui(
            "chat profile",
            &moderate_profile(&p, &o),
            &PROFILE_CONTEXTS,
            &[
                ("profileList", "filter inform"),
                ("profileView", "alert"),
                ("contentList", "filter blur"),
                ("contentView", "inform"),
            ],
        );
    }
}
