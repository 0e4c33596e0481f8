//! A program outside the atproto-rs repository: depends on `atproto-client`
//! by version and generates its own lexicons with `lexgen` in `build.rs`.
//! Without network unless `ATPROTO_OUTSIDE_PDS` names a PDS.

use std::process::ExitCode;

use atproto_client::AtpAgent;
use atproto_types::validate::Validate;
use atproto_types::{AtUri, Datetime, Did};

/// The code lexgen generated from `lexicons/`.
pub mod lexicons {
    include!(concat!(env!("OUT_DIR"), "/lexicons.rs"));
}

use lexicons::com::example::{bookmark::Bookmark, list_bookmarks};

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("outside: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("outside: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let service =
        std::env::var("ATPROTO_OUTSIDE_PDS").unwrap_or_else(|_| "https://pds.example.com".into());
    let agent = AtpAgent::builder(service).build()?;
    println!("agent for {}", agent.service_url());

    let created = Datetime::new("2024-05-01T12:00:00.000Z")?;
    let mut bookmark = Bookmark::new("https://atproto.com/specs/lexicon".parse()?, created);
    bookmark.tags = Some(vec!["atproto".into(), "lexicon".into()]);
    bookmark.validate()?;
    let json = serde_json::to_value(&bookmark)?;
    println!("bookmark {json}");
    let back: Bookmark = serde_json::from_value(json)?;
    if back != bookmark {
        return Err("the bookmark did not survive a JSON round trip".into());
    }

    // Valid JSON, invalid record: caught before anything is sent.
    bookmark.tags = Some(vec!["x".repeat(65)]);
    match bookmark.validate() {
        Err(e) => println!("invalid bookmark refused: {e}"),
        Ok(()) => return Err("a tag of 65 characters passed validation".into()),
    }

    let did = Did::new("did:plc:ewvi7nxzyoun6zhxrhs64oiz")?;
    let uri = AtUri::new(format!("at://{did}/com.example.bookmark/3jzfcijpj2z2a"))?;
    let params = list_bookmarks::Parameters::new(did.as_str().parse()?);
    println!("record {uri}, listBookmarks limit {}", params.limit);
    Ok(())
}
