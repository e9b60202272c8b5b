//! The checked-in completions/ and man/ must match what the clap definition renders.
//! Regenerate with: REGENERATE_ASSETS=1 cargo test --test cli assets

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tezos_azure_signer::cli::assets;

const REGEN: &str = "REGENERATE_ASSETS=1 cargo test --test cli assets";

fn existing_files(root: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for dir in assets::DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                found.insert(PathBuf::from(dir).join(entry.file_name()));
            }
        }
    }
    found
}

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rendered = assets::render_all();
    assert!(rendered.iter().any(|(p, _)| p.starts_with("man")));
    assert!(rendered.iter().any(|(p, _)| p.starts_with("completions")));
    let wanted: BTreeSet<PathBuf> = rendered.iter().map(|(p, _)| p.clone()).collect();
    let extra: Vec<PathBuf> = existing_files(root).difference(&wanted).cloned().collect();

    if std::env::var_os("REGENERATE_ASSETS").is_some_and(|v| v == "1") {
        for dir in assets::DIRS {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for (path, bytes) in &rendered {
            std::fs::write(root.join(path), bytes).unwrap();
        }
        for path in &extra {
            std::fs::remove_file(root.join(path)).unwrap();
        }
        return;
    }

    let mut stale: Vec<String> = rendered
        .iter()
        .filter(|(path, bytes)| std::fs::read(root.join(path)).ok().as_ref() != Some(bytes))
        .map(|(path, _)| format!("{} (missing or out of date)", path.display()))
        .collect();
    stale.extend(
        extra
            .iter()
            .map(|p| format!("{} (no longer generated)", p.display())),
    );
    assert!(
        stale.is_empty(),
        "generated assets are stale:\n  {}\nregenerate them with: {REGEN}",
        stale.join("\n  ")
    );
}
