//! Server metadata (protected resource, authorization server) with the
//! atproto profile's checks, and the client's own configuration, from which
//! the client metadata document and the public JWK set are produced.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::OAuthError;
use crate::jose::Es256Key;
use crate::scope::{Scope, Scopes};
use crate::util::{form_encode_into, origin_of, parse_query};

/// Largest metadata document accepted (bytes).
pub const MAX_METADATA_SIZE: usize = 64 * 1024;

/// `/.well-known/oauth-protected-resource` of a PDS.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ProtectedResourceMetadata {
    /// The resource's origin; must be the PDS's.
    pub resource: String,
    /// Its authorization servers; atproto requires exactly one.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
}

impl ProtectedResourceMetadata {
    /// Parses and checks the document fetched from `pds` (an origin):
    /// `resource` must be that origin and there must be exactly one
    /// authorization server. Returns the issuer.
    pub fn parse(bytes: &[u8], pds: &str) -> Result<(Self, String), OAuthError> {
        let url = format!(
            "{}/.well-known/oauth-protected-resource",
            pds.trim_end_matches('/')
        );
        let doc: Self = parse_json(bytes, &url)?;
        let bad = |reason: String| OAuthError::Metadata {
            url: url.clone(),
            reason,
        };
        let want = origin_of(pds).ok_or_else(|| bad(format!("{pds} is not an origin")))?;
        if origin_of(&doc.resource).as_deref() != Some(want.as_str())
            || doc.resource.trim_end_matches('/') != want
        {
            return Err(bad(format!(
                "resource is {:?}, expected {want}",
                doc.resource
            )));
        }
        let [issuer] = doc.authorization_servers.as_slice() else {
            return Err(bad(format!(
                "expected exactly one authorization server, found {}",
                doc.authorization_servers.len()
            )));
        };
        let issuer = issuer.clone();
        Ok((doc, issuer))
    }
}

/// `/.well-known/oauth-authorization-server` of an issuer: the fields
/// atproto clients use.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct AuthorizationServerMetadata {
    /// The issuer; must equal the URL it was fetched for.
    pub issuer: String,
    /// Where the user is sent.
    pub authorization_endpoint: String,
    /// Code exchange and refresh.
    pub token_endpoint: String,
    /// Pushed authorization requests; required by atproto.
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// Whether PAR is required.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Token revocation.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Must be true for atproto.
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    /// Whether the callback carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// Resources this server serves, when listed.
    #[serde(default)]
    pub protected_resources: Option<Vec<String>>,
    /// DPoP algorithms; must include ES256.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Client authentication methods.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// PKCE methods; must include S256.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

impl AuthorizationServerMetadata {
    /// Parses and checks the document fetched for `issuer`: the issuer
    /// matches, client metadata documents and PAR are supported, ES256 DPoP
    /// and S256 PKCE are offered, every endpoint is on the issuer's origin
    /// (so tokens only ever go to the issuer and the PDS), and `pds`, when
    /// given and the server lists its resources, is among them.
    pub fn parse(bytes: &[u8], issuer: &str, pds: Option<&str>) -> Result<Self, OAuthError> {
        let url = format!(
            "{}/.well-known/oauth-authorization-server",
            issuer.trim_end_matches('/')
        );
        let doc: Self = parse_json(bytes, &url)?;
        let bad = |reason: String| OAuthError::Metadata {
            url: url.clone(),
            reason,
        };
        if doc.issuer != issuer {
            return Err(OAuthError::IssuerMetadataMismatch {
                expected: issuer.to_owned(),
                actual: doc.issuer,
            });
        }
        if !doc.client_id_metadata_document_supported {
            return Err(bad(
                "client_id_metadata_document_supported is not true".into()
            ));
        }
        if doc.pushed_authorization_request_endpoint.is_none() {
            return Err(bad(
                "no pushed_authorization_request_endpoint (PAR is required)".into(),
            ));
        }
        if !doc
            .dpop_signing_alg_values_supported
            .iter()
            .any(|a| a == "ES256")
        {
            return Err(bad(
                "ES256 is not among dpop_signing_alg_values_supported".into()
            ));
        }
        if !doc.code_challenge_methods_supported.is_empty()
            && !doc
                .code_challenge_methods_supported
                .iter()
                .any(|m| m == "S256")
        {
            return Err(bad(
                "S256 is not among code_challenge_methods_supported".into()
            ));
        }
        let origin = origin_of(issuer).ok_or_else(|| bad(format!("{issuer} is not a URL")))?;
        let endpoints = [
            ("authorization_endpoint", Some(&doc.authorization_endpoint)),
            ("token_endpoint", Some(&doc.token_endpoint)),
            (
                "pushed_authorization_request_endpoint",
                doc.pushed_authorization_request_endpoint.as_ref(),
            ),
            ("revocation_endpoint", doc.revocation_endpoint.as_ref()),
        ];
        for (name, value) in endpoints {
            if let Some(v) = value {
                if origin_of(v).as_deref() != Some(origin.as_str()) {
                    return Err(bad(format!("{name} {v:?} is not on the issuer's origin")));
                }
            }
        }
        if let (Some(pds), Some(list)) = (pds, &doc.protected_resources) {
            let pds = origin_of(pds);
            if !list.iter().any(|r| origin_of(r) == pds) {
                return Err(bad("the PDS is not among protected_resources".into()));
            }
        }
        Ok(doc)
    }

