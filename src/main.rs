use std::process::ExitCode;

fn main() -> ExitCode {
    kubectl_egress::main_with_args(std::env::args_os())
}
