//! Tells the crate the opt-level it is built with, so a sweep can say when it runs slow.

fn main() {
    let level = std::env::var("OPT_LEVEL").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=HIGHSTORM_OPT_LEVEL={level}");
    println!("cargo:rerun-if-changed=build.rs");
}
