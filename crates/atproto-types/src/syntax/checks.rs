//! Syntax checks for each string format. PLACEHOLDER: accepts anything
//! non-empty; replaced by the real rules.
use super::{err, SyntaxError};

fn nonempty(format: &'static str, s: &str) -> Result<(), SyntaxError> {
    if s.is_empty() { Err(err(format, "empty")) } else { Ok(()) }
}
pub fn did(s: &str) -> Result<(), SyntaxError> { nonempty("did", s) }
pub fn handle(s: &str) -> Result<(), SyntaxError> { nonempty("handle", s) }
pub fn nsid(s: &str) -> Result<(), SyntaxError> { nonempty("nsid", s) }
pub fn at_uri(s: &str) -> Result<(), SyntaxError> { nonempty("at-uri", s) }
pub fn at_identifier(s: &str) -> Result<(), SyntaxError> { nonempty("at-identifier", s) }
pub fn datetime(s: &str) -> Result<(), SyntaxError> { nonempty("datetime", s) }
pub fn cid(s: &str) -> Result<(), SyntaxError> { nonempty("cid", s) }
pub fn tid(s: &str) -> Result<(), SyntaxError> { nonempty("tid", s) }
pub fn record_key(s: &str) -> Result<(), SyntaxError> { nonempty("record-key", s) }
pub fn uri(s: &str) -> Result<(), SyntaxError> { nonempty("uri", s) }
pub fn language(s: &str) -> Result<(), SyntaxError> { nonempty("language", s) }
