//! Validated newtypes for the lexicon string formats.
//!
//! Each type can only hold a string that follows the atproto syntax rules for
//! its format, checked by `new` / `FromStr` / `Deserialize`.

use std::fmt;

/// A string that does not follow the syntax of its lexicon format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// The format, e.g. `did` or `at-uri`.
    pub format: &'static str,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.format, self.reason)
    }
}

impl std::error::Error for SyntaxError {}

pub(crate) fn err(format: &'static str, reason: impl Into<String>) -> SyntaxError {
    SyntaxError {
        format,
        reason: reason.into(),
    }
}

macro_rules! string_format {
    ($(#[$doc:meta])* $name:ident, $format:literal, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The lexicon format name.
            pub const FORMAT: &'static str = $format;

            /// Checks the syntax and wraps the string.
            pub fn new(s: impl Into<String>) -> Result<Self, SyntaxError> {
                let s = s.into();
                $check(&s)?;
                Ok($name(s))
            }

            /// The string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = SyntaxError;
            fn from_str(s: &str) -> Result<Self, SyntaxError> {
                $check(s)?;
                Ok($name(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = SyntaxError;
            fn try_from(s: String) -> Result<Self, SyntaxError> {
                $name::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = SyntaxError;
            fn try_from(s: &str) -> Result<Self, SyntaxError> {
                s.parse()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let key = crate::object::Key::deserialize(d)?;
                $check(key.as_str()).map_err(serde::de::Error::custom)?;
                Ok($name(key.0.into_owned()))
            }
        }
    };
}

mod checks;

string_format!(
    /// A DID (`did` format), e.g. `did:plc:z72i7hdynmk6r22z27h6tvur`.
    Did, "did", checks::did
);
string_format!(
    /// A handle (`handle` format), e.g. `alice.bsky.social`.
    Handle, "handle", checks::handle
);
string_format!(
    /// A namespaced identifier (`nsid` format), e.g. `app.bsky.feed.post`.
    Nsid, "nsid", checks::nsid
);
string_format!(
    /// An `at://` URI (`at-uri` format).
    AtUri, "at-uri", checks::at_uri
);
string_format!(
    /// A DID or a handle (`at-identifier` format).
    AtIdentifier, "at-identifier", checks::at_identifier
);
string_format!(
    /// A timestamp (`datetime` format): RFC 3339 with the atproto restrictions.
    Datetime, "datetime", checks::datetime
);
string_format!(
    /// A CID in its string form (`cid` format).
    Cid, "cid", checks::cid
);
string_format!(
    /// A timestamp identifier (`tid` format): 13 base32-sortable characters.
    Tid, "tid", checks::tid
);
string_format!(
    /// A record key (`record-key` format).
    RecordKey, "record-key", checks::record_key
);
string_format!(
    /// A URI (`uri` format).
    Uri, "uri", checks::uri
);
string_format!(
    /// A BCP 47 language tag (`language` format).
    Language, "language", checks::language
);

impl AtIdentifier {
    /// True when it is a DID (starts with `did:`), false for a handle.
    pub fn is_did(&self) -> bool {
        self.0.starts_with("did:")
    }
}

impl From<Did> for AtIdentifier {
    fn from(d: Did) -> Self {
        AtIdentifier(d.0)
    }
}

impl From<Handle> for AtIdentifier {
    fn from(h: Handle) -> Self {
        AtIdentifier(h.0)
    }
}
