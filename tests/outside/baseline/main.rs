//! The baseline of `cargo xtask outside --measure`: the same app without
//! lexgen (no build script, no generated code), for the cost lexgen adds.

use atmo_client::AtpAgent;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let agent = AtpAgent::builder("https://pds.example.com").build()?;
    println!("agent for {}", agent.service_url());
    Ok(())
}
