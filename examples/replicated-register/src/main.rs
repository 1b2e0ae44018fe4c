//! The register's own `highstorm`-style command line: `run`, `replay`, `shrink`, `diff`, `node`
//! for the replicated register, built from the embeddable CLI in three lines.
//!
//! ```text
//! cargo run -p replicated-register -- run examples/replicated-register/scenarios/
//! cargo run -p replicated-register -- replay FILE --seed 7
//! ```

use highstorm::system::Registry;
use std::process::ExitCode;

fn main() -> ExitCode {
    highstorm::cli::main(Registry::new().with(replicated_register::system()))
}
