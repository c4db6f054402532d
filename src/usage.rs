//! A command line clap refuses, said as kubectl says it: one `error: ...` line naming the flag or
//! value, then `See 'kubectl egress SUBCOMMAND --help' for usage.` (exit 2; nothing contacted).
//! clap's own rendering adds tips, a usage block and "For more information" over several lines.

use std::ffi::{OsStr, OsString};

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::cli::Cli;

/// The two lines for stderr, each ending in a newline.
pub fn render(error: &clap::Error, args: &[OsString]) -> String {
    format!(
        "error: {}\nSee '{} --help' for usage.\n",
        message(error, args),
        command_path(args)
    )
}

/// `kubectl egress` and the subcommand clap recognised before it gave up, if any.
fn command_path(args: &[OsString]) -> String {
    let mut path = String::from("kubectl egress");
    if let Ok(matches) = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
    {
        let mut matches = &matches;
        while let Some((name, sub)) = matches.subcommand() {
            // `help NAME` is not a command with a --help of its own.
            if name == "help" {
                break;
            }
            path.push(' ');
            path.push_str(name);
            matches = sub;
        }
    }
    path
}

/// One line, clap's words (kubectl's where kubectl says the same thing), naming the flag or
/// value as the user typed it.
fn message(error: &clap::Error, args: &[OsString]) -> String {
    // Values clap read lossily (not UTF-8) are shown as typed, with their bytes escaped.
    let typed = |value: &str| -> String {
        args.iter()
            .find(|a| a.to_string_lossy() == value)
            .map_or_else(|| value.to_string(), |a| shown(a))
    };
    let string = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(typed(s)),
        _ => None,
    };
    let strings = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => vec![typed(s)],
        Some(ContextValue::Strings(v)) => v.iter().map(|s| typed(s)).collect(),
        _ => vec![],
    };
    let quoted = |values: Vec<String>| {
        values
            .iter()
            .map(|v| format!("'{v}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // clap's "a similar ... exists" tips; not its "to pass '-x' as a value, use '-- -x'".
    let did_you_mean = |kind| {
        let similar = strings(kind);
        if similar.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", similar.join(" or "))
        }
    };
    let said = match error.kind() {
        ErrorKind::UnknownArgument => string(ContextKind::InvalidArg).map(|arg| {
            if arg.starts_with("--") {
                format!(
                    "unknown flag: {arg}{}",
                    did_you_mean(ContextKind::SuggestedArg)
                )
            } else if let Some(letter) = arg.strip_prefix('-') {
                // clap names the one letter; kubectl names it in the word it was in (-zx).
                let word = args
                    .iter()
                    .skip(1)
                    .map(|a| shown(a))
                    .find(|a| {
                        a.starts_with('-') && !a.starts_with("--") && a[1..].contains(letter)
                    })
                    .unwrap_or_else(|| arg.clone());
                format!("unknown shorthand flag: '{letter}' in {word}")
            } else {
                format!("unexpected argument '{arg}' found")
            }
        }),
        ErrorKind::InvalidSubcommand => string(ContextKind::InvalidSubcommand).map(|name| {
            format!(
                "unknown command \"{name}\" for \"kubectl egress\"{}",
                did_you_mean(ContextKind::SuggestedSubcommand)
            )
        }),
        ErrorKind::InvalidValue => {
            match (
                string(ContextKind::InvalidArg),
                string(ContextKind::InvalidValue),
            ) {
                (Some(arg), Some(value)) if value.is_empty() => Some(format!(
                    "flag needs an argument: {}",
                    arg.split([' ', '=']).next().unwrap_or(&arg)
                )),
                (Some(arg), Some(value)) => {
                    let valid = strings(ContextKind::ValidValue);
                    let valid = if valid.is_empty() {
                        String::new()
                    } else {
                        format!(" [possible values: {}]", valid.join(", "))
                    };
                    Some(format!(
                        "invalid value '{value}' for '{arg}'{valid}{}",
                        did_you_mean(ContextKind::SuggestedValue)
                    ))
                }
                _ => None,
            }
        }
        ErrorKind::ArgumentConflict => string(ContextKind::InvalidArg).map(|arg| {
            let prior = strings(ContextKind::PriorArg);
            if prior == [arg.clone()] {
                format!("the argument '{arg}' cannot be used multiple times")
            } else if prior.is_empty() {
                format!("the argument '{arg}' cannot be used with one or more of the other specified arguments")
            } else {
                format!("the argument '{arg}' cannot be used with {}", quoted(prior))
            }
        }),
        ErrorKind::MissingRequiredArgument => {
            let missing = strings(ContextKind::InvalidArg);
            (!missing.is_empty()).then(|| {
                format!(
                    "the following required arguments were not provided: {}",
                    missing.join(", ")
                )
            })
        }
        ErrorKind::InvalidUtf8 => {
            let bad: Vec<String> = args
                .iter()
                .skip(1)
                .filter(|a| a.to_str().is_none())
                .map(|a| format!("\"{}\"", shown(a)))
                .collect();
            Some(format!(
                "invalid UTF-8 was detected in one or more arguments: {}",
                bad.join(", ")
            ))
        }
        _ => None,
    };
    // Any other kind: clap's first line, unstyled.
    let said = said.unwrap_or_else(|| {
        let rendered = error.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        first.strip_prefix("error: ").unwrap_or(first).to_string()
    });
    one_line(&said)
}

/// An argument as typed: control characters and bytes that are not UTF-8 escaped.
fn shown(arg: &OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut text = String::new();
        for chunk in arg.as_bytes().utf8_chunks() {
            text.push_str(chunk.valid());
            for byte in chunk.invalid() {
                text.push_str(&format!("\\x{byte:02X}"));
            }
        }
        one_line(&text)
    }
    #[cfg(not(unix))]
    {
        one_line(&arg.to_string_lossy())
    }
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