    /// The PAR endpoint (present after [`AuthorizationServerMetadata::parse`]).
    pub fn par_endpoint(&self) -> &str {
        self.pushed_authorization_request_endpoint
            .as_deref()
            .unwrap_or_default()
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], url: &str) -> Result<T, OAuthError> {
    if bytes.len() > MAX_METADATA_SIZE {
        return Err(OAuthError::Metadata {
            url: url.to_owned(),
            reason: format!("larger than {MAX_METADATA_SIZE} bytes"),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| OAuthError::Metadata {
        url: url.to_owned(),
        reason: format!("malformed JSON: {e}"),
    })
}

/// What kind of OAuth client an app is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// The development client: `client_id` `http://localhost?...`, redirects
    /// to `http://127.0.0.1:<port>/...` or `http://[::1]:<port>/...`. No
    /// metadata document to serve; the server derives it.
    Loopback,
    /// A public client: `client_id` is the https URL of its metadata.
    Public,
    /// A confidential client authenticating with `private_key_jwt`.
    Confidential,
}

/// `web` or `native`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationType {
    /// A web app (default).
    Web,
    /// A native app (custom-scheme or loopback redirects).
    Native,
}

/// The one typed configuration of an OAuth client: it yields the client
/// metadata document and the public JWK set the app serves, and is checked
/// by [`ClientConfig::check`] (the client builder calls it).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The client id: `http://localhost?...` (loopback) or the https URL of
    /// the metadata document.
    pub client_id: String,
    /// Where the authorization server may send the user back.
    pub redirect_uris: Vec<String>,
    /// The scopes the client may ask for (must include `atproto`).
    pub scope: Scopes,
    /// `web` or `native`.
    pub application_type: ApplicationType,
    /// Shown on the consent screen.
    pub client_name: Option<String>,
    /// The app's home page.
    pub client_uri: Option<String>,
    /// The app's logo.
    pub logo_uri: Option<String>,
    /// Terms of service.
    pub tos_uri: Option<String>,
    /// Privacy policy.
    pub policy_uri: Option<String>,
    /// Confidential clients: the signing keys (each with a `kid`); the
    /// first signs client assertions.
    pub keys: Vec<Es256Key>,
    /// Confidential clients: serve the keys at this URL instead of inline.
    pub jwks_uri: Option<String>,
}

impl ClientConfig {
    /// The loopback development client for these redirect URIs
    /// (`http://127.0.0.1[:port]/path` or `http://[::1][:port]/path`) and
    /// scopes. The `client_id` encodes both.
    pub fn loopback(redirect_uris: Vec<String>, scope: Scopes) -> Self {
        let mut client_id = String::from("http://localhost");
        let mut first = true;
        let mut param = |k: &str, v: &str, out: &mut String| {
            out.push(if first { '?' } else { '&' });
            first = false;
            out.push_str(k);
            out.push('=');
            form_encode_into(v, out);
        };
        for r in &redirect_uris {
            param("redirect_uri", r, &mut client_id);
        }
        param("scope", &scope.to_string(), &mut client_id);
        ClientConfig {
            client_id,
            redirect_uris,
            scope,
            application_type: ApplicationType::Native,
            ..Self::empty()
        }
    }

