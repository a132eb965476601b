//! The fuzz targets' seeds and every crash a fuzzing run found (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`), replayed on stable: each parser must take them without a
//! panic, as it took them when the crash was fixed.

use std::path::PathBuf;

use mcp_sync_monitor::testing::fuzz;

/// A target's name and what it runs.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 7] = [
    ("list_page", fuzz::list_page),
    ("sync_answer", fuzz::sync_answer),
    ("web_config", fuzz::web_config),
    ("config_file", fuzz::config_file),
    ("ratelimit_header", fuzz::ratelimit_header),
    ("definitions", fuzz::definitions),
    ("pin_file", fuzz::pin_file),
];

#[test]
fn every_seed_and_every_crash_found_is_taken_without_a_panic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (target, run) in TARGETS {
        let mut inputs = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    continue;
                }
                let data = std::fs::read(&path).expect("read");
                run(&data);
                // Cut short at every length too: what a closed connection leaves.
                for n in (0..data.len()).step_by(data.len() / 16 + 1) {
                    run(&data[..n]);
                }
                inputs += 1;
            }
        }
        assert!(inputs >= 2, "{target}: the seeds are there ({inputs})");
    }
}
