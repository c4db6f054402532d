//! kubectl-egress: let traffic out of an Istio mesh, as a kubectl plugin.
//!
//! `core` is pure (request -> Istio objects -> text); `cluster` holds the edges that read the
//! kubeconfig and talk to the API server; `commands` has one module per subcommand.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod complete;
pub mod core;
pub mod error;
pub mod settings;
pub mod usage;
pub mod write;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::error::exit;

/// Parses the command line, runs the command, prints any error once, picks the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    // Called as kubectl_complete-egress (a symlink to this binary): answer kubectl's completion.
    let called_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_stem())
        .and_then(|s| s.to_str());
    if called_as == Some("kubectl_complete-egress") {
        let words: Vec<String> = args[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        complete::run(&words);
        return ExitCode::from(exit::OK);
    }
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // `kubectl egress` alone prints the overview on stdout and succeeds, like kubectl.
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            print!("{}", e.render());
            return ExitCode::from(exit::OK);
        }
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
        // A usage error: one line naming the flag or value, and where to read the usage.
        Err(e) => {
            eprint!("{}", usage::render(&e, &args));
            return ExitCode::from(exit::INPUT);
        }
    };
    if let Some(refusal) = usage::repeated_across_subcommand(&args) {
        eprint!("{refusal}");
        return ExitCode::from(exit::INPUT);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::RUNTIME);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            // A value the checks refused is a usage error too: said as clap's are.
            if matches!(e, error::Error::Input(_)) {
                eprintln!("See '{} --help' for usage.", usage::command_path(&args));
            }
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`, its sub-directories included, in order.
    pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut files = vec![];
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    /// The arrows run down: `commands` uses `write`, `cluster` and `core`; `write` uses
    /// `cluster` and `core`; `cluster` uses `core`. No layer names one above it (tests aside).
    #[test]
    fn cluster_and_core_import_nothing_from_commands() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut checked = 0;
        let above = |dir: &str| match dir {
            "write" => vec!["commands"],
            _ => vec!["commands", "write"],
        };
        for dir in ["cluster", "core", "write"] {
            for path in rust_files(Path::new(&format!("{root}/{dir}"))) {
                let source = std::fs::read_to_string(&path).unwrap();
                let code = source.split("#[cfg(test)]").next().unwrap_or_default();
                for layer in above(dir) {
                    for upward in [
                        format!("crate::{layer}"),
                        format!("super::super::{layer}"),
                        format!("super::{layer}"),
                    ] {
                        assert!(
                            !code.contains(&upward),
                            "{} names {upward}: the arrow runs back up",
                            path.display()
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 10, "only {checked} files read");
    }

    /// A source file is read whole: none is over 1,100 lines (tests files included); a longer
    /// one is split along a seam, its tests into a sibling `tests.rs` first.
    #[test]
    fn no_source_file_is_over_1100_lines() {
        let files = rust_files(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")));
        assert!(files.len() > 40, "only {} files read", files.len());
        let long: Vec<String> = files
            .iter()
            .map(|path| (path, std::fs::read_to_string(path).unwrap().lines().count()))
            .filter(|(_, lines)| *lines > 1100)
            .map(|(path, lines)| format!("{} ({lines} lines)", path.display()))
            .collect();
        assert!(long.is_empty(), "over 1,100 lines: {}", long.join(", "));
    }
}
