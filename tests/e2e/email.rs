//! Email confirmation against the real PDS. (The 2FA path is
//! not here: the reference PDS 0.5.35 does not implement email 2FA — it
//! ignores `authFactorToken` and never answers `AuthFactorTokenRequired` —
//! so that path is tested against an in-process mock answering as Bluesky's
//! entryway does, in `crates/atmo-client/tests/session.rs`.)

use atmo_api::com::atproto::server::{confirm_email, request_email_confirmation};
use atmo_client::Error;
use atmo_types::Extra;
use atproto_tests::Pds;

use crate::logged_in;

/// requestEmailConfirmation, then confirmEmail with the real emailed code:
/// the session reports the email as confirmed. A wrong code is the typed
/// `InvalidToken` and does not set off a token refresh.
#[tokio::test(flavor = "multi_thread")]
async fn email_confirmation_with_the_emailed_code() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, events, _) = logged_in(pds, "olga").await;
    let session = agent.session().unwrap();
    let email = session.email.clone().expect("account has an email");
    assert_eq!(session.email_confirmed, Some(false));

    agent
        .call::<request_email_confirmation::RequestEmailConfirmation>((), ())
        .await
        .expect("requestEmailConfirmation");
    let token = pds
        .email_token(session.did.as_str(), "confirm_email")
        .await
        .expect("the harness saw the emailed token");

    match agent
        .call::<confirm_email::ConfirmEmail>(
            (),
            confirm_email::Input {
                email: email.clone(),
                token: "WRONG-TOKEN".into(),
                extra: Extra::new(),
            },
        )
        .await
    {
        Err(Error::Api {
            error: confirm_email::Error::InvalidToken(_),
            ..
        }) => {}
        other => panic!("wrong code gave {other:?}"),
    }

    agent
        .call::<confirm_email::ConfirmEmail>(
            (),
            confirm_email::Input {
                email,
                token,
                extra: Extra::new(),
            },
        )
        .await
        .expect("confirmEmail with the real code");
    let fresh = agent.refresh_session().await.expect("refresh");
    assert_eq!(fresh.email_confirmed, Some(true));
    assert!(events
        .names()
        .iter()
        .all(|e| *e == atmo_client::SessionEvent::Update));
}
