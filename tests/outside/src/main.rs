//! A program outside the atproto-rs repository: depends on `atmo-client`
//! by version and generates its own lexicons with `lexgen` in `build.rs`.
//! Without network unless `ATPROTO_OUTSIDE_PDS` names a PDS: then it logs in
//! as `ATPROTO_OUTSIDE_HANDLE` with `ATPROTO_OUTSIDE_PASSWORD`, creates
//! bookmarks, lists them typed and sees an invalid one refused before it is
//! sent.

use std::process::ExitCode;

use atmo_client::{AtpAgent, ListOptions, Login};
use atmo_types::validate::Validate;
use atmo_types::{AtUri, Datetime, Did};

/// The code lexgen generated from `lexicons/`.
pub mod lexicons {
    include!(concat!(env!("OUT_DIR"), "/lexicons.rs"));
}

use lexicons::com::example::{bookmark::Bookmark, list_bookmarks};

type BoxError = Box<dyn std::error::Error>;

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

fn run() -> Result<(), BoxError> {
    let pds = std::env::var("ATPROTO_OUTSIDE_PDS").ok();
    let service = pds
        .clone()
        .unwrap_or_else(|| "https://pds.example.com".into());
    let agent = AtpAgent::builder(service).validate_requests(true).build()?;
    println!("agent for {}", agent.service_url());

    // `new` takes the required properties in the order of the lexicon's
    // `required` array (`subject`, `createdAt`), which an installed document
    // keeps as written; its properties come back sorted (`createdAt` first),
    // so a constructor in property order would not compile here.
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

    if pds.is_some() {
        let handle = std::env::var("ATPROTO_OUTSIDE_HANDLE")
            .map_err(|_| "ATPROTO_OUTSIDE_PDS is set but ATPROTO_OUTSIDE_HANDLE is not")?;
        let password = std::env::var("ATPROTO_OUTSIDE_PASSWORD")
            .map_err(|_| "ATPROTO_OUTSIDE_PDS is set but ATPROTO_OUTSIDE_PASSWORD is not")?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(online(&agent, &handle, password))?;
    }
    Ok(())
}

/// Against a PDS: bookmarks created, an invalid one refused locally, all
/// listed back as `Bookmark`s.
async fn online(agent: &AtpAgent, handle: &str, password: String) -> Result<(), BoxError> {
    let session = agent.login(Login::new(handle, password)).await?;
    println!("logged in as {} ({})", session.handle, session.did);

    let subjects = [
        "https://atproto.com/specs/lexicon",
        "https://atproto.com/specs/nsid",
        "https://atproto.com/specs/repository",
    ];
    for (i, subject) in subjects.iter().enumerate() {
        let created = Datetime::new(&format!("2024-05-0{}T12:00:00.000Z", i + 1))?;
        let mut b = Bookmark::new(subject.parse()?, created);
        b.title = Some(format!("bookmark {}", i + 1));
        b.tags = Some(vec!["atproto".into()]);
        let written = agent.create_record(&b, None).await?;
        println!("created {}", written.uri);
    }

    // The PDS does not know com.example.bookmark and would store anything:
    // the refusal comes from the generated validation, before sending.
    let mut invalid = Bookmark::new(
        "https://atproto.com".parse()?,
        Datetime::new("2024-05-09T12:00:00.000Z")?,
    );
    invalid.tags = Some(vec!["x".repeat(65)]);
    match agent.create_record(&invalid, None).await {
        Err(atmo_client::Error::Validation { .. }) => {
            println!("invalid bookmark refused before sending")
        }
        Err(e) => return Err(format!("the invalid bookmark failed otherwise: {e}").into()),
        Ok(r) => return Err(format!("the invalid bookmark was written as {}", r.uri).into()),
    }

    let page = agent
        .list_records::<Bookmark>(session.did.clone().into(), ListOptions::new().limit(100))
        .await?;
    if !page.invalid.is_empty() {
        return Err(format!("{} listed record(s) are not Bookmarks", page.invalid.len()).into());
    }
    let mut listed: Vec<String> = page
        .records
        .iter()
        .map(|r| r.value.subject.to_string())
        .collect();
    listed.sort();
    for r in &page.records {
        println!(
            "listed {} {:?} {}",
            r.uri,
            r.value.title.as_deref().unwrap_or(""),
            r.value.subject
        );
    }
    if listed != subjects {
        return Err(format!("listed {listed:?}, created {subjects:?}").into());
    }
    Ok(())
}
