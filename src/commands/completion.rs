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
    String::from_utf8_lossy(&out).into_owned()
}

pub fn run(args: CompletionArgs) {
    print!("{}", script(args.shell));
}