    /// A public client whose metadata document is served at `client_id`.
    pub fn public(client_id: impl Into<String>, redirect_uris: Vec<String>, scope: Scopes) -> Self {
        ClientConfig {
            client_id: client_id.into(),
            redirect_uris,
            scope,
            ..Self::empty()
        }
    }

    /// A confidential client authenticating with `private_key_jwt` using
    /// `keys` (ES256, each with a `kid`).
    pub fn confidential(
        client_id: impl Into<String>,
        redirect_uris: Vec<String>,
        scope: Scopes,
        keys: Vec<Es256Key>,
    ) -> Self {
        ClientConfig {
            client_id: client_id.into(),
            redirect_uris,
            scope,
            keys,
            ..Self::empty()
        }
    }

    fn empty() -> Self {
        ClientConfig {
            client_id: String::new(),
            redirect_uris: Vec::new(),
            scope: Scopes::atproto(),
            application_type: ApplicationType::Web,
            client_name: None,
            client_uri: None,
            logo_uri: None,
            tos_uri: None,
            policy_uri: None,
            keys: Vec::new(),
            jwks_uri: None,
        }
    }

    /// The client kind, from the client id and keys.
    pub fn kind(&self) -> ClientKind {
        if self.client_id == "http://localhost" || self.client_id.starts_with("http://localhost?") {
            ClientKind::Loopback
        } else if !self.keys.is_empty() || self.jwks_uri.is_some() {
            ClientKind::Confidential
        } else {
            ClientKind::Public
        }
    }

    /// The key that signs client assertions (confidential clients).
    pub fn signing_key(&self) -> Option<&Es256Key> {
        self.keys.first()
    }

    /// Checks the configuration: required fields, the `atproto` scope, the
    /// client id's form for the kind, redirect URIs allowed for the kind,
    /// keys with `kid`s for confidential clients.
    pub fn check(&self) -> Result<(), OAuthError> {
        let bad = |m: String| Err(OAuthError::Config(m));
        if !self.scope.contains(&Scope::Atproto) {
            return bad("scope must include atproto".into());
        }
        if self.redirect_uris.is_empty() {
            return bad("redirect_uris is empty".into());
        }
        match self.kind() {
            ClientKind::Loopback => {
                let query = self
                    .client_id
                    .strip_prefix("http://localhost")
                    .unwrap_or_default();
                let pairs = parse_query(query)
                    .map_err(|e| OAuthError::Config(format!("client_id: {e}")))?;
                for (k, _) in &pairs {
                    if k != "redirect_uri" && k != "scope" {
                        return bad(format!("loopback client_id has unexpected parameter {k:?}"));
                    }
                }
                let listed: Vec<&str> = pairs
                    .iter()
                    .filter(|(k, _)| k == "redirect_uri")
                    .map(|(_, v)| v.as_str())
                    .collect();
                for r in &self.redirect_uris {
                    check_loopback_redirect(r)?;
                    // The server matches listed redirects ignoring the port.
                    if !listed.is_empty() && !listed.iter().any(|l| same_ignoring_port(l, r)) {
                        return bad(format!("redirect URI {r} is not in the client_id"));
                    }
                }
            }
            kind => {
                let Some(rest) = self.client_id.strip_prefix("https://") else {
                    return bad(format!(
                        "client_id {:?} must be an https URL",
                        self.client_id
                    ));
                };
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                if authority.is_empty() || authority.contains(':') || authority.contains('@') {
                    return bad("client_id must be an https URL with a host and no port".into());
                }
                if self.client_id.contains('#') {
                    return bad("client_id must not have a fragment".into());
                }
                let host = authority.to_ascii_lowercase();
                for r in &self.redirect_uris {
                    check_redirect(r, &host, self.application_type)?;
                }
                if kind == ClientKind::Confidential {
                    if self.keys.is_empty() && self.jwks_uri.is_none() {
                        return bad("a confidential client needs keys or jwks_uri".into());
                    }
                    if self.keys.is_empty() {
                        return bad("a confidential client needs its private signing key".into());
                    }
                    let mut kids = Vec::new();
                    for k in &self.keys {
                        let Some(kid) = k.kid() else {
                            return bad("every confidential client key needs a kid".into());
                        };
                        if kids.contains(&kid) {
                            return bad(format!("duplicate kid {kid:?}"));
                        }
                        kids.push(kid);
                    }
                    if let Some(u) = &self.jwks_uri {
                        if !u.starts_with("https://") {
                            return bad("jwks_uri must be https".into());
                        }
                    }
                }
            }
        }
        for (name, v) in [
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
        ] {
            if let Some(v) = v {
                if !v.starts_with("https://") {
                    return bad(format!("{name} must be an https URL"));
                }
            }
        }
        Ok(())
    }

