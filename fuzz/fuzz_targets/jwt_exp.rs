//! The JWT `exp` reader on arbitrary tokens: `None` or a number, never a
//! panic. Odd first bytes use the input as the token; even ones wrap the rest
//! as the base64url payload of a three-part token, to reach the JSON claims.
#![no_main]

use atmo_client::jwt::jwt_exp;
use libfuzzer_sys::fuzz_target;

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 1 {
        if let Ok(token) = std::str::from_utf8(rest) {
            let _ = jwt_exp(token);
        }
    } else {
        let _ = jwt_exp(&format!("eyJhbGciOiJFUzI1NksifQ.{}.sig", b64url(rest)));
    }
});
