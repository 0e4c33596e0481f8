//! Compare-and-swap writes and one error type across endpoints, against the
//! real PDS.

use atmo_api::app::bsky::actor::profile::Profile;
use atmo_api::com::atproto::repo::{delete_record, get_record, put_record};
use atmo_client::{AnyError, AtpAgent, Error, Swap};
use atmo_types::{AtIdentifier, RecordKey};
use atproto_tests::Pds;

use crate::logged_in;

fn profile(name: &str) -> Profile {
    Profile {
        display_name: Some(name.into()),
        ..Default::default()
    }
}

/// `swapRecord` through the helpers: a write against a stale CID is the
/// endpoint's typed `InvalidSwap` with the server's status; against the
/// current one it succeeds; "must not exist" refuses to overwrite.
#[tokio::test(flavor = "multi_thread")]
async fn put_and_delete_with_swap_conditions() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _, _) = logged_in(pds, "swap").await;
    let me = RecordKey::new("self").unwrap();
    let first = agent
        .put_record_with(me.clone(), &profile("one"), Swap::record_absent())
        .await
        .expect("create a profile that does not exist yet");
    let second = agent
        .put_record_with(
            me.clone(),
            &profile("two"),
            Swap::record_is(first.cid.clone()),
        )
        .await
        .expect("update from the CID just read");
    assert_ne!(first.cid, second.cid);
    match agent
        .put_record_with(
            me.clone(),
            &profile("three"),
            Swap::record_is(first.cid.clone()),
        )
        .await
    {
        Err(Error::Api {
            error: put_record::Error::InvalidSwap(_),
            status,
            nsid,
        }) => {
            assert_eq!(status, 400);
            assert_eq!(nsid, "com.atproto.repo.putRecord");
        }
        other => panic!("a stale swapRecord must fail with InvalidSwap: {other:?}"),
    }
    assert!(matches!(
        agent
            .put_record_with(me.clone(), &profile("four"), Swap::record_absent())
            .await,
        Err(Error::Api {
            error: put_record::Error::InvalidSwap(_),
            ..
        })
    ));
    match agent
        .delete_record_with::<Profile>(me.clone(), Swap::record_is(first.cid.clone()))
        .await
    {
        Err(Error::Api {
            error: delete_record::Error::InvalidSwap(_),
            status: 400,
            ..
        }) => {}
        other => panic!("a stale delete must fail with InvalidSwap: {other:?}"),
    }
    agent
        .delete_record_with::<Profile>(me.clone(), Swap::record_is(second.cid.clone()))
        .await
        .expect("delete from the current CID");
}

async fn write_then_read(agent: &AtpAgent) -> Result<Profile, AnyError> {
    let me = RecordKey::new("self").unwrap();
    agent.put_record(me.clone(), &profile("any")).await?;
    agent.delete_record::<Profile>(me.clone()).await?;
    let did = agent.did().expect("logged in");
    Ok(agent
        .get_record::<Profile>(AtIdentifier::from(did), me)
        .await?
        .value)
}

/// Errors of several endpoints through one function with `?`: the typed
/// error of the one that failed is still reachable, with its status.
#[tokio::test(flavor = "multi_thread")]
async fn one_error_type_across_endpoints() {
    let Some(pds) = Pds::shared() else { return };
    let (agent, _, _) = logged_in(pds, "anyerr").await;
    let e = write_then_read(&agent).await.unwrap_err();
    assert_eq!(e.nsid(), Some("com.atproto.repo.getRecord"));
    assert_eq!(e.error_name(), Some("RecordNotFound"));
    assert_eq!(e.status(), Some(400));
    match &e {
        Error::Api { error, .. } => assert!(matches!(
            error.downcast_ref::<get_record::Error>(),
            Some(get_record::Error::RecordNotFound(_))
        )),
        other => panic!("{other:?}"),
    }
}
