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
