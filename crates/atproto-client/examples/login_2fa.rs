//! Logs in, asking on stdin for the emailed code when the server requires one.
//!
//! `cargo run -p atproto-client --example login_2fa -- <service> <identifier> <password>`

use std::io::BufRead;

use atproto_client::atproto_api::com::atproto::server::create_session;
use atproto_client::{AtpAgent, Error, Login};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, service, identifier, password] = args.as_slice() else {
        eprintln!("usage: login_2fa <service> <identifier> <password>");
        std::process::exit(2);
    };
    let agent = AtpAgent::builder(service.as_str()).build()?;
    let login = Login::new(identifier.as_str(), password.as_str());
    let session = match agent.login(login.clone()).await {
        Ok(s) => s,
        Err(Error::Api(create_session::Error::AuthFactorTokenRequired(message))) => {
            eprintln!(
                "{}",
                message.unwrap_or_else(|| "A sign-in code was emailed to you.".into())
            );
            eprint!("code: ");
            let mut code = String::new();
            std::io::stdin().lock().read_line(&mut code)?;
            agent.login(login.auth_factor_token(code.trim())).await?
        }
        Err(Error::Api(create_session::Error::AccountTakedown(m))) => {
            return Err(format!("account taken down: {}", m.unwrap_or_default()).into())
        }
        Err(e) => return Err(e.into()),
    };
    println!("logged in as {} ({})", session.handle, session.did);
    agent.logout().await?;
    Ok(())
}
