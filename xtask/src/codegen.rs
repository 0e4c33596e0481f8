//! `cargo xtask codegen [--check]` (being written by the generator work).
pub fn run(_args: &[String]) -> Result<(), String> {
    Err("not implemented yet".into())
}
