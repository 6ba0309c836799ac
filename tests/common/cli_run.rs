//! One run of the `hookr` binary, for the CLI tests, which each use part of it.
#![allow(dead_code)]

use std::process::Output;

/// The binary's exit statuses (its `--help` lists them).
pub const EXIT_CALL: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_LOAD: i32 = 3;
pub const EXIT_STOPPED: i32 = 4;

pub struct Run {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// The run that gave `out`: it must have exited (not been killed) and not panicked.
    pub fn of(out: Output, what: &str) -> Run {
        let Some(status) = out.status.code() else {
            panic!("hookr {what} was killed by a signal: {:?}", out.status);
        };
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_ne!(status, 101, "hookr {what} panicked: {stderr}");
        Run { status, stdout: out.stdout, stderr }
    }

    pub fn stdout_str(&self) -> &str {
        std::str::from_utf8(&self.stdout).unwrap()
    }

    /// Asserts a failure with `status` and one stderr line naming it with `needle`.
    pub fn fails(&self, status: i32, needle: &str) {
        assert_eq!(self.status, status, "stderr: {}", self.stderr);
        assert!(self.stdout.is_empty(), "stdout: {:?}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().filter(|l| l.starts_with("hookr: ")).collect();
        assert_eq!(lines.len(), 1, "one error line expected, stderr: {}", self.stderr);
        assert!(lines[0].contains(needle), "{needle:?} not in {:?}", lines[0]);
    }

    pub fn succeeds(&self) -> &Self {
        assert_eq!(self.status, 0, "stderr: {}", self.stderr);
        self
    }
}
