//! The completion executable kubectl (1.26+) runs for `kubectl egress <TAB>`; see `complete.rs`.
//! The main binary does the same when it is called by this name (a symlink), so a krew install
//! needs only `ln -s kubectl-egress kubectl_complete-egress`.

fn main() {
    let words: Vec<String> = std::env::args().skip(1).collect();
    kubectl_egress::complete::run(&words);
}
