//! A command line clap refuses, said as kubectl says it: one `error: ...` line naming the flag or
//! value, then `See 'kubectl egress SUBCOMMAND --help' for usage.` (exit 2; nothing contacted).
//! clap's own rendering adds tips, a usage block and "For more information" over several lines.

use std::ffi::{OsStr, OsString};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, CommandFactory};

use crate::cli::Cli;

/// The two lines for stderr, each ending in a newline.
pub fn render(error: &clap::Error, args: &[OsString]) -> String {
    format!(
        "error: {}\nSee '{} --help' for usage.\n",
        message(error, args),
        command_path(args)
    )
}

/// A flag given both before and after the subcommand (`-n a allow x -n b`), said as clap says a
/// flag given twice on one side: clap refuses `allow x -n a -n b` but lets a global flag on both
/// sides pass with the last value, and the two spellings should not differ. None when every
/// flag is given once.
pub fn repeated_across_subcommand(args: &[OsString]) -> Option<String> {
    let mut command = Cli::command();
    // Built, so that an argument can be shown as clap shows it (`--namespace <NAMESPACE>`).
    command.build();
    let globals: Vec<&Arg> = command
        .get_arguments()
        .filter(|a| a.is_global_set())
        .collect();
    // Before the subcommand stand only global flags (anything else clap has refused already).
    let mut before: Vec<&Arg> = vec![];
    let mut at = 1;
    let subcommand_at = loop {
        let token = args.get(at)?.to_str()?;
        let flag = token.split_once('=').map_or(token, |(flag, _)| flag);
        let long = flag.strip_prefix("--");
        let short = flag.strip_prefix('-').and_then(|s| s.chars().next());
        let Some(arg) = globals.iter().find(|a| match long {
            Some(long) => a.get_long() == Some(long),
            None => short.is_some() && a.get_short() == short,
        }) else {
            if token.starts_with('-') {
                return None;
            }
            break at;
        };
        before.push(arg);
        // Its value is the next word unless attached (`--namespace=a`, `-na`) or optional.
        let attached = token.contains('=') || (long.is_none() && token.len() > 2);
        at += if attached || arg.is_require_equals_set() {
            1
        } else {
            2
        };
    };
    if before.is_empty() {
        return None;
    }
    let after: Vec<OsString> = args[..1]
        .iter()
        .chain(&args[subcommand_at..])
        .cloned()
        .collect();
    let matches = Cli::command().try_get_matches_from(&after).ok()?;
    let (_, given_after) = matches.subcommand()?;
    let twice = before.iter().find(|a| {
        given_after.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine)
    })?;
    Some(format!(
        "error: the argument '{twice}' cannot be used multiple times\nSee '{} --help' for usage.\n",
        command_path(args)
    ))
}

