//! `kubectl egress completion SHELL`: a completion script for `kubectl-egress` and `kubectl egress`.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionArgs, CompletionShell};

pub fn script(shell: CompletionShell) -> String {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
    };
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "kubectl-egress", &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    match shell {
        // clap_complete names the state of the hyphenated binary `kubectl__egress` where it sets
        // it but `kubectl__subcmd__egress` in the case labels for subcommands, so no subcommand
        // flag would ever complete; make the labels match (checked in a real bash by tests/cli.rs).
        Shell::Bash => script.replace("kubectl__subcmd__egress", "kubectl__egress"),
        _ => script,
    }
}

pub fn run(args: CompletionArgs) {
    print!("{}", script(args.shell));
}
