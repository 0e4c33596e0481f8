//! Measures Jetstream events per second decoded to typed records: a
//! loopback WebSocket server sends a few thousand synthetic v1 frames
//! (posts, likes, deletes, identity and account events, an unknown
//! collection), plain and zstd-compressed with a dictionary trained on
//! them, and the client decodes each event and its record
//! (`record_as::<Post>()` / `record_as::<Like>()`). Also the JSON decoding
//! alone, without a socket, over `rounds` passes.
//!
//! ```sh
//! cargo run --release -p atmo-stream --features jetstream --example jetstream_bench -- [frames] [rounds]
//! ```
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use atmo_api::app::bsky::feed::{like::Like, post::Post};
use atmo_stream::jetstream::{Event, EventBody, Jetstream, JetstreamConfig};
use atmo_stream::Config;
use futures_util::SinkExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const CID: &str = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";

/// One synthetic frame in Jetstream's v1 shape; `i` picks the kind.
fn frame(i: usize, time_us: i64) -> String {
    let did = format!("did:plc:user{:020}", i % 997);
    let rkey = format!("3l3qo2vuo{:04}", i % 10_000);
    let commit = |op: &str, collection: &str, record: Option<String>| {
        let record = record
            .map(|r| format!(r#","record":{r},"cid":"{CID}""#))
            .unwrap_or_default();
        format!(
            r#"{{"did":"{did}","time_us":{time_us},"kind":"commit","commit":{{"rev":"3l3qo2vutsw2b","operation":"{op}","collection":"{collection}","rkey":"{rkey}"{record}}}}}"#
        )
    };
    let post = format!(
        r#"{{"$type":"app.bsky.feed.post","createdAt":"2024-09-09T19:46:02.102Z","langs":["en"],"text":"post {i}: a sentence of ordinary length, about as long as most posts are."}}"#
    );
    let like = format!(
        r#"{{"$type":"app.bsky.feed.like","createdAt":"2024-09-09T19:46:02.102Z","subject":{{"cid":"{CID}","uri":"at://did:plc:user{:020}/app.bsky.feed.post/3l3pte3p2e325"}}}}"#,
        (i * 31) % 997
    );
    match i % 10 {
        0..=2 => commit("create", "app.bsky.feed.post", Some(post)),
        3..=6 => commit("create", "app.bsky.feed.like", Some(like)),
        7 => commit("delete", "app.bsky.feed.like", None),
        8 => commit(
            "create",
            "com.example.unknown.thing",
            Some(format!(
                r#"{{"$type":"com.example.unknown.thing","n":{i}}}"#
            )),
        ),
        _ => format!(
            r#"{{"did":"{did}","time_us":{time_us},"kind":"identity","identity":{{"did":"{did}","handle":"user{i}.bsky.social","seq":{i},"time":"2024-09-05T06:11:04.870Z"}}}}"#
        ),
    }
}

/// Decodes an event's record into its generated type; counts typed records.
fn typed(e: &Event) -> usize {
    let EventBody::Commit(c) = &e.body else {
        return 0;
    };
    match c.collection.as_str() {
        "app.bsky.feed.post" => c.record_as::<Post>().ok().flatten().map_or(0, |_| 1),
        "app.bsky.feed.like" => c.record_as::<Like>().ok().flatten().map_or(0, |_| 1),
        _ => 0,
    }
}

/// Serves `messages` on one connection.
async fn serve(messages: Vec<Message>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
            return;
        };
        for m in messages {
            if ws.feed(m).await.is_err() {
                return;
            }
        }
        let _ = ws.flush().await;
        std::future::pending::<()>().await;
    });
    url
}

async fn over_socket(
    label: &str,
    messages: Vec<Message>,
    dict: Option<&[u8]>,
) -> Result<(), Box<dyn std::error::Error>> {
    let total = messages.len();
    let url = serve(messages).await;
    let mut config = JetstreamConfig::new(url).tuning(Config {
        read_timeout: Duration::from_secs(30),
        ..Config::default()
    });
    if let Some(d) = dict {
        config = config.zstd_dictionary(d.to_vec());
    }
    let mut js: Jetstream = config.build()?;
    let start = Instant::now();
    let mut records = 0;
    let mut events = 0;
    while events < total {
        match js.next().await {
            Some(Ok(e)) => {
                records += typed(&e);
                events += 1;
            }
            Some(Err(e)) => return Err(e.into()),
            None => break,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label}: {events} events ({records} typed records) in {secs:.3} s = {:.0} events/s",
        events as f64 / secs
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    // Rounds of the socket-free decoding (the socket runs send each frame
    // once: a frame sent twice is the same event, which the client drops).
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    // Distinct times, so no two frames look like the same event.
    let frames: Vec<String> = (0..n)
        .map(|i| frame(i, 1_725_911_162_000_000 + i as i64 * 37))
        .collect();
    let bytes: usize = frames.iter().map(String::len).sum();
    println!("{n} frames, {} bytes on average", bytes / n.max(1));

    // JSON decoding alone.
    let start = Instant::now();
    let mut records = 0;
    for _ in 0..rounds {
        for f in &frames {
            records += typed(&Event::from_json(f.as_bytes())?);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decode only: {} events ({records} typed records) in {secs:.3} s = {:.0} events/s",
        n * rounds,
        (n * rounds) as f64 / secs
    );

    let plain: Vec<Message> = frames
        .iter()
        .map(|f| Message::Text(f.clone().into()))
        .collect();
    over_socket("loopback, uncompressed", plain, None).await?;

    let samples: Vec<&[u8]> = frames.iter().take(2000).map(|f| f.as_bytes()).collect();
    let dict = zstd::dict::from_samples(&samples, 16 * 1024)?;
    let mut compressor = zstd::bulk::Compressor::with_dictionary(3, &dict)?;
    let mut compressed = Vec::with_capacity(n);
    let mut zbytes = 0;
    for f in &frames {
        let z = compressor.compress(f.as_bytes())?;
        zbytes += z.len();
        compressed.push(Message::Binary(z.into()));
    }
    println!("compressed: {} bytes on average", zbytes / n.max(1));
    over_socket("loopback, zstd", compressed, Some(&dict)).await?;
    Ok(())
}
