//! Exit codes, documented in the README and in `--help`.

/// What dockscope tells its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The job was done (problems met on the way are reported, not fatal).
    Done,
    /// `check` or `verify` found something.
    Findings,
    /// The job could not be done: root missing or unreadable, not an overlay2 root,
    /// unknown or ambiguous IMAGE, bad usage (clap's own usage errors are 2 too).
    Failure,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Done => 0,
            ExitStatus::Findings => 1,
            ExitStatus::Failure => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(ExitStatus::Done.code(), 0);
        assert_eq!(ExitStatus::Findings.code(), 1);
        assert_eq!(ExitStatus::Failure.code(), 2);
    }
}
