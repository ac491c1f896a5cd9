//! Replays saved inputs through a fuzz target, outside `catch_unwind`, so a
//! failure shows its full panic (and backtrace with `RUST_BACKTRACE=1`).
//!
//! ```text
//! cargo run -p postern-fuzz --bin replay -- TARGET FILE...
//! cargo run -p postern-fuzz --bin replay -- --list
//! ```

use std::path::PathBuf;

use postern_fuzz::targets;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag] if flag == "--list" => {
            for t in targets::ALL {
                println!("{:<16} {}", t.name, t.about);
            }
            Ok(())
        }
        [name, files @ ..] if !files.is_empty() => replay(name, files),
        _ => Err("usage: replay TARGET FILE... | replay --list".into()),
    }
}

fn replay(name: &str, files: &[String]) -> Result<(), String> {
    let target = targets::find(name)
        .ok_or_else(|| format!("no target {name:?}; `replay --list` shows them"))?;
    for file in files.iter().map(PathBuf::from) {
        let input = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        eprintln!("{name}: {} ({} bytes)", file.display(), input.len());
        (target.run)(&input);
        eprintln!("{name}: {}: ok", file.display());
    }
    Ok(())
}
