//! Moderation decisions from the user's preferences, end to end: Ozone
//! labels a post with a built-in value (`porn`) and an account with a
//! custom one (`rude`, defined by the `app.bsky.labeler.service` record
//! dev-env writes for Ozone's account: blurs content, severity inform),
//! three viewers subscribe to Ozone and set those labels to hide, warn and
//! ignore on the PDS through the preference helpers, and the decisions
//! `moderate_post` / `moderate_profile` compute on the AppView's views
//! (read with the `atproto-accept-labelers` header from the preferences)
//! are what the app must show: hide filters from lists, warn blurs, ignore
//! shows nothing. A fourth viewer who does not subscribe to Ozone gets
//! views without its labels, which shows the header is what asks for them.
//!
//! Labels reach the AppView through the harness's label bridge (test code
//! standing in for the label ingester the npm AppView lacks).

use atmo_api::app::bsky::actor::defs::{ContentLabelPrefVisibility, ProfileViewDetailed};
use atmo_api::app::bsky::feed::defs::PostView;
use atmo_api::app::bsky::feed::get_posts::{self, GetPosts};
use atmo_api::com::atproto::label::defs::LabelValueDefinitionSeverity;
use atmo_client::moderation::{
    moderate_post, moderate_profile, LabelPreference, ModerationContext, ModerationDecision,
    ModerationOpts, BSKY_LABELER_DID,
};
use atmo_client::{AtpAgent, Login};
use atmo_types::{AtUri, Did};
use atproto_tests::appview::{eventually, AppView};
use serde_json::{json, Value};

use crate::appview_views::{account, post, INDEXED};

/// The harness's Ozone service account, signed in on the PDS, its calls
/// proxied to Ozone (as the Ozone web app's are), and its DID.
async fn moderator(net: &AppView) -> (AtpAgent, Did) {
    let (agent, _) = crate::agent(&net.pds);
    let session = agent
        .login(Login::new(
            &net.moderator_handle,
            net.moderator_password.as_str(),
        ))
        .await
        .unwrap_or_else(|e| panic!("moderator login: {e}"));
    (
        agent.with_proxy(&net.ozone_did, "atproto_labeler"),
        session.did,
    )
}

/// Ozone labels `subject` with `values` (`tools.ozone.moderation.emitEvent`).
async fn label(moderator: &(AtpAgent, Did), values: &[&str], subject: Value) {
    let (agent, did) = moderator;
    let event = json!({
        "$type": "tools.ozone.moderation.defs#modEventLabel",
        "createLabelVals": values,
        "negateLabelVals": [],
    });
    let input = json!({ "event": event, "subject": subject, "createdBy": did.as_str() });
    agent
        .procedure_json("tools.ozone.moderation.emitEvent", &[], Some(&input))
        .await
        .unwrap_or_else(|e| panic!("emitEvent {input}: {e}"));
}

/// A viewer signed in on the PDS, its preferences written, and what the
/// app derives from them: the moderation options and an agent sending the
/// accept-labelers header.
struct Viewer {
    setting: Option<ContentLabelPrefVisibility>,
    reader: AtpAgent,
    opts: ModerationOpts,
}

/// A viewer who subscribes to `labeler` and sets `porn` and `rude` to
/// `setting` for it (adult content on, so `porn` is the user's to set);
/// with no setting, one who subscribes to no labeler.
async fn viewer(
    net: &AppView,
    prefix: &str,
    labeler: &Did,
    setting: Option<ContentLabelPrefVisibility>,
) -> Viewer {
    let (agent, _, _) = account(net, prefix).await;
    agent
        .set_adult_content_enabled(true)
        .await
        .unwrap_or_else(|e| panic!("setAdultContentEnabled: {e}"));
    if let Some(setting) = setting {
        agent
            .add_labeler(labeler)
            .await
            .unwrap_or_else(|e| panic!("addLabeler: {e}"));
        for label in ["porn", "rude"] {
            agent
                .set_content_label_pref(label, setting, Some(labeler))
                .await
                .unwrap_or_else(|e| panic!("setContentLabelPref {label}: {e}"));
        }
    }
    let prefs = agent
        .get_preferences()
        .await
        .unwrap_or_else(|e| panic!("getPreferences: {e}"));
    let opts = agent
        .moderation_opts_from(&prefs)
        .await
        .unwrap_or_else(|e| panic!("moderation options: {e}"));
    Viewer {
        setting,
        reader: agent.with_labelers_from(&prefs),
        opts,
    }
}