/// `kubectl egress` and the subcommand clap recognised before it gave up, if any.
pub fn command_path(args: &[OsString]) -> String {
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
    let context = Context { error, args };
    let said = match error.kind() {
        ErrorKind::UnknownArgument => context.unknown_argument(),
        ErrorKind::InvalidSubcommand => context.invalid_subcommand(),
        ErrorKind::InvalidValue => context.invalid_value(),
        ErrorKind::ArgumentConflict => context.argument_conflict(),
        ErrorKind::MissingRequiredArgument => context.missing_required(),
        ErrorKind::InvalidUtf8 => Some(context.invalid_utf8()),
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

/// What clap recorded of an error, read back as the user typed it. Each sentence below is None
/// when clap left out what it needs, and clap's own first line is said instead.
struct Context<'a> {
    error: &'a clap::Error,
    args: &'a [OsString],
}

impl Context<'_> {
    /// Values clap read lossily (not UTF-8) are shown as typed, with their bytes escaped.
    fn typed(&self, value: &str) -> String {
        self.args
            .iter()
            .find(|a| a.to_string_lossy() == value)
            .map_or_else(|| value.to_string(), |a| shown(a))
    }

    fn string(&self, kind: ContextKind) -> Option<String> {
        match self.error.get(kind) {
            Some(ContextValue::String(s)) => Some(self.typed(s)),
            _ => None,
        }
    }

    fn strings(&self, kind: ContextKind) -> Vec<String> {
        match self.error.get(kind) {
            Some(ContextValue::String(s)) => vec![self.typed(s)],
            Some(ContextValue::Strings(v)) => v.iter().map(|s| self.typed(s)).collect(),
            _ => vec![],
        }
    }

    /// clap's "a similar ... exists" tips; not its "to pass '-x' as a value, use '-- -x'".
    fn did_you_mean(&self, kind: ContextKind) -> String {
        let similar = self.strings(kind);
        if similar.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", similar.join(" or "))
        }
    }

    fn unknown_argument(&self) -> Option<String> {
        let arg = self.string(ContextKind::InvalidArg)?;
        Some(if arg.starts_with("--") {
            format!(
                "unknown flag: {arg}{}",
                self.did_you_mean(ContextKind::SuggestedArg)
            )
        } else if let Some(letter) = arg.strip_prefix('-') {
            // clap names the one letter; kubectl names it in the word it was in (-zx).
            let word = self
                .args
                .iter()
                .skip(1)
                .map(|a| shown(a))
                .find(|a| a.starts_with('-') && !a.starts_with("--") && a[1..].contains(letter))
                .unwrap_or_else(|| arg.clone());
            format!("unknown shorthand flag: '{letter}' in {word}")
        } else {
            format!("unexpected argument '{arg}' found")
        })
    }

    fn invalid_subcommand(&self) -> Option<String> {
        let name = self.string(ContextKind::InvalidSubcommand)?;
        Some(format!(
            "unknown command \"{name}\" for \"kubectl egress\"{}",
            self.did_you_mean(ContextKind::SuggestedSubcommand)
        ))
    }

    fn invalid_value(&self) -> Option<String> {
        let arg = self.string(ContextKind::InvalidArg)?;
        let value = self.string(ContextKind::InvalidValue)?;
        if value.is_empty() {
            return Some(format!(
                "flag needs an argument: {}",
                arg.split([' ', '=']).next().unwrap_or(&arg)
            ));
        }
        let valid = self.strings(ContextKind::ValidValue);
        let valid = if valid.is_empty() {
            String::new()
        } else {
            format!(" [possible values: {}]", valid.join(", "))
        };
        Some(format!(
            "invalid value '{value}' for '{arg}'{valid}{}",
            self.did_you_mean(ContextKind::SuggestedValue)
        ))
    }

    fn argument_conflict(&self) -> Option<String> {
        let arg = self.string(ContextKind::InvalidArg)?;
        let prior = self.strings(ContextKind::PriorArg);
        Some(if prior == [arg.clone()] {
            format!("the argument '{arg}' cannot be used multiple times")
        } else if prior.is_empty() {
            format!(
                "the argument '{arg}' cannot be used with one or more of the other specified arguments"
            )
        } else {
            let quoted: Vec<String> = prior.iter().map(|v| format!("'{v}'")).collect();
            format!(
                "the argument '{arg}' cannot be used with {}",
                quoted.join(", ")
            )
        })
    }

    fn missing_required(&self) -> Option<String> {
        let missing = self.strings(ContextKind::InvalidArg);
        (!missing.is_empty()).then(|| {
            format!(
                "the following required arguments were not provided: {}",
                missing.join(", ")
            )
        })
    }

    fn invalid_utf8(&self) -> String {
        let bad: Vec<String> = self
            .args
            .iter()
            .skip(1)
            .filter(|a| a.to_str().is_none())
            .map(|a| format!("\"{}\"", shown(a)))
            .collect();
        format!(
            "invalid UTF-8 was detected in one or more arguments: {}",
            bad.join(", ")
        )
    }
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
    crate::core::render::escaped_controls(text)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn said(args: &[&str]) -> String {
        let args: Vec<OsString> = std::iter::once("kubectl-egress")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        let error = Cli::try_parse_from(&args).unwrap_err();
        message(&error, &args)
    }

    #[test]
    fn each_kind_of_refusal_names_what_was_typed_in_one_line() {
        assert_eq!(
            said(&["status", "-Az"]),
            "unknown shorthand flag: 'z' in -Az"
        );
        assert_eq!(
            said(&["alow"]),
            "unknown command \"alow\" for \"kubectl egress\"; did you mean allow?"
        );
        assert_eq!(said(&["apply", "-f"]), "flag needs an argument: --filename");
        assert_eq!(
            said(&["timeout", "httpbin.org", "2s", "--clear"]),
            "the argument '[DURATION]' cannot be used with '--clear'"
        );
        assert_eq!(
            said(&["timeout", "httpbin.org"]),
            "the following required arguments were not provided: <DURATION>"
        );
    }

    fn across(args: &[&str]) -> Option<String> {
        let args: Vec<OsString> = std::iter::once("kubectl-egress")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        assert!(Cli::try_parse_from(&args).is_ok(), "{args:?}");
        repeated_across_subcommand(&args)
    }

    #[test]
    fn a_flag_before_and_after_the_subcommand_is_refused_as_a_flag_given_twice() {
        for args in [
            &["-n", "a", "allow", "x", "-n", "b"][..],
            &["--namespace=a", "allow", "x", "--namespace", "b"],
            &["-na", "allow", "x", "-n=b"],
            &["-o", "yaml", "--context", "c", "status", "-o", "json"],
            &["--dry-run", "allow", "x", "--dry-run=server"],
        ] {
            let said = across(args).unwrap_or_else(|| panic!("{args:?} passed"));
            assert!(
                said.starts_with("error: the argument '--")
                    && said.contains("' cannot be used multiple times\nSee 'kubectl egress ")
                    && said.lines().count() == 2,
                "{args:?}: {said}"
            );
        }
        assert_eq!(
            across(&["-n", "a", "allow", "x", "-n", "b"]).unwrap(),
            "error: the argument '--namespace <NAMESPACE>' cannot be used multiple times\n\
             See 'kubectl egress allow --help' for usage.\n"
        );
        // Each flag once, on either side; a namespace named like a subcommand; the same word
        // as a value after the subcommand.
        for args in [
            &["-n", "a", "allow", "x"][..],
            &["allow", "x", "-n", "b"],
            &["-n", "allow", "allow", "x", "-o", "yaml"],
            &["--dry-run", "-o", "name", "allow", "x", "-n", "b"],
            &["--context", "c", "status", "-A"],
            &["status"],
        ] {
            assert_eq!(across(args), None, "{args:?}");
        }
    }
}
