//! Logs in, asking on stdin for the emailed code when the server requires one.
//!
//! `cargo run -p atmo-client --example login_2fa -- <service> <identifier>`
//!
//! The password is read from `ATPROTO_PASSWORD`, or from stdin when that is
//! unset: never from the command line.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead;
use std::process::ExitCode;

use atmo_client::atmo_api::com::atproto::server::create_session;
use atmo_client::{AtpAgent, Error, Login};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, service, identifier] = args.as_slice() else {
        eprintln!("usage: login_2fa <service> <identifier>");
        return ExitCode::from(2);
    };
    match run(service, identifier).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&*e);
            ExitCode::FAILURE
        }
    }
}

async fn run(service: &str, identifier: &str) -> Result<(), Box<dyn std::error::Error>> {
    let agent = AtpAgent::builder(service).build()?;
    let password = match std::env::var("ATPROTO_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            eprint!("password: ");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let login = Login::new(identifier, password);
    let session = match agent.login(login.clone()).await {
        Ok(s) => s,
        Err(Error::Api {
            error: create_session::Error::AuthFactorTokenRequired(message),
            ..
        }) => {
            eprintln!(
                "{}",
                message.unwrap_or_else(|| "A sign-in code was emailed to you.".into())
            );
            eprint!("code: ");
            let mut code = String::new();
            std::io::stdin().lock().read_line(&mut code)?;
            agent.login(login.auth_factor_token(code.trim())).await?
        }
        Err(Error::Api {
            error: create_session::Error::AccountTakedown(m),
            ..
        }) => return Err(format!("account taken down: {}", m.unwrap_or_default()).into()),
        Err(e) => return Err(e.into()),
    };
    println!("logged in as {} ({})", session.handle, session.did);
    agent.logout().await?;
    Ok(())
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
