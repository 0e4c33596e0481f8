//! Keeps a session in a file across runs: resumes it when there is one,
//! logs in when there is none.
//!
//! `cargo run -p atproto-client --example session_lifecycle -- <service> <identifier> [session.json]`
//!
//! The password is read from `ATPROTO_PASSWORD`, or from stdin when that is
//! unset: never from the command line, where other users and the shell
//! history would see it.

use atproto_client::{AtpAgent, FileStore, Login};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, service, identifier, rest @ ..] = args.as_slice() else {
        eprintln!("usage: session_lifecycle <service> <identifier> [session.json]");
        std::process::exit(2);
    };
    let path = rest.first().map(String::as_str).unwrap_or("session.json");
    let agent = AtpAgent::builder(service.as_str())
        // The store is saved on Create/Update and cleared on Expired.
        .session_store(FileStore::new(path))
        .persist_session(|event, session| {
            let who = session.map(|s| s.handle.as_str()).unwrap_or("-");
            eprintln!("session event: {} ({who})", event.as_str());
        })
        .build()?;
    match agent.resume_from_store().await {
        Ok(Some(s)) => println!("resumed the session of {}", s.handle),
        Ok(None) => {
            let s = agent
                .login(Login::new(identifier.as_str(), read_password()?))
                .await?;
            println!("logged in as {} ({})", s.handle, s.did);
        }
        // An expired session: the store was cleared; log in again.
        Err(atproto_client::Error::Session(atproto_client::SessionError::Expired { .. })) => {
            let s = agent
                .login(Login::new(identifier.as_str(), read_password()?))
                .await?;
            println!("session had expired; logged in again as {}", s.handle);
        }
        Err(e) => return Err(e.into()),
    }
    println!(
        "PDS: {}",
        agent
            .pds_url()
            .map(|u| u.to_string())
            .unwrap_or_else(|| agent.service_url().to_string())
    );
    let profile = agent
        .query_json(
            "app.bsky.actor.getProfile",
            &[("actor", agent.did().unwrap().as_str())],
        )
        .await?;
    println!("followers: {}", profile["followersCount"]);
    Ok(())
}

/// `ATPROTO_PASSWORD`, or one line from stdin.
fn read_password() -> std::io::Result<String> {
    if let Ok(p) = std::env::var("ATPROTO_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
