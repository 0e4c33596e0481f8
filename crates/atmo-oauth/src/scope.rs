//! OAuth scopes of atproto: `atproto`, the transitional scopes and the
//! granular permissions (`repo:`, `rpc:`, `blob:`, `account:`, `identity:`,
//! `include:`), typed, with unknown scopes kept as they are.
//!
//! A granular permission is `resource[:positional][?key=value&...]`; the
//! positional part is shorthand for the resource's main parameter
//! (`repo:app.bsky.feed.post` = `repo?collection=app.bsky.feed.post`).
//! Parsing never fails: anything that is not a well-formed known scope
//! becomes [`Scope::Unknown`] with its text untouched.

use std::fmt;
use std::str::FromStr;

use crate::util::percent_decode;

/// One scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// `atproto`: required in every request.
    Atproto,
    /// `transition:generic`: what an app password allows.
    TransitionGeneric,
    /// `transition:chat.bsky`: the chat API through the PDS.
    TransitionChatBsky,
    /// `transition:email`: read the account's email address.
    TransitionEmail,
    /// `repo:<collection>?action=...`: write records.
    Repo {
        /// Collections (NSIDs, or `*`).
        collections: Vec<String>,
        /// `create`, `update`, `delete`; empty means all.
        actions: Vec<String>,
    },
    /// `rpc:<lxm>?aud=...`: call a method through service proxying.
    Rpc {
        /// Lexicon methods (NSIDs, or `*`).
        lxm: Vec<String>,
        /// The service (`did:web:...#service_id`, or `*`).
        aud: Option<String>,
    },
    /// `blob:<mime>`: upload blobs.
    Blob {
        /// Accepted MIME types (`image/*`, `*/*`...).
        accept: Vec<String>,
    },
    /// `account:<attr>?action=...`: account settings (`email`, `repo`, `status`).
    Account {
        /// The attribute.
        attr: String,
        /// `read` or `manage`.
        action: Option<String>,
    },
    /// `identity:<attr>`: `handle` or `*`.
    Identity {
        /// The attribute.
        attr: String,
    },
    /// `include:<permission-set nsid>?aud=...`.
    Include {
        /// The permission set.
        nsid: String,
        /// The service the permissions are for.
        aud: Option<String>,
    },
    /// Anything else, kept verbatim.
    Unknown(String),
}

impl Scope {
    /// Parses one scope token; never fails (see [`Scope::Unknown`]).
    pub fn parse(s: &str) -> Scope {
        parse_known(s).unwrap_or_else(|| Scope::Unknown(s.to_owned()))
    }

    /// `repo:<collection>` for all actions.
    pub fn repo(collection: impl Into<String>) -> Scope {
        Scope::Repo {
            collections: vec![collection.into()],
            actions: Vec::new(),
        }
    }

    /// `rpc:<lxm>?aud=<aud>`.
    pub fn rpc(lxm: impl Into<String>, aud: impl Into<String>) -> Scope {
        Scope::Rpc {
            lxm: vec![lxm.into()],
            aud: Some(aud.into()),
        }
    }

    /// `blob:<mime>`.
    pub fn blob(accept: impl Into<String>) -> Scope {
        Scope::Blob {
            accept: vec![accept.into()],
        }
    }
}

