//! A service `verity dev` runs as a child process (the keeper, the inference nodes): alive-checks naming its log,
//! and a graceful stop on drop.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{bail, Result};

/// A child process with a name and a log; stopped on drop (SIGTERM, a 5-second grace, then kill).
pub(super) struct Service {
    /// Its name in messages (`the keeper`, `node near`).
    pub(super) name: String,
    /// Where its stdout and stderr go.
    pub(super) log: PathBuf,
    child: Child,
}

impl Service {
    /// Wraps a spawned `child` writing to `log`.
    pub(super) fn new(name: impl Into<String>, child: Child, log: PathBuf) -> Self {
        Self {
            name: name.into(),
            log,
            child,
        }
    }

    /// Fails, naming the log, when the process has exited.
    pub(super) fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); its log: {}",
                self.name,
                self.log.display()
            );
        }
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SIGTERM lets it finish or persist in-flight work; then make sure it is gone.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
