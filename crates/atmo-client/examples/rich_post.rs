//! Posts rich text (a mention, a link and a hashtag, detected and resolved
//! by the agent) and a post with an image, then prints what was written.
//!
//! `cargo run -p atmo-client --example rich_post -- <service> <identifier> [image file] [--mention <handle>] [--delete]`
//!
//! Without an image file it posts a built-in one-pixel PNG. The mention is of
//! `--mention`'s handle, or of your own (which resolves on any server,
//! including the local test PDS). `--delete` removes both posts at the end.
//! The password is read from `ATPROTO_PASSWORD`, or from stdin when that is
//! unset.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use atmo_client::atmo_api::app::bsky::feed::post::Post;
use atmo_client::bsky::PostBuilder;
use atmo_client::richtext::RichText;
use atmo_client::{AnyError, AtpAgent, Login};

/// A 1×1 transparent PNG.
const PIXEL: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0dIDATx\xdac\x64\x60\xf8\x5f\x0f\x00\x02\x87\x01\x80\xeb\x47\xba\x92\x00\x00\x00\x00IEND\xaeB\x60\x82";

struct Args {
    service: String,
    identifier: String,
    image: Option<String>,
    mention: Option<String>,
    delete: bool,
}

fn parse_args() -> Option<Args> {
    let mut positional = Vec::new();
    let (mut mention, mut delete) = (None, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--delete" => delete = true,
            "--mention" => mention = Some(args.next()?.trim_start_matches('@').to_owned()),
            _ => positional.push(a),
        }
    }
    let mut positional = positional.into_iter();
    Some(Args {
        service: positional.next()?,
        identifier: positional.next()?,
        image: positional.next(),
        mention,
        delete,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(args) = parse_args() else {
        eprintln!(
            "usage: rich_post <service> <identifier> [image file] [--mention <handle>] [--delete]"
        );
        return ExitCode::from(2);
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), AnyError> {
    // Read first, so that a missing file fails before anything is posted.
    let (bytes, alt) = match &args.image {
        Some(path) => (
            tokio::fs::read(path)
                .await
                .map_err(|e| AnyError::Invalid(format!("cannot read {path}: {e}")))?,
            format!("The picture {path}"),
        ),
        None => (PIXEL.to_vec(), "A single transparent pixel".to_owned()),
    };
    let agent = AtpAgent::builder(args.service.as_str()).build()?;
    let session = agent
        .login(Login::new(args.identifier.as_str(), read_password()?))
        .await?;
    let mention = args.mention.unwrap_or(session.handle);

    // Rich text: facets are detected in the text; the mention is resolved to
    // a DID through com.atproto.identity.resolveHandle (a handle that does
    // not resolve stays plain text).
    let text = format!("Hello @{mention}! The protocol is documented at atproto.com #atproto");
    let first = agent.post_with(PostBuilder::new(text)).await?;
    println!("posted {}", first.uri);
    let written = agent
        .get_record::<Post>(
            agent
                .did()
                .ok_or(AnyError::Invalid("not signed in".into()))?
                .into(),
            record_key(&first.uri)?,
        )
        .await?
        .value;
    let rich = RichText::from_record_lossy(written.text, written.facets.as_deref().unwrap_or(&[]));
    for segment in rich.segments() {
        if let Some(did) = segment.mention() {
            println!("  mention {:?} -> {did}", segment.text);
        } else if let Some(uri) = segment.link() {
            println!("  link    {:?} -> {uri}", segment.text);
        } else if let Some(tag) = segment.tag() {
            println!("  tag     {:?} -> #{tag}", segment.text);
        }
    }

    // An image post: the blob is uploaded first (its MIME type guessed from
    // its bytes), then referenced by the post with alt text.
    let blob = agent.upload_blob(bytes).await?;
    println!(
        "uploaded {} bytes as {}",
        blob.size().unwrap_or(0),
        blob.mime_type()
    );
    let second = agent
        .post_with(PostBuilder::new("A picture, posted from Rust").image(blob, alt))
        .await?;
    println!("posted {}", second.uri);

    if args.delete {
        agent.delete_post(&second.uri).await?;
        agent.delete_post(&first.uri).await?;
        println!("deleted both posts");
    }
    Ok(())
}

fn record_key(
    uri: &atmo_client::atmo_types::AtUri,
) -> Result<atmo_client::atmo_types::RecordKey, AnyError> {
    atmo_client::atmo_types::RecordKey::new(uri.rkey().unwrap_or_default())
        .map_err(|e| AnyError::Invalid(format!("{uri}: {e}")))
}

/// Prints an error and what caused it, one line per cause (a cause whose
/// text the line above already shows is not repeated).
fn report(e: &dyn std::error::Error) {
    let mut shown = e.to_string();
    eprintln!("error: {shown}");
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !shown.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        shown = text;
        source = cause.source();
    }
}

/// `ATPROTO_PASSWORD`, or one line from stdin.
fn read_password() -> Result<String, AnyError> {
    if let Ok(p) = std::env::var("ATPROTO_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| AnyError::Invalid(format!("cannot read the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
