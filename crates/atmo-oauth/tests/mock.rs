//! Refusals and client authentication against a mock PDS + authorization
//! server on loopback: every check of the callback and of discovery is a
//! distinct typed error, and a confidential client's assertions verify.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use atmo_client::session::SessionError;
use atmo_client::Agent;
use atmo_oauth::jose::decode_jwt_unverified;
use atmo_oauth::{
    AuthorizeOptions, ClientConfig, Es256Key, IdentityResolver, MemoryStore, OAuthClient,
    OAuthError, OAuthSessionData, ResolvedIdentity, Scopes,
};
use atmo_types::Did;
use atmo_xrpc::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// How the mock misbehaves.
#[derive(Clone, Default)]
struct Behaviour {
    /// `sub` of the token answers (default: did:plc:alice).
    sub: Option<String>,
    /// `token_type` of the token answers (default: DPoP).
    token_type: Option<String>,
    /// Answer `use_dpop_nonce` without a `DPoP-Nonce` header.
    withhold_nonce: bool,
    /// Replace the authorization server metadata with this body.
    as_metadata: Option<Vec<u8>>,
    /// The issuer the protected-resource document names (default: itself).
    names_issuer: Option<String>,
    /// The public JWK set a confidential client must sign with.
    client_jwks: Option<Value>,
    /// The PDS answers 401 use_dpop_nonce without a nonce.
    pds_withholds_nonce: bool,
    /// `expires_in` of the first token (later ones, and by default: 3600).
    expires_in: Option<u64>,
    /// An access token the PDS calls invalid (401 `invalid_token`).
    revoked_access: Option<String>,
    /// Refresh grants are answered 503.
    token_unavailable: bool,
    /// Revocation is answered 500.
    revoke_fails: bool,
    /// Refresh grants are answered with this status and OAuth error code.
    refresh_error: Option<(u16, &'static str)>,
    /// How many refresh attempts are answered `use_dpop_nonce` with a new
    /// nonce each time (as a server whose nonce rotated does).
    refresh_nonce_challenges: u32,
    /// Those challenges come as a 401 with `WWW-Authenticate: DPoP
    /// error="use_dpop_nonce"` and no JSON error, as a resource server's.
    refresh_nonce_challenge_in_header: bool,
    /// The server's clock runs this many seconds ahead of the client's:
    /// token requests whose DPoP proof `iat` is more than a minute off are
    /// refused with `invalid_dpop_proof`, as the reference server does.
    clock_ahead_secs: u64,
    /// The `sub` of refresh answers (default: the sign-in's).
    refresh_sub: Option<String>,
    /// The status of a successful PAR answer (default 201).
    par_status: Option<u16>,
    /// The protected-resource document is answered with this status.
    resource_status: Option<u16>,
}

#[derive(Default)]
struct State {
    behaviour: Behaviour,
    /// Form bodies received, by path.
    forms: Vec<(String, HashMap<String, String>)>,
    /// Client assertion verdicts.
    assertions: Vec<Result<(), String>>,
    issued: u32,
    /// Refresh grant attempts, nonce challenges included.
    refresh_attempts: u32,
}

struct Mock {
    url: String,
    state: Arc<Mutex<State>>,
}

const NONCE: &str = "mock-nonce-1";

impl Mock {
    async fn start(behaviour: Behaviour) -> Mock {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            behaviour,
            ..Default::default()
        }));
        let (st, base) = (state.clone(), url.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (st, base) = (st.clone(), base.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let (st, base) = (st.clone(), base.clone());
                        async move { Ok::<_, Infallible>(handle(req, &st, &base).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Mock { url, state }
    }

    fn last_form(&self, path: &str) -> HashMap<String, String> {
        let st = self.state.lock().unwrap();
        st.forms
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, f)| f.clone())
            .unwrap()
    }

    fn forms(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .forms
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }
}

fn reply(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Full::new(Bytes::from(body))).unwrap()
}

fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body).replace('+', " ");
    text.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Checks a private_key_jwt assertion against the client's public keys.
fn verify_assertion(
    form: &HashMap<String, String>,
    jwks: &Value,
    issuer: &str,
) -> Result<(), String> {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    if form.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Err("no jwt-bearer assertion type".into());
    }
    let jwt = form.get("client_assertion").ok_or("no client_assertion")?;
    let (header, claims) = decode_jwt_unverified(jwt).map_err(|e| e.to_string())?;
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or("unknown kid")?;
    let coord = |k: &str| atmo_types::base64::decode_url(jwk[k].as_str().unwrap()).unwrap();
    let mut sec1 = vec![4u8];
    sec1.extend(coord("x"));
    sec1.extend(coord("y"));
    let vk = VerifyingKey::from_sec1_bytes(&sec1).map_err(|e| e.to_string())?;
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let sig = Signature::from_slice(&atmo_types::base64::decode_url(sig).unwrap())
        .map_err(|e| e.to_string())?;
    vk.verify(input.as_bytes(), &sig)
        .map_err(|_| "bad signature".to_owned())?;
    let client_id = form.get("client_id").ok_or("no client_id")?;
    if header["alg"] != "ES256"
        || claims["iss"] != client_id.as_str()
        || claims["sub"] != client_id.as_str()
        || claims["aud"] != issuer
    {
        return Err(format!("bad claims {claims}"));
    }
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap_or(0),
        claims["exp"].as_u64().unwrap_or(0),
    );
    if exp <= iat || exp > iat + 300 || claims["jti"].as_str().is_none() {
        return Err("bad times or jti".into());
    }
    Ok(())
}

