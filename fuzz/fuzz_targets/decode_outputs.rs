//! Response decoding of generated output types, through the same
//! `Endpoint::decode_output` the client uses: a hostile server body is a
//! `DecodeError`, never a panic. The first byte picks the endpoint.
#![no_main]

use atmo_api::app::bsky::feed::get_timeline::GetTimeline;
use atmo_api::com::atproto::repo::get_record::GetRecord;
use atmo_api::com::atproto::server::create_session::CreateSession;
use atmo_types::xrpc::{Endpoint, RawBody};
use libfuzzer_sys::fuzz_target;

fn decode<E: Endpoint>(body: &[u8]) {
    let _ = E::decode_output(RawBody::new("application/json", body.to_vec()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => decode::<CreateSession>(body),
        1 => decode::<GetTimeline>(body),
        _ => decode::<GetRecord>(body),
    }
});
