//! A program outside the atproto-rs repository: depends on `atproto-client`
//! by version and generates its own lexicons with `lexgen` in `build.rs`.
//! Without network unless `ATPROTO_OUTSIDE_PDS` names a PDS.

use std::process::ExitCode;

use atproto_client::atproto_types::{AtUri, Datetime, Did, Nsid};
use atproto_client::AtpAgent;

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

    let collection = Nsid::new("com.example.bookmark")?;
    let did = Did::new("did:plc:ewvi7nxzyoun6zhxrhs64oiz")?;
    let uri = AtUri::new(format!("at://{did}/{collection}/3jzfcijpj2z2a"))?;
    println!("record {uri}");
    if Datetime::new("yesterday").is_ok() {
        return Err("an invalid datetime was accepted".into());
    }

    // Set by build.rs; absent in the baseline build without lexgen.
    if let (Some(documents), Some(files)) = (
        option_env!("OUTSIDE_LEXICON_DOCUMENTS"),
        option_env!("OUTSIDE_GENERATED_FILES"),
    ) {
        println!("lexgen in build.rs: {documents} lexicon document(s), {files} file(s) generated");
    }
    Ok(())
}