async fn handle(
    req: hyper::Request<Incoming>,
    st: &Mutex<State>,
    base: &str,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let dpop = req
        .headers()
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bad_proof = req.headers().contains_key("x-mock-bad-proof");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let behaviour = st.lock().unwrap().behaviour.clone();
    let has_nonce = dpop
        .as_deref()
        .and_then(|p| decode_jwt_unverified(p).ok())
        .is_some_and(|(_, c)| c["nonce"].as_str().is_some_and(|n| n.starts_with(NONCE)));
    let proof_iat = dpop
        .as_deref()
        .and_then(|p| decode_jwt_unverified(p).ok())
        .and_then(|(_, c)| c["iat"].as_u64())
        .unwrap_or(0);
    let nonce_headers: &[(&str, &str)] = if behaviour.withhold_nonce {
        &[]
    } else {
        &[("dpop-nonce", NONCE)]
    };
    match path.as_str() {
        "/.well-known/oauth-protected-resource" if behaviour.resource_status.is_some() => reply(
            behaviour.resource_status.unwrap_or(500),
            &[],
            b"{}".to_vec(),
        ),
        "/.well-known/oauth-protected-resource" => {
            let issuer = behaviour
                .names_issuer
                .clone()
                .unwrap_or_else(|| base.to_owned());
            reply(
                200,
                &[],
                json!({"resource": base, "authorization_servers": [issuer]})
                    .to_string()
                    .into_bytes(),
            )
        }
        "/.well-known/oauth-authorization-server" => {
            let body = behaviour.as_metadata.clone().unwrap_or_else(|| {
                json!({
                    "issuer": base,
                    "authorization_endpoint": format!("{base}/oauth/authorize"),
                    "token_endpoint": format!("{base}/oauth/token"),
                    "pushed_authorization_request_endpoint": format!("{base}/oauth/par"),
                    "revocation_endpoint": format!("{base}/oauth/revoke"),
                    "require_pushed_authorization_requests": true,
                    "client_id_metadata_document_supported": true,
                    "authorization_response_iss_parameter_supported": true,
                    "dpop_signing_alg_values_supported": ["ES256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
                })
                .to_string()
                .into_bytes()
            });
            reply(200, &[], body)
        }
        "/oauth/par" | "/oauth/token" | "/oauth/revoke" => {
            let form = parse_form(&body);
            let refreshing = form.get("grant_type").map(String::as_str) == Some("refresh_token");
            if refreshing {
                let mut s = st.lock().unwrap();
                s.refresh_attempts += 1;
                if s.refresh_attempts <= behaviour.refresh_nonce_challenges {
                    let fresh = format!("{NONCE}-rotated-{}", s.refresh_attempts);
                    if behaviour.refresh_nonce_challenge_in_header {
                        return reply(
                            401,
                            &[
                                ("dpop-nonce", &fresh),
                                ("www-authenticate", r#"DPoP error="use_dpop_nonce""#),
                            ],
                            b"{}".to_vec(),
                        );
                    }
                    return reply(
                        400,
                        &[("dpop-nonce", &fresh)],
                        json!({"error": "use_dpop_nonce"}).to_string().into_bytes(),
                    );
                }
            }
            let server_now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + behaviour.clock_ahead_secs;
            if has_nonce && proof_iat.abs_diff(server_now) > 60 {
                return reply(
                    400,
                    nonce_headers,
                    json!({"error": "invalid_dpop_proof", "error_description": "DPoP proof iat is too old"})
                        .to_string()
                        .into_bytes(),
                );
            }
            if !has_nonce {
                return reply(
                    400,
                    nonce_headers,
                    json!({"error": "use_dpop_nonce"}).to_string().into_bytes(),
                );
            }
            let mut s = st.lock().unwrap();
            s.forms.push((path.clone(), form.clone()));
            if let Some(jwks) = &behaviour.client_jwks {
                let verdict = verify_assertion(&form, jwks, base);
                s.assertions.push(verdict.clone());
                if let Err(e) = verdict {
                    return reply(
                        401,
                        &[],
                        json!({"error": "invalid_client", "error_description": e})
                            .to_string()
                            .into_bytes(),
                    );
                }
            }
            match path.as_str() {
                "/oauth/par" => reply(behaviour.par_status.unwrap_or(201), &[("dpop-nonce", NONCE)], json!({"request_uri": "urn:ietf:params:oauth:request_uri:req-1", "expires_in": 299}).to_string().into_bytes()),
                "/oauth/revoke" if behaviour.revoke_fails => reply(500, &[], b"{}".to_vec()),
                "/oauth/revoke" => reply(200, &[], b"{}".to_vec()),
                _ => {
                    if let (true, Some((status, error))) = (refreshing, behaviour.refresh_error) {
                        return reply(status, nonce_headers, json!({"error": error}).to_string().into_bytes());
                    }
                    if refreshing && behaviour.token_unavailable {
                        return reply(503, &[], b"{}".to_vec());
                    }
                    if refreshing
                        && form.get("refresh_token").map(String::as_str) != Some(&format!("ref-{}", s.issued))
                    {
                        return reply(400, &[], json!({"error": "invalid_grant", "error_description": "refresh token replayed"}).to_string().into_bytes());
                    }
                    s.issued += 1;
                    let n = s.issued;
                    reply(200, &[("dpop-nonce", NONCE)], json!({
                        "access_token": format!("acc-{n}"),
                        "refresh_token": format!("ref-{n}"),
                        "token_type": behaviour.token_type.clone().unwrap_or_else(|| "DPoP".into()),
                        "sub": match (refreshing, &behaviour.refresh_sub) {
                            (true, Some(sub)) => sub.clone(),
                            _ => behaviour.sub.clone().unwrap_or_else(|| "did:plc:alice".into()),
                        },
                        "scope": "atproto transition:generic",
                        "expires_in": if n == 1 { behaviour.expires_in.unwrap_or(3600) } else { 3600 },
                    }).to_string().into_bytes())
                }
            }
        }
        p if p.starts_with("/xrpc/") => {
            if behaviour.pds_withholds_nonce || !has_nonce {
                let h: &[(&str, &str)] = if behaviour.pds_withholds_nonce {
                    &[("www-authenticate", r#"DPoP error="use_dpop_nonce""#)]
                } else {
                    &[
                        ("www-authenticate", r#"DPoP error="use_dpop_nonce""#),
                        ("dpop-nonce", NONCE),
                    ]
                };
                return reply(
                    401,
                    h,
                    json!({"error": "use_dpop_nonce", "message": "nonce"})
                        .to_string()
                        .into_bytes(),
                );
            }
            if bad_proof {
                return reply(
                    401,
                    &[("www-authenticate", r#"DPoP error="invalid_dpop_proof""#)],
                    json!({"error": "InvalidDPoPProof"})
                        .to_string()
                        .into_bytes(),
                );
            }
            if let (Some(bad), Some(a)) = (&behaviour.revoked_access, auth.as_deref()) {
                if a == format!("DPoP {bad}") {
                    return reply(
                        401,
                        &[(
                            "www-authenticate",
                            r#"DPoP error="invalid_token", error_description="revoked""#,
                        )],
                        json!({"error": "InvalidToken", "message": "revoked"})
                            .to_string()
                            .into_bytes(),
                    );
                }
            }
            let ok = auth.as_deref().is_some_and(|a| a.starts_with("DPoP acc-"));
            if !ok {
                return reply(
                    401,
                    &[],
                    json!({"error": "InvalidToken"}).to_string().into_bytes(),
                );
            }
            reply(
                200,
                &[],
                json!({"did": "did:plc:alice", "handle": "alice.test"})
                    .to_string()
                    .into_bytes(),
            )
        }
        _ => reply(
            404,
            &[],
            json!({"error": "NotFound"}).to_string().into_bytes(),
        ),
    }
}

/// Resolves `alice.test` and `did:plc:alice` to the first mock, any other
/// DID to the PDS in `others`.
struct Stub {
    pds: String,
    others: HashMap<String, String>,
}

impl IdentityResolver for Stub {
    fn resolve<'a>(
        &'a self,
        id: &'a str,
        _fresh: bool,
    ) -> BoxFuture<'a, Result<ResolvedIdentity, OAuthError>> {
        Box::pin(async move {
            let (did, pds) = match id {
                "alice.test" | "did:plc:alice" => ("did:plc:alice".to_owned(), self.pds.clone()),
                other => match self.others.get(other) {
                    Some(pds) => (other.to_owned(), pds.clone()),
                    None => {
                        return Err(OAuthError::Resolve {
                            identifier: id.into(),
                            message: "unknown".into(),
                        })
                    }
                },
            };
            Ok(ResolvedIdentity {
                did: Did::new(did).unwrap(),
                pds,
            })
        })
    }
}

fn client_for(mock: &Mock, config: ClientConfig, others: HashMap<String, String>) -> OAuthClient {
    OAuthClient::builder(config)
        .identity_resolver(Arc::new(Stub {
            pds: mock.url.clone(),
            others,
        }))
        .build()
        .unwrap()
}

fn loopback() -> ClientConfig {
    ClientConfig::loopback(vec!["http://127.0.0.1/callback".into()], Scopes::generic())
}

/// Starts a flow from `input`; returns the state the PAR request carried.
async fn start(client: &OAuthClient, mock: &Mock, input: &str) -> String {
    let url = client
        .authorize(input, AuthorizeOptions::default())
        .await
        .unwrap();
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?client_id=", mock.url)),
        "{url}"
    );
    mock.last_form("/oauth/par")["state"].clone()
}

/// The callback of a flow begun with `state` that the server completed
/// (code `c`, the mock's issuer).
async fn redirect(
    client: &OAuthClient,
    mock: &Mock,
    state: &str,
) -> Result<(atmo_oauth::OAuthSession, Option<String>), OAuthError> {
    client
        .callback(&q(&[("code", "c"), ("state", state), ("iss", &mock.url)]))
        .await
}

fn q(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A").replace('/', "%2F")))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn par_request_carries_pkce_state_scope_and_login_hint() {
    let mock = Mock::start(Behaviour::default()).await;
    let client = client_for(&mock, loopback(), HashMap::new());
    start(&client, &mock, "@Alice.test").await;
    let par = mock.last_form("/oauth/par");
    assert_eq!(par["code_challenge_method"], "S256");
    assert_eq!(par["code_challenge"].len(), 43);
    assert_eq!(par["response_type"], "code");
    assert_eq!(par["login_hint"], "alice.test");
    assert_eq!(par["scope"], "atproto transition:generic");
    assert_eq!(par["redirect_uri"], "http://127.0.0.1/callback");
    assert!(par["client_id"].starts_with("http://localhost?redirect_uri="));
    assert!(par["state"].len() >= 32);
    assert!(
        !par.contains_key("client_assertion"),
        "public clients send no assertion"
    );
}

#[tokio::test]
async fn callback_refuses_a_wrong_or_missing_iss() {
    let mock = Mock::start(Behaviour::default()).await;
    let client = client_for(&mock, loopback(), HashMap::new());
    let state = start(&client, &mock, "alice.test").await;
    let err = client
        .callback(&q(&[
            ("code", "c"),
            ("state", &state),
            ("iss", "http://127.0.0.1:1"),
        ]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::IssuerMismatch { ref actual, .. } if actual == "http://127.0.0.1:1"),
        "{err:?}"
    );
    let state = start(&client, &mock, "alice.test").await;
    let err = client
        .callback(&q(&[("code", "c"), ("state", &state)]))
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::MissingIssuer), "{err:?}");
    assert_eq!(mock.forms("/oauth/token"), 0, "no code was exchanged");
}

#[tokio::test]
async fn callback_refuses_unknown_reused_and_expired_states() {
    let mock = Mock::start(Behaviour::default()).await;
    let client = client_for(&mock, loopback(), HashMap::new());
    let err = client
        .callback(&q(&[
            ("code", "c"),
            ("state", "never-issued"),
            ("iss", &mock.url),
        ]))
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::UnknownState), "{err:?}");
    let state = start(&client, &mock, "alice.test").await;
    let query = q(&[("code", "c"), ("state", &state), ("iss", &mock.url)]);
    let (session, _) = client.callback(&query).await.unwrap();
    assert_eq!(session.account().as_str(), "did:plc:alice");
    let err = client.callback(&query).await.unwrap_err();
    assert!(
        matches!(err, OAuthError::UnknownState),
        "a state is used once: {err:?}"
    );

    let impatient = OAuthClient::builder(loopback())
        .identity_resolver(Arc::new(Stub {
            pds: mock.url.clone(),
            others: HashMap::new(),
        }))
        .state_ttl(std::time::Duration::from_secs(0))
        .build()
        .unwrap();
    let state = start(&impatient, &mock, "alice.test").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = redirect(&impatient, &mock, &state).await.unwrap_err();
    assert!(
        matches!(err, OAuthError::StateExpired { age_secs } if age_secs >= 1),
        "{err:?}"
    );
}

