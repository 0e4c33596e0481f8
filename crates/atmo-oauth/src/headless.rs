//! Signing in without a browser against the reference PDS's built-in
//! authorization server (`@atproto/oauth-provider`), for development,
//! demos and end-to-end tests against a local PDS. Never for real users:
//! it handles their password.
//!
//! It does what the browser would: loads the authorization page (keeping
//! its device cookies), posts the sign-in form to the provider's API with
//! the CSRF token in both a cookie and a header, then posts consent, and
//! returns the query of the redirect back to the app.

use std::sync::Arc;
use std::time::Duration;

use atmo_xrpc::{HttpClient, HttpMethod, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::error::OAuthError;
use crate::util::{parse_query, random_token};

/// Signs `username` in with `password` on the authorization page at
/// `authorize_url` (what [`crate::OAuthClient::authorize`] returned) and
/// consents; returns the redirect's query (`code`, `state`, `iss`) for
/// [`crate::OAuthClient::callback`].
pub async fn sign_in(
    http: &Arc<dyn HttpClient>,
    authorize_url: &str,
    username: &str,
    password: &str,
) -> Result<String, OAuthError> {
    let issuer = crate::util::origin_of(authorize_url)
        .ok_or_else(|| OAuthError::InvalidInput(format!("{authorize_url} is not a URL")))?;
    let mut cookies: Vec<(String, String)> = Vec::new();
    let page = send(
        http,
        HttpMethod::Get,
        authorize_url,
        vec![
            ("sec-fetch-mode".into(), "navigate".into()),
            ("sec-fetch-dest".into(), "document".into()),
            ("sec-fetch-site".into(), "none".into()),
            (
                "user-agent".into(),
                "atmo-oauth-headless/0.1 (X11; Linux)".into(),
            ),
            ("accept".into(), "text/html".into()),
        ],
        None,
    )
    .await?;
    if page.status != 200 {
        return Err(step_error("authorization page", &page));
    }
    merge_cookies(&mut cookies, &page);
    let csrf = random_token::<18>()?; // 24 characters
    let referer = authorize_url.to_owned();
    let api = |path: &str| format!("{issuer}/@atproto/oauth-provider/~api/{path}");
    let headers = |cookies: &[(String, String)], bearer: Option<&str>| {
        let mut cookie = format!("csrf-token={csrf}");
        for (k, v) in cookies {
            cookie.push_str(&format!("; {k}={v}"));
        }
        let mut h = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
            ("sec-fetch-mode".to_owned(), "same-origin".to_owned()),
            ("sec-fetch-site".to_owned(), "same-origin".to_owned()),
            ("sec-fetch-dest".to_owned(), "empty".to_owned()),
            ("origin".to_owned(), issuer.clone()),
            ("referer".to_owned(), referer.clone()),
            ("x-csrf-token".to_owned(), csrf.clone()),
            ("cookie".to_owned(), cookie),
            (
                "user-agent".to_owned(),
                "atmo-oauth-headless/0.1 (X11; Linux)".to_owned(),
            ),
        ];
        if let Some(t) = bearer {
            h.push(("authorization".to_owned(), format!("Bearer {t}")));
        }
        h
    };
    let body =
        json!({"locale": "en", "username": username, "password": password, "remember": false});
    let signed = send(
        http,
        HttpMethod::Post,
        &api("sign-in"),
        headers(&cookies, None),
        Some(body.to_string().into_bytes()),
    )
    .await?;
    if signed.status != 200 {
        return Err(step_error("sign-in", &signed));
    }
    merge_cookies(&mut cookies, &signed);
    let answer: Value = serde_json::from_slice(&signed.body)
        .map_err(|_| OAuthError::InvalidCallback("the sign-in answer is not JSON".into()))?;
    let did = answer
        .pointer("/account/sub")
        .or_else(|| answer.pointer("/account/did"))
        .and_then(Value::as_str)
        .ok_or_else(|| OAuthError::InvalidCallback("the sign-in answer names no account".into()))?
        .to_owned();
    let token = answer
        .get("ephemeralToken")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let consent = send(
        http,
        HttpMethod::Post,
        &api("consent"),
        headers(&cookies, token.as_deref()),
        Some(json!({ "did": did }).to_string().into_bytes()),
    )
    .await?;
    if consent.status != 200 {
        return Err(step_error("consent", &consent));
    }
    let answer: Value = serde_json::from_slice(&consent.body)
        .map_err(|_| OAuthError::InvalidCallback("the consent answer is not JSON".into()))?;
    let url = answer
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| OAuthError::InvalidCallback("the consent answer has no url".into()))?;
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    // Keep only what the redirect carries to the app.
    let pairs = parse_query(query).map_err(OAuthError::InvalidCallback)?;
    let keep: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "code" | "state" | "iss" | "error" | "error_description"
            )
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(crate::util::form_encode(&keep))
}

async fn send(
    http: &Arc<dyn HttpClient>,
    method: HttpMethod,
    url: &str,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
) -> Result<HttpResponse, OAuthError> {
    http.send(HttpRequest {
        method,
        url: url.to_owned(),
        headers,
        body,
        timeout: Duration::from_secs(30),
        max_response_size: 4 * 1024 * 1024,
    })
    .await
    .map_err(|e| OAuthError::Http {
        url: url.to_owned(),
        message: e.to_string(),
    })
}

fn step_error(step: &str, r: &HttpResponse) -> OAuthError {
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    OAuthError::Server {
        url: step.to_owned(),
        status: r.status,
        error: v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unexpected answer")
            .to_owned(),
        description: v
            .get("error_description")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// Adds or replaces the cookies an answer sets (name and value only).
fn merge_cookies(jar: &mut Vec<(String, String)>, r: &HttpResponse) {
    for (name, value) in &r.headers {
        if !name.eq_ignore_ascii_case("set-cookie") {
            continue;
        }
        let Some((k, v)) = value.split(';').next().and_then(|kv| kv.split_once('=')) else {
            continue;
        };
        let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
        jar.retain(|(n, _)| *n != k);
        if !v.is_empty() {
            jar.push((k, v));
        }
    }
}
