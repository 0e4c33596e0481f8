#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The todo service on loopback, called as a client calls it: atmo-client's
//! Agent with the generated endpoint types. What `addItem` stores,
//! `listItems` returns; `addItem` without a service-auth token is refused
//! with 401; a parameter outside the lexicon's constraints with 400
//! `InvalidRequest`.

use std::net::SocketAddr;
use std::sync::Arc;

use atmo_client::{AtpAgent, CallOptions, Error};
use atmo_crypto::{Curve, PublicKey};
use atmo_server::{
    mint_service_jwt, KeyId, KeyLookupError, KeyResolver, ServiceAuthVerifier, SigningKey,
};
use atmo_types::xrpc::Endpoint;
use atmo_types::{AtIdentifier, Did};
use atmo_xrpc::BoxFuture;
use custom_lexicon_example::lexicons::com::example::todo::{add_item, list_items};
use custom_lexicon_example::service::{router, AppState, Store};

const SERVICE: &str = "did:web:todo.example.com";
const USER: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const ADD_ITEM: &str = <add_item::AddItem as Endpoint>::NSID;
const LIST_ITEMS: &str = <list_items::ListItems as Endpoint>::NSID;

/// The user's one key, as their DID document would give it.
struct Fixed(Did, PublicKey);

impl KeyResolver for Fixed {
    fn resolve_key<'a>(
        &'a self,
        did: &'a Did,
        _: KeyId,
        _: bool,
    ) -> BoxFuture<'a, Result<PublicKey, KeyLookupError>> {
        let found = if *did == self.0 {
            Ok(self.1)
        } else {
            Err(KeyLookupError::UnknownIssuer(did.to_string()))
        };
        Box::pin(async move { found })
    }
}

struct Fixture {
    key: SigningKey,
    agent: AtpAgent,
}

async fn start() -> Fixture {
    let key = SigningKey::generate(Curve::K256).unwrap();
    let verifier =
        ServiceAuthVerifier::new(SERVICE, Fixed(USER.parse().unwrap(), key.public_key())).unwrap();
    let state = AppState {
        store: Arc::new(Store::new()),
        verifier,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let agent = AtpAgent::builder(format!("http://{addr}"))
        .allow_insecure_http(true)
        .build()
        .unwrap();
    Fixture { key, agent }
}

impl Fixture {
    /// `Authorization` with a token from USER for this service and `lxm`.
    fn auth(&self, lxm: &str) -> CallOptions {
        let token = mint_service_jwt(&self.key, USER, SERVICE, Some(lxm), None).unwrap();
        CallOptions::new().header("authorization", format!("Bearer {token}"))
    }

    async fn add(&self, title: &str) -> Result<i64, Error<add_item::Error>> {
        let out = self
            .agent
            .call_with::<add_item::AddItem>(
                &(),
                &add_item::Input::new(title.into()),
                &self.auth(ADD_ITEM),
            )
            .await?;
        Ok(out.count)
    }
}

/// The XRPC status and error name of a refusal the endpoint does not declare.
fn refusal<E: std::fmt::Debug>(e: Error<E>) -> (u16, String) {
    match e {
        Error::Xrpc(atmo_xrpc::Error::Xrpc(x)) => (x.status, x.error),
        other => panic!("expected an XRPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn what_add_item_stores_list_items_returns() {
    let f = start().await;
    assert_eq!(f.add("Buy milk").await.unwrap(), 1);
    assert_eq!(f.add("Walk the dog").await.unwrap(), 2);
    assert_eq!(f.add("Buy bread").await.unwrap(), 3);

    let actor: AtIdentifier = USER.parse().unwrap();
    let out = f
        .agent
        .call::<list_items::ListItems>(list_items::Parameters::new(actor.clone()), ())
        .await
        .unwrap();
    let titles: Vec<&str> = out.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["Buy milk", "Walk the dog", "Buy bread"]);
    assert!(out.items.iter().all(|i| i.priority == 3), "the default");

    // `match` and `limit`, as the lexicon describes them.
    let mut params = list_items::Parameters::new(actor);
    params.r#match = Some(vec!["Buy".into()]);
    params.limit = 1;
    let out = f
        .agent
        .call::<list_items::ListItems>(params, ())
        .await
        .unwrap();
    let titles: Vec<&str> = out.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["Buy milk"]);

    // The declared error, typed on the client.
    let e = f
        .agent
        .call::<list_items::ListItems>(
            list_items::Parameters::new("alice.test".parse().unwrap()),
            (),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Api {
                error: list_items::Error::UnknownActor(_),
                status: 400,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn add_item_without_a_token_or_with_one_for_another_route_or_service_is_refused_with_401() {
    let f = start().await;
    let e = f
        .agent
        .call::<add_item::AddItem>((), add_item::Input::new("Buy milk".into()))
        .await
        .unwrap_err();
    assert_eq!(refusal(e), (401, "MissingJwt".to_owned()));

    // A token minted for another method (lxm) is not good for this one.
    let e = f
        .agent
        .call_with::<add_item::AddItem>(
            &(),
            &add_item::Input::new("Buy milk".into()),
            &f.auth(LIST_ITEMS),
        )
        .await
        .unwrap_err();
    assert_eq!(refusal(e), (401, "BadJwtLexiconMethod".to_owned()));

    // Nor one for another service (aud).
    let token = mint_service_jwt(
        &f.key,
        USER,
        "did:web:other.example.com",
        Some(ADD_ITEM),
        None,
    )
    .unwrap();
    let e = f
        .agent
        .call_with::<add_item::AddItem>(
            &(),
            &add_item::Input::new("Buy milk".into()),
            &CallOptions::new().header("authorization", format!("Bearer {token}")),
        )
        .await
        .unwrap_err();
    assert_eq!(refusal(e), (401, "BadJwtAudience".to_owned()));

    // Nothing was stored.
    let out = f
        .agent
        .call::<list_items::ListItems>(list_items::Parameters::new(USER.parse().unwrap()), ())
        .await
        .unwrap();
    assert!(out.items.is_empty());
}

#[tokio::test]
async fn a_parameter_outside_the_lexicon_is_refused_with_400_invalid_request() {
    let f = start().await;
    // `limit` is 1 to 100 in the lexicon; the agent's own request checks
    // are off so that the server sees it.
    let mut params = list_items::Parameters::new(USER.parse().unwrap());
    params.limit = 1000;
    let e = f
        .agent
        .with_validate_requests(false)
        .call::<list_items::ListItems>(params, ())
        .await
        .unwrap_err();
    assert_eq!(refusal(e), (400, "InvalidRequest".to_owned()));

    // An actor that is neither a DID nor a handle, sent by NSID.
    let e = f
        .agent
        .query_json(LIST_ITEMS, &[("actor", "not an identifier")])
        .await
        .unwrap_err();
    assert_eq!(refusal(e), (400, "InvalidRequest".to_owned()));
}