fn parse_known(s: &str) -> Option<Scope> {
    match s {
        "atproto" => return Some(Scope::Atproto),
        "transition:generic" => return Some(Scope::TransitionGeneric),
        "transition:chat.bsky" => return Some(Scope::TransitionChatBsky),
        "transition:email" => return Some(Scope::TransitionEmail),
        _ => {}
    }
    if s.is_empty() || s.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return None;
    }
    let (head, query) = match s.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (s, None),
    };
    let (resource, positional) = match head.split_once(':') {
        Some((r, p)) => (r, Some(percent_decode(p, false).ok()?)),
        None => (head, None),
    };
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(q) = query {
        for part in q.split('&') {
            let (k, v) = part.split_once('=')?;
            if k.is_empty() || v.is_empty() {
                return None;
            }
            params.push((
                percent_decode(k, false).ok()?,
                percent_decode(v, false).ok()?,
            ));
        }
    }
    let take_all = |name: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let only = |allowed: &[&str]| params.iter().all(|(k, _)| allowed.contains(&k.as_str()));
    let single = |name: &str| -> Option<Option<String>> {
        let all = take_all(name);
        match all.len() {
            0 => Some(None),
            1 => Some(all.into_iter().next()),
            _ => None,
        }
    };
    // The positional value and the named main parameter are exclusive.
    let main = |name: &str| -> Option<Vec<String>> {
        let named = take_all(name);
        match (&positional, named.is_empty()) {
            (Some(p), true) if !p.is_empty() => Some(vec![p.clone()]),
            (None, false) => Some(named),
            _ => None,
        }
    };
    match resource {
        "repo" if only(&["collection", "action"]) => {
            let actions = take_all("action");
            if !actions
                .iter()
                .all(|a| matches!(a.as_str(), "create" | "update" | "delete"))
            {
                return None;
            }
            Some(Scope::Repo {
                collections: main("collection")?,
                actions,
            })
        }
        "rpc" if only(&["lxm", "aud"]) => Some(Scope::Rpc {
            lxm: main("lxm")?,
            aud: single("aud")?,
        }),
        "blob" if only(&["accept"]) => Some(Scope::Blob {
            accept: main("accept")?,
        }),
        "account" if only(&["attr", "action"]) => {
            let attr = main("attr")?;
            let [attr] = <[String; 1]>::try_from(attr).ok()?;
            Some(Scope::Account {
                attr,
                action: single("action")?,
            })
        }
        "identity" if only(&["attr"]) => {
            let [attr] = <[String; 1]>::try_from(main("attr")?).ok()?;
            Some(Scope::Identity { attr })
        }
        "include" if only(&["aud"]) => {
            let nsid = positional.filter(|p| !p.is_empty())?;
            Some(Scope::Include {
                nsid,
                aud: single("aud")?,
            })
        }
        _ => None,
    }
}

/// Encodes a parameter value: unreserved characters and the few that
/// permission values use (`:`, `/`, `*`) stay, everything else is escaped.
fn encode_value(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b'*')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Writes `resource:main?k=v...`, using the positional form when there is
/// exactly one main value.
fn write_permission(
    f: &mut fmt::Formatter<'_>,
    resource: &str,
    main_name: &str,
    main: &[String],
    params: &[(&str, &str)],
) -> fmt::Result {
    let mut out = String::from(resource);
    let mut query: Vec<(String, String)> = Vec::new();
    if let [one] = main {
        out.push(':');
        encode_value(one, &mut out);
    } else {
        query.extend(main.iter().map(|v| (main_name.to_owned(), v.clone())));
    }
    query.extend(
        params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        encode_value(v, &mut out);
    }
    f.write_str(&out)
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Atproto => f.write_str("atproto"),
            Scope::TransitionGeneric => f.write_str("transition:generic"),
            Scope::TransitionChatBsky => f.write_str("transition:chat.bsky"),
            Scope::TransitionEmail => f.write_str("transition:email"),
            Scope::Repo {
                collections,
                actions,
            } => {
                let params: Vec<(&str, &str)> =
                    actions.iter().map(|a| ("action", a.as_str())).collect();
                write_permission(f, "repo", "collection", collections, &params)
            }
            Scope::Rpc { lxm, aud } => {
                let params: Vec<(&str, &str)> = aud.iter().map(|a| ("aud", a.as_str())).collect();
                write_permission(f, "rpc", "lxm", lxm, &params)
            }
            Scope::Blob { accept } => write_permission(f, "blob", "accept", accept, &[]),
            Scope::Account { attr, action } => {
                let params: Vec<(&str, &str)> =
                    action.iter().map(|a| ("action", a.as_str())).collect();
                write_permission(f, "account", "attr", std::slice::from_ref(attr), &params)
            }
            Scope::Identity { attr } => {
                write_permission(f, "identity", "attr", std::slice::from_ref(attr), &[])
            }
            Scope::Include { nsid, aud } => {
                let params: Vec<(&str, &str)> = aud.iter().map(|a| ("aud", a.as_str())).collect();
                write_permission(f, "include", "nsid", std::slice::from_ref(nsid), &params)
            }
            Scope::Unknown(s) => f.write_str(s),
        }
    }
}

impl FromStr for Scope {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Scope::parse(s))
    }
}

