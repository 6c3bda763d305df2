//! The `brain` command. See `brain --help` and the crate's README.

fn main() -> std::process::ExitCode {
    brain_cli::main()
}