#[tokio::test]
async fn callback_reports_an_error_redirect() {
    let mock = Mock::start(Behaviour::default()).await;
    let client = client_for(&mock, loopback(), HashMap::new());
    let state = start(&client, &mock, "alice.test").await;
    let err = client
        .callback(&format!(
            "state={state}&iss={}&error=access_denied&error_description=The+user+said+no",
            mock.url
        ))
        .await
        .unwrap_err();
    match err {
        OAuthError::AuthorizationDenied { error, description } => {
            assert_eq!(error, "access_denied");
            assert_eq!(description.as_deref(), Some("The user said no"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn callback_refuses_a_sub_whose_pds_names_another_issuer() {
    let other_pds = Mock::start(Behaviour {
        names_issuer: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    })
    .await;
    let mock = Mock::start(Behaviour {
        sub: Some("did:plc:mallory".into()),
        ..Default::default()
    })
    .await;
    let client = client_for(
        &mock,
        loopback(),
        HashMap::from([("did:plc:mallory".to_owned(), other_pds.url.clone())]),
    );
    // Started from the server's URL, so only the issuer check can catch it.
    let state = start(&client, &mock, &mock.url).await;
    let err = redirect(&client, &mock, &state).await.unwrap_err();
    match err {
        OAuthError::IssuerNotAuthoritative {
            sub,
            issuer,
            resolved,
        } => {
            assert_eq!(sub.as_str(), "did:plc:mallory");
            assert_eq!(issuer, mock.url);
            assert_eq!(resolved, "http://127.0.0.1:9");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        mock.forms("/oauth/revoke"),
        1,
        "the refused tokens are revoked"
    );
    // Started from alice's handle, a token for someone else is refused first.
    let state = start(&client, &mock, "alice.test").await;
    let err = redirect(&client, &mock, &state).await.unwrap_err();
    assert!(matches!(err, OAuthError::SubjectMismatch { .. }), "{err:?}");
}

#[tokio::test]
async fn refuses_a_nonce_demand_without_a_nonce() {
    let mock = Mock::start(Behaviour {
        withhold_nonce: true,
        ..Default::default()
    })
    .await;
    let client = client_for(&mock, loopback(), HashMap::new());
    let err = client
        .authorize("alice.test", AuthorizeOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::MissingDpopNonce { ref url } if url.ends_with("/oauth/par")),
        "{err:?}"
    );
}

#[tokio::test]
async fn pds_nonce_challenge_without_a_nonce_is_an_error_not_a_loop() {
    let mock = Mock::start(Behaviour {
        pds_withholds_nonce: true,
        ..Default::default()
    })
    .await;
    let client = client_for(&mock, loopback(), HashMap::new());
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    let err = Agent::new(session)
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
}

#[tokio::test]
async fn refuses_oversize_and_malformed_metadata_and_bad_token_answers() {
    for (body, needle) in [
        (vec![b' '; 70 * 1024], "larger"),
        (b"{\"issuer\": ".to_vec(), "malformed"),
        (b"[]".to_vec(), "malformed"),
    ] {
        let mock = Mock::start(Behaviour {
            as_metadata: Some(body),
            ..Default::default()
        })
        .await;
        let client = client_for(&mock, loopback(), HashMap::new());
        let err = client
            .authorize("alice.test", AuthorizeOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, OAuthError::Metadata { .. }), "{err:?}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let mock = Mock::start(Behaviour {
        token_type: Some("Bearer".into()),
        ..Default::default()
    })
    .await;
    let client = client_for(&mock, loopback(), HashMap::new());
    let state = start(&client, &mock, "alice.test").await;
    let err = redirect(&client, &mock, &state).await.unwrap_err();
    assert!(matches!(err, OAuthError::TokenResponse(_)), "{err:?}");
}

#[tokio::test]
async fn refuses_plain_http_to_a_non_loopback_pds() {
    let mock = Mock::start(Behaviour::default()).await;
    let client = client_for(&mock, loopback(), HashMap::new());
    let err = client
        .authorize("http://pds.example.com", AuthorizeOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Url(_)), "{err:?}");
    let err = client
        .authorize("not a handle", AuthorizeOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::InvalidInput(_)), "{err:?}");
}

/// A confidential client signs a `private_key_jwt` assertion for PAR, the
/// code exchange, every refresh and the revocation, with its kid'd key; the
/// mock verifies each against the JWK set the client publishes.
#[tokio::test]
async fn confidential_client_authenticates_with_private_key_jwt() {
    let key = Es256Key::generate().unwrap().with_kid("key-1");
    let config = ClientConfig::confidential(
        "https://app.example/oauth/client-metadata.json",
        vec!["https://app.example/callback".into()],
        Scopes::generic(),
        vec![key],
    );
    let jwks = config.jwks();
    let mock = Mock::start(Behaviour {
        client_jwks: Some(jwks),
        ..Default::default()
    })
    .await;
    let client = client_for(&mock, config, HashMap::new());
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    session.refresh().await.unwrap();
    let agent = Agent::new(session.clone());
    let me = agent
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap();
    assert_eq!(me["did"], "did:plc:alice");
    session.logout().await.unwrap();
    let st = mock.state.lock().unwrap();
    assert_eq!(st.assertions.len(), 4, "PAR, code, refresh, revoke");
    assert!(
        st.assertions.iter().all(Result::is_ok),
        "{:?}",
        st.assertions
    );
    let jtis: std::collections::HashSet<_> = st
        .forms
        .iter()
        .map(|(_, f)| decode_jwt_unverified(&f["client_assertion"]).unwrap().1["jti"].clone())
        .collect();
    assert_eq!(jtis.len(), 4, "a fresh jti each time");
}

/// A refresh the server rejects ends the session: `Expired`, store cleared.
#[tokio::test]
async fn a_rejected_refresh_ends_the_session() {
    let mock = Mock::start(Behaviour::default()).await;
    let store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    let client = OAuthClient::builder(loopback())
        .identity_resolver(Arc::new(Stub {
            pds: mock.url.clone(),
            others: HashMap::new(),
        }))
        .session_store(store.clone())
        .build()
        .unwrap();
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    mock.state.lock().unwrap().issued += 1; // the server moved on: our refresh token is stale
    let err = session.refresh().await.unwrap_err();
    assert!(
        matches!(err, SessionError::Expired { ref error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    use atmo_oauth::OAuthSessionStore;
    assert!(store
        .load_session(session.account())
        .await
        .unwrap()
        .is_none());
    assert!(session.data().is_none());
}

type Events = Arc<Mutex<Vec<atmo_client::SessionEvent>>>;

fn client_with_events(mock: &Mock) -> (OAuthClient, Events, Arc<MemoryStore<OAuthSessionData>>) {
    let events: Events = Arc::default();
    let ev = events.clone();
    let store = Arc::new(MemoryStore::<OAuthSessionData>::new());
    let client = OAuthClient::builder(loopback())
        .identity_resolver(Arc::new(Stub {
            pds: mock.url.clone(),
            others: HashMap::new(),
        }))
        .session_store(store.clone())
        .on_session_event_async(move |event, _, _| {
            let ev = ev.clone();
            async move { ev.lock().unwrap().push(event) }
        })
        .build()
        .unwrap();
    (client, events, store)
}

/// An access token about to expire is refreshed before the call, not after
/// a failure.
#[tokio::test]
async fn refreshes_before_expiry() {
    use atmo_client::SessionEvent::{Create, Update};
    let mock = Mock::start(Behaviour {
        expires_in: Some(0),
        ..Default::default()
    })
    .await;
    let (client, events, _) = client_with_events(&mock);
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    Agent::new(session.clone())
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap();
    assert_eq!(*events.lock().unwrap(), [Create, Update]);
    assert_eq!(session.data().unwrap().access_token.expose(), "acc-2");
}

/// A 401 `invalid_token` from the PDS refreshes once and retries the call.
#[tokio::test]
async fn refreshes_on_invalid_token_and_retries() {
    use atmo_client::SessionEvent::{Create, Update};
    let mock = Mock::start(Behaviour {
        revoked_access: Some("acc-1".into()),
        ..Default::default()
    })
    .await;
    let (client, events, _) = client_with_events(&mock);
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    let me = Agent::new(session.clone())
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap();
    assert_eq!(me["did"], "did:plc:alice");
    assert_eq!(*events.lock().unwrap(), [Create, Update]);
    assert_eq!(session.data().unwrap().access_token.expose(), "acc-2");
}

/// A refresh that cannot reach the server keeps the session: a
/// `NetworkError` event, the store untouched, a transient error.
#[tokio::test]
async fn an_unreachable_token_endpoint_keeps_the_session() {
    use atmo_client::SessionEvent::{Create, NetworkError};
    use atmo_oauth::OAuthSessionStore;
    let mock = Mock::start(Behaviour {
        token_unavailable: true,
        ..Default::default()
    })
    .await;
    let (client, events, store) = client_with_events(&mock);
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    let err = session.refresh().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(*events.lock().unwrap(), [Create, NetworkError]);
    assert!(store
        .load_session(session.account())
        .await
        .unwrap()
        .is_some());
    assert!(session.data().is_some());
}

/// Many calls at once on a session whose token is about to expire: one
/// refresh for all of them (single flight), every call succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_share_one_refresh() {
    use atmo_client::SessionEvent::{Create, Update};
    let mock = Mock::start(Behaviour {
        expires_in: Some(0),
        ..Default::default()
    })
    .await;
    let (client, events, _) = client_with_events(&mock);
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    let agent = Agent::new(session);
    let calls = (0..10).map(|_| {
        let agent = agent.clone();
        tokio::spawn(async move { agent.query_json("com.atproto.server.getSession", &[]).await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(*events.lock().unwrap(), [Create, Update]);
    let grants = mock
        .state
        .lock()
        .unwrap()
        .forms
        .iter()
        .filter(|(p, f)| {
            p == "/oauth/token" && f.get("grant_type").map(String::as_str) == Some("refresh_token")
        })
        .count();
    assert_eq!(grants, 1);
}

/// A 401 for a refused proof (not the token) is returned as it is, without
/// spending the refresh token.
#[tokio::test]
async fn a_refused_proof_does_not_refresh() {
    let mock = Mock::start(Behaviour {
        revoked_access: Some("acc-1".into()),
        ..Default::default()
    })
    .await;
    let (client, events, _) = client_with_events(&mock);
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    // The mock's PDS answers this header with a proof error.
    let err = Agent::new(session)
        .with_options(atmo_client::CallOptions::new().header("x-mock-bad-proof", "1"))
        .query_json("com.atproto.server.getSession", &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert_eq!(
        events.lock().unwrap().len(),
        1,
        "no refresh: {:?}",
        events.lock().unwrap()
    );
}

/// Sign-out clears the store and ends the session even when the server's
/// revocation fails, and reports that failure.
#[tokio::test]
async fn sign_out_clears_the_store_even_when_revocation_fails() {
    use atmo_client::SessionEvent::{Create, Expired};
    use atmo_oauth::OAuthSessionStore;
    let mock = Mock::start(Behaviour {
        revoke_fails: true,
        ..Default::default()
    })
    .await;
    let (client, events, store) = client_with_events(&mock);
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    let err = session.logout().await.unwrap_err();
    assert!(
        matches!(&err, SessionError::Auth(a) if matches!(
            a.downcast_ref::<OAuthError>(),
            Some(OAuthError::Server { status: 500, .. })
        )),
        "{err:?}"
    );
    assert!(store
        .load_session(session.account())
        .await
        .unwrap()
        .is_none());
    assert!(session.data().is_none());
    assert_eq!(*events.lock().unwrap(), [Create, Expired]);
    assert_eq!(
        mock.last_form("/oauth/revoke")["token"],
        "ref-1",
        "the refresh token is revoked"
    );
}

/// A session signed in against a fresh mock with `behaviour`, with its
/// event log and store.
async fn signed_in(
    behaviour: Behaviour,
) -> (
    Mock,
    atmo_oauth::OAuthSession,
    Events,
    Arc<MemoryStore<OAuthSessionData>>,
) {
    let mock = Mock::start(behaviour).await;
    let (client, events, store) = client_with_events(&mock);
    let state = start(&client, &mock, "alice.test").await;
    let (session, _) = redirect(&client, &mock, &state).await.unwrap();
    (mock, session, events, store)
}

/// The OAuth error inside a refresh error that kept the session.
fn kept_cause(err: &SessionError) -> &OAuthError {
    match err {
        SessionError::Auth(a) => a
            .downcast_ref::<OAuthError>()
            .unwrap_or_else(|| panic!("not an OAuth error: {err:?}")),
        other => panic!("not an authentication error: {other:?}"),
    }
}

/// Asserts that a failed refresh kept the session: a transient error, a
/// `NetworkError` event, the store and the session's data untouched.
async fn assert_kept(
    err: &SessionError,
    session: &atmo_oauth::OAuthSession,
    events: &Events,
    store: &MemoryStore<OAuthSessionData>,
) {
    use atmo_client::SessionEvent::{Create, NetworkError};
    use atmo_oauth::OAuthSessionStore;
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(*events.lock().unwrap(), [Create, NetworkError], "{err:?}");
    let stored = store.load_session(session.account()).await.unwrap();
    assert_eq!(stored.as_ref(), session.data().as_ref(), "{err:?}");
    assert!(stored.is_some(), "{err:?}");
}

/// Each error a token endpoint may answer a refresh with: only
/// `invalid_grant` ends the session; everything else keeps it and is
/// reported as transient, carrying the typed OAuth error.
#[tokio::test]
async fn token_endpoint_errors_end_the_session_only_on_invalid_grant() {
    use atmo_client::SessionEvent::{Create, Expired};
    use atmo_oauth::OAuthSessionStore;
    for (status, code) in [
        (400, "invalid_dpop_proof"),
        (401, "invalid_dpop_proof"),
        (400, "invalid_request"),
        (401, "invalid_client"),
        (400, "unauthorized_client"),
        (400, "unsupported_grant_type"),
        (400, "invalid_scope"),
        (403, "access_denied"),
        (401, "invalid_grant"),
        (429, "rate_limited"),
        (500, "server_error"),
        (503, "temporarily_unavailable"),
    ] {
        let (_mock, session, events, store) = signed_in(Behaviour {
            refresh_error: Some((status, code)),
            ..Default::default()
        })
        .await;
        let err = session.refresh().await.unwrap_err();
        assert_kept(&err, &session, &events, &store).await;
        assert!(
            matches!(kept_cause(&err), OAuthError::Server { status: s, error, .. } if *s == status && error == code),
            "{status} {code}: {err:?}"
        );
    }
    let (_mock, session, events, store) = signed_in(Behaviour {
        refresh_error: Some((400, "invalid_grant")),
        ..Default::default()
    })
    .await;
    let err = session.refresh().await.unwrap_err();
    assert!(
        matches!(err, SessionError::Expired { ref error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(*events.lock().unwrap(), [Create, Expired]);
    assert!(store
        .load_session(session.account())
        .await
        .unwrap()
        .is_none());
    assert!(session.data().is_none());
}

/// A nonce challenge during a refresh (the server's nonce rotated) is
/// answered once with the new nonce, and the refresh succeeds.
#[tokio::test]
async fn a_nonce_challenge_during_refresh_is_retried_once() {
    use atmo_client::SessionEvent::{Create, Update};
    let (mock, session, events, _) = signed_in(Behaviour {
        refresh_nonce_challenges: 1,
        ..Default::default()
    })
    .await;
    session.refresh().await.unwrap();
    assert_eq!(*events.lock().unwrap(), [Create, Update]);
    assert_eq!(session.data().unwrap().access_token.expose(), "acc-2");
    assert_eq!(mock.state.lock().unwrap().refresh_attempts, 2);

    // The same challenge as a resource server words it (401 and
    // `WWW-Authenticate`), which some authorization servers send.
    let (mock, session, _, _) = signed_in(Behaviour {
        refresh_nonce_challenges: 1,
        refresh_nonce_challenge_in_header: true,
        ..Default::default()
    })
    .await;
    session.refresh().await.unwrap();
    assert_eq!(session.data().unwrap().access_token.expose(), "acc-2");
    assert_eq!(mock.state.lock().unwrap().refresh_attempts, 2);
}

/// A server that challenges the retry too does not cost the session: it is
/// kept, the error transient, and no third attempt is made.
#[tokio::test]
async fn a_repeated_nonce_challenge_during_refresh_keeps_the_session() {
    let (mock, session, events, store) = signed_in(Behaviour {
        refresh_nonce_challenges: 2,
        ..Default::default()
    })
    .await;
    let err = session.refresh().await.unwrap_err();
    assert_kept(&err, &session, &events, &store).await;
    assert!(
        matches!(kept_cause(&err), OAuthError::MissingDpopNonce { .. }),
        "{err:?}"
    );
    assert_eq!(mock.state.lock().unwrap().refresh_attempts, 2);
    // Once the server behaves, the same refresh token still works.
    mock.state.lock().unwrap().refresh_attempts = 10;
    session.refresh().await.unwrap();
    assert_eq!(session.data().unwrap().access_token.expose(), "acc-2");
}

/// The client's clock is ten minutes behind the server's: the token
/// endpoint refuses the DPoP proof's `iat` (`invalid_dpop_proof`). The
/// session is kept (a correct clock later refreshes it), and the error is
/// transient and typed.
#[tokio::test]
async fn a_skewed_client_clock_keeps_the_session() {
    let (mock, session, events, store) = signed_in(Behaviour::default()).await;
    mock.state.lock().unwrap().behaviour.clock_ahead_secs = 600;
    let err = session.refresh().await.unwrap_err();
    assert_kept(&err, &session, &events, &store).await;
    assert!(
        matches!(kept_cause(&err), OAuthError::Server { status: 400, error, .. } if error == "invalid_dpop_proof"),
        "{err:?}"
    );
    mock.state.lock().unwrap().behaviour.clock_ahead_secs = 0;
    session.refresh().await.unwrap();
    assert_eq!(session.data().unwrap().access_token.expose(), "acc-2");
}

/// A refresh answer for another account ends the session.
#[tokio::test]
async fn a_refresh_for_another_account_ends_the_session() {
    use atmo_client::SessionEvent::{Create, Expired};
    let (mock, session, events, _) = signed_in(Behaviour {
        refresh_sub: Some("did:plc:mallory".into()),
        ..Default::default()
    })
    .await;
    let err = session.refresh().await.unwrap_err();
    assert!(matches!(err, SessionError::Expired { .. }), "{err:?}");
    assert_eq!(*events.lock().unwrap(), [Create, Expired]);
    assert!(session.data().is_none());
    assert_eq!(
        mock.last_form("/oauth/revoke")["token"],
        "ref-2",
        "the other account's new tokens are revoked"
    );
}

/// When the account's PDS names another authorization server, the issuer
/// no longer speaks for it: the refresh ends the session without spending
/// the refresh token.
#[tokio::test]
async fn an_issuer_that_no_longer_speaks_for_the_account_ends_the_session() {
    use atmo_client::SessionEvent::{Create, Expired};
    let (mock, session, events, _) = signed_in(Behaviour::default()).await;
    mock.state.lock().unwrap().behaviour.names_issuer = Some("http://127.0.0.1:9".into());
    let err = session.refresh().await.unwrap_err();
    assert!(matches!(err, SessionError::Expired { .. }), "{err:?}");
    assert_eq!(*events.lock().unwrap(), [Create, Expired]);
    assert_eq!(mock.state.lock().unwrap().refresh_attempts, 0);
}

/// A protected-resource document answered with an error status during a
/// refresh keeps the session; the status is typed.
#[tokio::test]
async fn a_metadata_error_during_refresh_keeps_the_session() {
    for status in [404, 503] {
        let (mock, session, events, store) = signed_in(Behaviour::default()).await;
        mock.state.lock().unwrap().behaviour.resource_status = Some(status);
        let err = session.refresh().await.unwrap_err();
        assert_kept(&err, &session, &events, &store).await;
        let cause = kept_cause(&err);
        assert!(
            matches!(cause, OAuthError::MetadataStatus { status: s, .. } if *s == status),
            "{err:?}"
        );
        assert_eq!(cause.is_transient(), status == 503);
    }
}

/// RFC 9126: a PAR endpoint answers 201 Created. Another success status is
/// refused with a typed error naming both.
#[tokio::test]
async fn par_must_answer_201() {
    let mock = Mock::start(Behaviour {
        par_status: Some(200),
        ..Default::default()
    })
    .await;
    let client = client_for(&mock, loopback(), HashMap::new());
    let err = client
        .authorize("alice.test", AuthorizeOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::UnexpectedStatus { expected: 201, status: 200, ref url } if url.ends_with("/oauth/par")),
        "{err:?}"
    );
    let mock = Mock::start(Behaviour {
        par_status: Some(201),
        ..Default::default()
    })
    .await;
    start(
        &client_for(&mock, loopback(), HashMap::new()),
        &mock,
        "alice.test",
    )
    .await;
}

/// The loopback listener finishes a sign-in: a stale callback (a state the
/// client never issued) gets an error page without ending the wait, and
/// the callback of the client's own sign-in gives the session.
#[cfg(feature = "loopback")]
#[tokio::test]
async fn the_loopback_listener_skips_unknown_states_and_signs_in() {
    use atmo_oauth::loopback::RedirectListener;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mock = Mock::start(Behaviour::default()).await;
    let listener = RedirectListener::bind("/callback").await.unwrap();
    let redirect_uri = listener.redirect_uri();
    let config = ClientConfig::loopback(vec![redirect_uri.clone()], Scopes::generic());
    let client = client_for(&mock, config, HashMap::new());
    let state = start(&client, &mock, "alice.test").await;
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move { listener.wait_for(&client).await })
    };
    let addr = redirect_uri
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let call = |query: String| {
        let addr = addr.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET /callback?{query} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut page = String::new();
            let _ = s.read_to_string(&mut page).await;
            page
        }
    };
    let page = call(q(&[("code", "c"), ("state", "stale"), ("iss", &mock.url)])).await;
    assert!(page.starts_with("HTTP/1.1 400"), "{page}");
    let page = call(q(&[("code", "c"), ("state", &state), ("iss", &mock.url)])).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Signed in"), "{page}");
    let (session, _) = tokio::time::timeout(std::time::Duration::from_secs(20), waiting)
        .await
        .expect("the listener hung")
        .unwrap()
        .unwrap();
    assert_eq!(session.account().as_str(), "did:plc:alice");
}
