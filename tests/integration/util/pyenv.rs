//! The Python programs of `tests/support` and the virtual environment `scripts/test.sh`
//! makes for them (aioquic, hdrhistogram).

use std::path::{Path, PathBuf};

/// The Python of the virtual environment `scripts/test.sh` makes, with aioquic in it.
pub fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "no {}: run the tests with `bash scripts/test.sh`, which installs aioquic there",
        python.display()
    );
    python
}

pub fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// Python's `hdrhistogram` reading of the interval logs at `paths`, added together: `count`,
/// `p50_us`, `p99_us`, `max_us`, `intervals` and `uncorrected_count` (`hlog_read.py`).
pub fn hlog_read(paths: &[PathBuf]) -> serde_json::Value {
    let out = std::process::Command::new(python())
        .arg(support("hlog_read.py"))
        .args(paths)
        .output()
        .expect("the reader runs");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// That `merged`, the report of `upcase bench merge` of `logs`, counts the replies and losses
/// of the runs' `reports` added up, and the percentiles Python finds in the logs added together.
pub fn assert_merged_is_the_sum(
    merged: &serde_json::Value,
    reports: &[serde_json::Value],
    logs: &[PathBuf],
) {
    let sum = |key: &str| -> u64 { reports.iter().filter_map(|r| r[key].as_u64()).sum() };
    assert_eq!(merged["replies"].as_u64(), Some(sum("replies")), "{merged}");
    assert_eq!(merged["lost"].as_u64(), Some(sum("lost")), "{merged}");
    let python = hlog_read(logs);
    assert_eq!(python["count"], merged["replies"]);
    for key in ["p50_us", "p99_us", "max_us"] {
        assert_eq!(
            python[key], merged["latency"][key],
            "{key}: {python} against {merged}"
        );
    }
}
