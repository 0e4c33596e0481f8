//! The PDS's own rate limit on logins.

use std::time::SystemTime;

use atmo_client::{Error, Login};
use atproto_tests::{Pds, PdsOptions};

use crate::{agent, new_account};

/// With rate limits on, the reference PDS allows 30 createSession calls per
/// identifier in 5 minutes; the 31st failed login is a typed rate-limit
/// error carrying the reset time from the `RateLimit-*` headers.
#[tokio::test(flavor = "multi_thread")]
async fn thirty_first_failed_login_is_rate_limited_with_reset_time() {
    let Some(pds) = Pds::start_or_skip(&PdsOptions {
        rate_limits: true,
        ..Default::default()
    }) else {
        return;
    };
    let (creator, _) = agent(&pds.url);
    let (handle, _) = new_account(&creator, "nina").await;
    let (agent, _) = agent(&pds.url);
    for attempt in 1..=30 {
        match agent
            .login(Login::new(handle.as_str(), "wrong-password"))
            .await
        {
            Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::Xrpc(
                atmo_client::atmo_xrpc::XrpcError { status: 401, .. },
            ))) => {}
            other => panic!("failed login {attempt} gave {other:?}"),
        }
    }
    match agent
        .login(Login::new(handle.as_str(), "wrong-password"))
        .await
    {
        Err(Error::Xrpc(atmo_client::atmo_xrpc::Error::RateLimited(limit))) => {
            assert_eq!(limit.limit, Some(30));
            assert_eq!(limit.remaining, Some(0));
            let reset = limit.reset.expect("a reset time");
            assert!(reset > SystemTime::now(), "reset lies in the future");
            assert!(
                reset < SystemTime::now() + std::time::Duration::from_secs(301),
                "within the 5-minute window"
            );
            assert_eq!(limit.error.as_deref(), Some("RateLimitExceeded"));
        }
        other => panic!("31st login gave {other:?}"),
    }
}