/// The post as this viewer's reader gets it, once `ok` holds.
async fn post_view(
    viewer: &Viewer,
    uri: &AtUri,
    what: &str,
    ok: impl Fn(&PostView) -> bool,
) -> PostView {
    eventually(what, INDEXED, || async {
        let out = viewer
            .reader
            .call::<GetPosts>(get_posts::Parameters::new(vec![uri.clone()]), ())
            .await
            .unwrap_or_else(|e| panic!("getPosts {uri}: {e}"));
        out.posts.into_iter().find(|p| p.uri == *uri && ok(p))
    })
    .await
}

/// The profile as this viewer's reader gets it, once `ok` holds.
async fn profile_view(
    viewer: &Viewer,
    did: &Did,
    what: &str,
    ok: impl Fn(&ProfileViewDetailed) -> bool,
) -> ProfileViewDetailed {
    eventually(what, INDEXED, || async {
        let p = viewer
            .reader
            .get_profile(did.clone())
            .await
            .unwrap_or_else(|e| panic!("getProfile {did}: {e}"));
        ok(&p).then_some(p)
    })
    .await
}

fn has_label(
    labels: &Option<Vec<atmo_api::com::atproto::label::defs::Label>>,
    val: &str,
    src: &Did,
) -> bool {
    labels
        .iter()
        .flatten()
        .any(|l| l.val == val && l.src == *src)
}

/// Nothing to show in any context: no filter, blur, alert or badge.
fn shows_nothing(decision: &ModerationDecision<'_>, what: &str) {
    for context in ModerationContext::ALL {
        let ui = decision.ui(context);
        assert!(
            !ui.filter() && !ui.blur() && !ui.alert() && !ui.inform(),
            "{what}: {context:?} should show nothing: {ui:?}"
        );
    }
}