    /// The client metadata document to serve at `client_id` (for the
    /// loopback client: what the server derives from the client id).
    pub fn metadata(&self) -> Value {
        let mut m = json!({
            "client_id": self.client_id,
            "application_type": self.application_type,
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": self.scope.to_string(),
            "response_types": ["code"],
            "redirect_uris": self.redirect_uris,
            "dpop_bound_access_tokens": true,
        });
        let obj = m.as_object_mut();
        if let Some(obj) = obj {
            let mut put = |k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    obj.insert(k.to_owned(), v.clone().into());
                }
            };
            put("client_name", &self.client_name);
            put("client_uri", &self.client_uri);
            put("logo_uri", &self.logo_uri);
            put("tos_uri", &self.tos_uri);
            put("policy_uri", &self.policy_uri);
            match self.kind() {
                ClientKind::Confidential => {
                    obj.insert(
                        "token_endpoint_auth_method".into(),
                        "private_key_jwt".into(),
                    );
                    obj.insert("token_endpoint_auth_signing_alg".into(), "ES256".into());
                    match &self.jwks_uri {
                        Some(u) => {
                            obj.insert("jwks_uri".into(), u.clone().into());
                        }
                        None => {
                            obj.insert("jwks".into(), self.jwks());
                        }
                    }
                }
                _ => {
                    obj.insert("token_endpoint_auth_method".into(), "none".into());
                }
            }
        }
        m
    }

    /// The public JWK set (`{"keys":[...]}`), for `jwks` or `jwks_uri`.
    pub fn jwks(&self) -> Value {
        json!({"keys": self.keys.iter().map(Es256Key::public_jwk).collect::<Vec<_>>()})
    }
}

/// Checks a client metadata document someone else produced: the fields
/// atproto requires, `dpop_bound_access_tokens: true`, and for
/// `private_key_jwt` the signing algorithm and exactly one of `jwks` and
/// `jwks_uri`.
pub fn check_client_metadata(doc: &Value, client_id: &str) -> Result<(), OAuthError> {
    let bad = |m: &str| Err(OAuthError::Config(format!("client metadata: {m}")));
    let s = |k: &str| doc.get(k).and_then(Value::as_str);
    let arr = |k: &str| -> Vec<&str> {
        doc.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    if s("client_id") != Some(client_id) {
        return bad("client_id does not match the URL it was served at");
    }
    if doc.get("dpop_bound_access_tokens") != Some(&Value::Bool(true)) {
        return bad("dpop_bound_access_tokens must be true");
    }
    if !arr("grant_types").contains(&"authorization_code") {
        return bad("grant_types must include authorization_code");
    }
    if arr("response_types") != ["code"] {
        return bad("response_types must be [\"code\"]");
    }
    if arr("redirect_uris").is_empty() {
        return bad("redirect_uris is empty");
    }
    if !s("scope").is_some_and(|sc| Scopes::parse(sc).contains(&Scope::Atproto)) {
        return bad("scope must include atproto");
    }
    if s("token_endpoint_auth_method") == Some("private_key_jwt") {
        if s("token_endpoint_auth_signing_alg") != Some("ES256") {
            return bad("token_endpoint_auth_signing_alg must be ES256");
        }
        if doc.get("jwks").is_some() == doc.get("jwks_uri").is_some() {
            return bad("exactly one of jwks and jwks_uri is required");
        }
    }
    Ok(())
}

fn split_http(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    Some((scheme, authority, path))
}

fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    }
}

fn same_ignoring_port(a: &str, b: &str) -> bool {
    match (split_http(a), split_http(b)) {
        (Some((s1, a1, p1)), Some((s2, a2, p2))) => {
            s1 == s2 && host_of(a1) == host_of(a2) && p1 == p2
        }
        _ => false,
    }
}

