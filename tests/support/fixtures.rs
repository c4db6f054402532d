//! The course exercise's own files under tests/fixtures/, for every test binary that reads them.

use std::path::PathBuf;

/// The exercise's own YAML for one object (`fixtures/seed/FILE`): what the defaults must reproduce.
pub fn seed(file: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seed")
        .join(file);
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The exercise's start files for `apply -f` (`fixtures/exercise/`), as an absolute path.
#[allow(dead_code)]
pub fn exercise_dir() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exercise")
        .display()
        .to_string()
}
