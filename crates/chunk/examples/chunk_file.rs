//! Prints the chunks of the files given on the command line.
//!
//! `cargo run -p chunk --example chunk_file -- docs/architecture.md [max_chars]`

use chunk::{ChunkOptions, chunk};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut options = ChunkOptions::default();
    if let Some(max) = args.last().and_then(|a| a.parse::<usize>().ok()) {
        options = ChunkOptions::with_max_chars(max);
        args.pop();
    }
    for path in args {
        let text = std::fs::read_to_string(&path)?;
        for c in chunk(&path, &text, &options)? {
            println!(
                "--- lines {}-{} {} {:?} [{} chars]\n{}",
                c.start_line,
                c.end_line,
                c.kind.name(),
                c.symbol,
                c.body().chars().count(),
                c.context()
            );
        }
    }
    Ok(())
}
