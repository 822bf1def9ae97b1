//! Step 0: the toolchain parts the contract build needs, added before anything compiles.
//!
//! A fresh machine has the pinned toolchain (`rust-toolchain.toml`) but neither its `rust-src` component (the
//! contracts build `std` from source: [`super::cargo`]) nor the `wasm32-unknown-unknown` target, and rustup here
//! does not add them by itself (`RUSTUP_AUTO_INSTALL=0`). [`ensure`] looks in the toolchain's sysroot, runs
//! `rustup` only for what is missing, and otherwise stops at once with one line naming the command to run — never
//! after minutes of compiling.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{Error, Result};

/// One part: how to see it is there (a path under the sysroot) and the rustup arguments that add it.
struct Part {
    name: &'static str,
    marker: &'static str,
    rustup: &'static [&'static str],
}

const PARTS: &[Part] = &[
    Part {
        name: "the rust-src component",
        marker: "lib/rustlib/src/rust/library/std/Cargo.toml",
        rustup: &["component", "add", "rust-src"],
    },
    Part {
        name: "the wasm32-unknown-unknown target",
        marker: "lib/rustlib/wasm32-unknown-unknown",
        rustup: &["target", "add", "wasm32-unknown-unknown"],
    },
];

/// Makes sure the toolchain `workspace` builds with has every part the contract build needs, adding what is
/// missing through rustup (run in `workspace`, so it acts on the pinned toolchain).
///
/// # Errors
/// [`Error::ToolchainPart`] when a part is missing and rustup is absent or fails.
pub fn ensure(workspace: &Path) -> Result<()> {
    let sysroot = sysroot(workspace);
    for part in PARTS {
        if sysroot
            .as_deref()
            .is_some_and(|root| root.join(part.marker).exists())
        {
            continue;
        }
        let command = format!("rustup {}", part.rustup.join(" "));
        eprintln!("verity build: adding {} ({command})", part.name);
        let added = Command::new("rustup")
            .args(part.rustup)
            .current_dir(workspace)
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !added {
            return Err(Error::ToolchainPart {
                part: part.name,
                command,
            });
        }
    }
    Ok(())
}

/// The sysroot of the toolchain that builds in `workspace`, if rustc answers.
fn sysroot(workspace: &Path) -> Option<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(workspace)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_toolchain_has_every_part_after_ensure() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        ensure(&workspace).expect("rustup adds what is missing");
        let root = sysroot(&workspace).expect("rustc answers");
        for part in PARTS {
            assert!(
                root.join(part.marker).exists(),
                "{} at {}",
                part.name,
                part.marker
            );
        }
    }
}