fn check_loopback_redirect(r: &str) -> Result<(), OAuthError> {
    let bad = |m: &str| Err(OAuthError::Config(format!("redirect URI {r:?}: {m}")));
    let Some((scheme, authority, _)) = split_http(r) else {
        return bad("not an absolute URL");
    };
    if scheme != "http" {
        return bad("a loopback client redirects to http://127.0.0.1 or http://[::1]");
    }
    match host_of(authority) {
        "127.0.0.1" | "[::1]" => Ok(()),
        "localhost" => bad("use 127.0.0.1 or [::1]: servers refuse localhost redirects"),
        _ => bad("a loopback client redirects to 127.0.0.1 or [::1] only"),
    }
}

fn check_redirect(r: &str, client_host: &str, app: ApplicationType) -> Result<(), OAuthError> {
    let bad = |m: &str| Err(OAuthError::Config(format!("redirect URI {r:?}: {m}")));
    if r.contains('#') {
        return bad("must not have a fragment");
    }
    if let Some((scheme, authority, _)) = split_http(r) {
        return match scheme {
            "https" if !authority.is_empty() => Ok(()),
            "http"
                if app == ApplicationType::Native
                    && matches!(host_of(authority), "127.0.0.1" | "[::1]") =>
            {
                Ok(())
            }
            _ => bad("must be https (or, for native apps, http to 127.0.0.1 or [::1])"),
        };
    }
    // A private-use scheme: the reverse of the client id's host, native only.
    let Some((scheme, _)) = r.split_once(':') else {
        return bad("not a URI");
    };
    let reversed: Vec<&str> = client_host.split('.').rev().collect();
    if app != ApplicationType::Native {
        return bad("custom-scheme redirects are for native apps");
    }
    if scheme != reversed.join(".") {
        return bad("a custom scheme must be the client id's host reversed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asm(issuer: &str) -> Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "pushed_authorization_request_endpoint": format!("{issuer}/oauth/par"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "require_pushed_authorization_requests": true,
            "client_id_metadata_document_supported": true,
            "authorization_response_iss_parameter_supported": true,
            "dpop_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "protected_resources": ["https://pds.example"],
        })
    }

    #[test]
    fn protected_resource_checks() {
        let ok = json!({"resource": "https://pds.example", "authorization_servers": ["https://as.example"]});
        let (_, iss) =
            ProtectedResourceMetadata::parse(ok.to_string().as_bytes(), "https://pds.example/")
                .unwrap();
        assert_eq!(iss, "https://as.example");
        let wrong = json!({"resource": "https://other.example", "authorization_servers": ["https://as.example"]});
        assert!(matches!(
            ProtectedResourceMetadata::parse(wrong.to_string().as_bytes(), "https://pds.example"),
            Err(OAuthError::Metadata { .. })
        ));
        let two = json!({"resource": "https://pds.example", "authorization_servers": ["https://a", "https://b"]});
        let e = ProtectedResourceMetadata::parse(two.to_string().as_bytes(), "https://pds.example")
            .unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        assert!(ProtectedResourceMetadata::parse(b"{", "https://pds.example").is_err());
        let big = vec![b' '; MAX_METADATA_SIZE + 1];
        assert!(
            ProtectedResourceMetadata::parse(&big, "https://pds.example")
                .unwrap_err()
                .to_string()
                .contains("larger")
        );
    }

    #[test]
    fn authorization_server_checks() {
        let iss = "https://as.example";
        let good = asm(iss);
        AuthorizationServerMetadata::parse(
            good.to_string().as_bytes(),
            iss,
            Some("https://pds.example"),
        )
        .unwrap();
        let mut other_issuer = good.clone();
        other_issuer["issuer"] = "https://evil.example".into();
        assert!(matches!(
            AuthorizationServerMetadata::parse(other_issuer.to_string().as_bytes(), iss, None),
            Err(OAuthError::IssuerMetadataMismatch { .. })
        ));
        for (field, value, needle) in [
            (
                "client_id_metadata_document_supported",
                json!(false),
                "client_id_metadata",
            ),
            ("pushed_authorization_request_endpoint", Value::Null, "PAR"),
            (
                "dpop_signing_alg_values_supported",
                json!(["RS256"]),
                "ES256",
            ),
            ("code_challenge_methods_supported", json!(["plain"]), "S256"),
            (
                "token_endpoint",
                json!("https://evil.example/token"),
                "origin",
            ),
            (
                "protected_resources",
                json!(["https://elsewhere.example"]),
                "protected_resources",
            ),
        ] {
            let mut doc = good.clone();
            doc[field] = value;
            let e = AuthorizationServerMetadata::parse(
                doc.to_string().as_bytes(),
                iss,
                Some("https://pds.example"),
            )
            .unwrap_err();
            assert!(e.to_string().contains(needle), "{field}: {e}");
        }
    }

    #[test]
    fn loopback_config() {
        let c = ClientConfig::loopback(
            vec!["http://127.0.0.1:8080/callback".into()],
            Scopes::generic(),
        );
        assert_eq!(c.kind(), ClientKind::Loopback);
        assert_eq!(
            c.client_id,
            "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&scope=atproto+transition%3Ageneric"
        );
        c.check().unwrap();
        let md = c.metadata();
        assert_eq!(md["dpop_bound_access_tokens"], true);
        assert_eq!(md["token_endpoint_auth_method"], "none");
        check_client_metadata(&md, &c.client_id).unwrap();
        let bad =
            ClientConfig::loopback(vec!["http://localhost:8080/cb".into()], Scopes::atproto());
        assert!(bad.check().unwrap_err().to_string().contains("127.0.0.1"));
        let https = ClientConfig::loopback(vec!["https://127.0.0.1/cb".into()], Scopes::atproto());
        assert!(https.check().is_err());
        let mut no_atproto = c.clone();
        no_atproto.scope = Scopes::parse("transition:generic");
        assert!(no_atproto
            .check()
            .unwrap_err()
            .to_string()
            .contains("atproto"));
        let mut unlisted = c.clone();
        unlisted.redirect_uris = vec!["http://127.0.0.1/other".into()];
        assert!(unlisted.check().is_err());
        ClientConfig::loopback(vec!["http://[::1]/cb".into()], Scopes::atproto())
            .check()
            .unwrap();
    }

    #[test]
    fn public_and_confidential_configs() {
        let p = ClientConfig::public(
            "https://app.example/client-metadata.json",
            vec!["https://app.example/callback".into()],
            Scopes::generic(),
        );
        assert_eq!(p.kind(), ClientKind::Public);
        p.check().unwrap();
        check_client_metadata(&p.metadata(), &p.client_id).unwrap();
        for id in [
            "http://app.example/m.json",
            "https://app.example:8443/m.json",
            "https://app.example/m.json#x",
        ] {
            let mut c = p.clone();
            c.client_id = id.into();
            assert!(c.check().is_err(), "{id}");
        }
        let mut native = p.clone();
        native.application_type = ApplicationType::Native;
        native.redirect_uris = vec!["example.app:/callback".into()];
        native.check().unwrap();
        native.redirect_uris = vec!["com.evil:/callback".into()];
        assert!(native.check().is_err());
        let mut web_http = p.clone();
        web_http.redirect_uris = vec!["http://127.0.0.1/cb".into()];
        assert!(web_http.check().is_err());

        let key = Es256Key::generate().unwrap().with_kid("k1");
        let c = ClientConfig::confidential(
            "https://app.example/client-metadata.json",
            vec!["https://app.example/callback".into()],
            Scopes::generic(),
            vec![key.clone()],
        );
        assert_eq!(c.kind(), ClientKind::Confidential);
        c.check().unwrap();
        let md = c.metadata();
        assert_eq!(md["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(md["token_endpoint_auth_signing_alg"], "ES256");
        assert_eq!(md["jwks"]["keys"][0]["kid"], "k1");
        assert!(md["jwks"]["keys"][0].get("d").is_none(), "public JWKs only");
        check_client_metadata(&md, &c.client_id).unwrap();
        let no_kid = ClientConfig::confidential(
            &c.client_id,
            c.redirect_uris.clone(),
            Scopes::atproto(),
            vec![Es256Key::generate().unwrap()],
        );
        assert!(no_kid.check().unwrap_err().to_string().contains("kid"));
    }

    #[test]
    fn client_metadata_document_checks() {
        let c = ClientConfig::public(
            "https://a.example/m.json",
            vec!["https://a.example/cb".into()],
            Scopes::atproto(),
        );
        let good = c.metadata();
        for (field, value) in [
            ("dpop_bound_access_tokens", json!(false)),
            ("client_id", json!("https://other.example/m.json")),
            ("response_types", json!(["token"])),
            ("scope", json!("transition:generic")),
            ("redirect_uris", json!([])),
        ] {
            let mut doc = good.clone();
            doc[field] = value;
            assert!(
                check_client_metadata(&doc, &c.client_id).is_err(),
                "{field}"
            );
        }
    }
}