/// Subscribed viewers' settings turn Ozone's built-in and custom labels
/// into hide (filtered from lists), warn (blurred, not filtered) and
/// ignore (nothing); a viewer not subscribed to Ozone is not sent its
/// labels at all.
#[tokio::test(flavor = "multi_thread")]
async fn appview_moderation_prefs_hide_warn_ignore() {
    let Some(net) = AppView::shared() else { return };
    let ozone: Did = net.ozone_did.parse().expect("Ozone's DID");
    let moderator = moderator(net).await;
    let (alice, _, _) = account(net, "mpa").await;
    let (bob, bob_did, _) = account(net, "mpb").await;
    let adult = post(&alice, "a post Ozone labels porn").await;
    let rude_post = post(&bob, "a post by an account Ozone labels rude").await;

    use ContentLabelPrefVisibility::{Hide, Ignore, Warn};
    let mut viewers = Vec::new();
    for (prefix, setting) in [
        ("mph", Some(Hide)),
        ("mpw", Some(Warn)),
        ("mpi", Some(Ignore)),
        ("mpn", None),
    ] {
        viewers.push(viewer(net, prefix, &ozone, setting).await);
    }

    // What the agent fetched: the user's settings per labeler, and the
    // custom value from Ozone's service record.
    for v in &viewers {
        let Some(setting) = v.setting else {
            assert!(
                v.opts.prefs.labelers.iter().all(|l| l.did != ozone),
                "the unsubscribed viewer listens to Ozone: {:?}",
                v.opts.prefs.labelers
            );
            assert!(!v.opts.label_defs.contains_key(&ozone));
            continue;
        };
        assert_eq!(v.opts.prefs.labelers[0].did.as_str(), BSKY_LABELER_DID);
        let labeler = v
            .opts
            .prefs
            .labelers
            .iter()
            .find(|l| l.did == ozone)
            .expect("Ozone among the viewer's labelers");
        assert_eq!(labeler.labels["porn"], LabelPreference::from(setting));
        assert_eq!(labeler.labels["rude"], LabelPreference::from(setting));
        let rude = v.opts.label_defs[&ozone]
            .iter()
            .find(|d| d.identifier == "rude")
            .expect("Ozone's service record defines rude");
        assert_eq!(rude.default_setting, LabelPreference::Hide);
        assert_eq!(rude.severity, LabelValueDefinitionSeverity::Inform.into());
    }

    let adult_ref = json!({
        "$type": "com.atproto.repo.strongRef",
        "uri": adult.uri.as_str(),
        "cid": adult.cid.to_string(),
    });
    label(&moderator, &["porn"], adult_ref).await;
    let bob_ref = json!({ "$type": "com.atproto.admin.defs#repoRef", "did": bob_did.as_str() });
    label(&moderator, &["rude"], bob_ref).await;

    for v in &viewers {
        let who = format!("viewer with {:?}", v.setting);
        if v.setting.is_none() {
            // Wait for the labels to reach the AppView through a
            // subscribed viewer first, so their absence here means
            // something.
            continue;
        }
        let adult_view = post_view(v, &adult.uri, "porn on the post view", |p| {
            has_label(&p.labels, "porn", &ozone)
        })
        .await;
        let rude_view = post_view(v, &rude_post.uri, "rude on the author's post view", |p| {
            has_label(&p.author.labels, "rude", &ozone)
        })
        .await;
        let profile = profile_view(v, &bob_did, "rude on the profile view", |p| {
            has_label(&p.labels, "rude", &ozone)
        })
        .await;

        let adult_decision = moderate_post(&adult_view, &v.opts);
        let rude_decision = moderate_post(&rude_view, &v.opts);
        let profile_decision = moderate_profile(&profile, &v.opts);
        match v.setting {
            Some(Hide) => {
                assert!(
                    adult_decision.ui(ModerationContext::ContentList).filter(),
                    "{who}: porn post filtered"
                );
                assert!(
                    adult_decision.ui(ModerationContext::ContentMedia).blur(),
                    "{who}: porn media blurred"
                );
                assert!(
                    rude_decision.ui(ModerationContext::ContentList).filter(),
                    "{who}: rude author's post filtered"
                );
                assert!(
                    profile_decision.ui(ModerationContext::ProfileList).filter(),
                    "{who}: rude profile filtered from lists"
                );
            }
            Some(Warn) => {
                let list = adult_decision.ui(ModerationContext::ContentList);
                assert!(!list.filter(), "{who}: porn post kept in lists: {list:?}");
                let media = adult_decision.ui(ModerationContext::ContentMedia);
                assert!(
                    media.blur() && !media.no_override,
                    "{who}: porn media behind a warning: {media:?}"
                );
                let list = rude_decision.ui(ModerationContext::ContentList);
                assert!(
                    !list.filter() && list.blur(),
                    "{who}: rude author's post blurred: {list:?}"
                );
                let profiles = profile_decision.ui(ModerationContext::ProfileList);
                assert!(
                    !profiles.filter() && profiles.inform(),
                    "{who}: rude profile badged: {profiles:?}"
                );
            }
            _ => {
                shows_nothing(&adult_decision, &format!("{who}, porn post"));
                shows_nothing(&rude_decision, &format!("{who}, rude author's post"));
                shows_nothing(&profile_decision, &format!("{who}, rude profile"));
            }
        }
    }

    // Not subscribed: its header names only the app's labeler, so the
    // AppView leaves Ozone's labels out and nothing is moderated.
    let unsubscribed = viewers
        .iter()
        .find(|v| v.setting.is_none())
        .expect("the viewer");
    let adult_view = post_view(unsubscribed, &adult.uri, "the post", |_| true).await;
    assert!(
        !has_label(&adult_view.labels, "porn", &ozone),
        "Ozone's label sent to a viewer not subscribed to it: {:?}",
        adult_view.labels
    );
    let profile = profile_view(unsubscribed, &bob_did, "the profile", |_| true).await;
    assert!(
        !has_label(&profile.labels, "rude", &ozone),
        "{:?}",
        profile.labels
    );
    shows_nothing(
        &moderate_post(&adult_view, &unsubscribed.opts),
        "unsubscribed, porn post",
    );
    shows_nothing(
        &moderate_profile(&profile, &unsubscribed.opts),
        "unsubscribed, rude profile",
    );
}