/// A space-separated list of scopes, in order, without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parses a `scope` parameter; never fails.
    pub fn parse(s: &str) -> Scopes {
        let mut out = Scopes::default();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            out.push(Scope::parse(token));
        }
        out
    }

    /// `atproto transition:generic`: what most apps ask for today.
    pub fn generic() -> Scopes {
        Scopes(vec![Scope::Atproto, Scope::TransitionGeneric])
    }

    /// Just `atproto`.
    pub fn atproto() -> Scopes {
        Scopes(vec![Scope::Atproto])
    }

    /// Adds a scope (ignored when already present).
    pub fn push(&mut self, scope: Scope) {
        if !self.0.contains(&scope) {
            self.0.push(scope);
        }
    }

    /// The same list with `scope` added.
    pub fn with(mut self, scope: Scope) -> Scopes {
        self.push(scope);
        self
    }

    /// Whether the list holds `scope`.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut out = Scopes::default();
        for s in iter {
            out.push(s);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_scopes() {
        let s = Scopes::parse("atproto  transition:generic transition:chat.bsky transition:email");
        assert_eq!(
            s.iter().cloned().collect::<Vec<_>>(),
            vec![
                Scope::Atproto,
                Scope::TransitionGeneric,
                Scope::TransitionChatBsky,
                Scope::TransitionEmail
            ]
        );
        assert_eq!(
            s.to_string(),
            "atproto transition:generic transition:chat.bsky transition:email"
        );
    }

    #[test]
    fn granular_permissions_parse() {
        assert_eq!(
            Scope::parse("repo:app.bsky.feed.post?action=create&action=delete"),
            Scope::Repo {
                collections: vec!["app.bsky.feed.post".into()],
                actions: vec!["create".into(), "delete".into()]
            }
        );
        assert_eq!(
            Scope::parse("repo?collection=app.bsky.feed.post&collection=app.bsky.feed.like"),
            Scope::Repo {
                collections: vec!["app.bsky.feed.post".into(), "app.bsky.feed.like".into()],
                actions: vec![]
            }
        );
        assert_eq!(
            Scope::parse(
                "rpc:app.bsky.feed.getFeedSkeleton?aud=did:web:api.bsky.app%23bsky_appview"
            ),
            Scope::rpc(
                "app.bsky.feed.getFeedSkeleton",
                "did:web:api.bsky.app#bsky_appview"
            )
        );
        assert_eq!(Scope::parse("blob:image/*"), Scope::blob("image/*"));
        assert_eq!(
            Scope::parse("blob?accept=image/*&accept=video/*"),
            Scope::Blob {
                accept: vec!["image/*".into(), "video/*".into()]
            }
        );
        assert_eq!(
            Scope::parse("account:email?action=manage"),
            Scope::Account {
                attr: "email".into(),
                action: Some("manage".into())
            }
        );
        assert_eq!(
            Scope::parse("identity:*"),
            Scope::Identity { attr: "*".into() }
        );
        assert_eq!(
            Scope::parse("include:com.example.authBasic?aud=did:web:x.example%23svc"),
            Scope::Include {
                nsid: "com.example.authBasic".into(),
                aud: Some("did:web:x.example#svc".into())
            }
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "repo:app.bsky.feed.post",
            "repo:app.bsky.feed.post?action=create",
            "repo?collection=a.b.c&collection=d.e.f&action=update",
            "rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview",
            "rpc?lxm=a.b.c&lxm=d.e.f&aud=*",
            "blob:*/*",
            "account:repo?action=manage",
            "identity:handle",
            "include:com.example.perms",
        ] {
            let scope = Scope::parse(s);
            assert!(!matches!(scope, Scope::Unknown(_)), "{s} should be known");
            assert_eq!(scope.to_string(), s);
            assert_eq!(Scope::parse(&scope.to_string()), scope);
        }
    }

    #[test]
    fn unknown_and_malformed_are_kept_verbatim() {
        for s in [
            "openid",
            "profile:read",
            "repo:x?action=explode",
            "repo:a?collection=b",
            "repo",
            "rpc:a?aud=x&aud=y",
            "account:email?bogus=1",
            "include:",
            "identity:%zz",
            "blob:a?accept",
            "transition:unknown",
            "é",
        ] {
            assert_eq!(Scope::parse(s), Scope::Unknown(s.to_owned()), "{s}");
            assert_eq!(Scope::parse(s).to_string(), s);
        }
    }

    #[test]
    fn sets_deduplicate_and_build() {
        let s = Scopes::atproto()
            .with(Scope::repo("app.bsky.feed.post"))
            .with(Scope::Atproto);
        assert_eq!(s.to_string(), "atproto repo:app.bsky.feed.post");
        assert!(s.contains(&Scope::Atproto));
        assert!(Scopes::parse("").is_empty());
    }
}
