//! `verity-zk`: see [`verity_zk::cli`].

fn main() -> anyhow::Result<std::process::ExitCode> {
    verity_zk::cli::main()
}
