//! [`Pid`], a process identifier, and [`ParsePidError`].

use std::fmt;

/// A process identifier, unique for the life of its runtime.
///
/// Prints as Erlang does, `<0.42.0>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(pub(crate) u64);

impl Pid {
    /// The pseudo-pid of code that runs outside any process (a test, `main`).
    pub const EXTERNAL: Pid = Pid(0);

    /// The number inside the pid.
    pub fn id(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<0.{}.0>", self.0)
    }
}

/// Parses a pid as it prints, `<0.42.0>`, or its number alone, `42` (OTP's `list_to_pid`):
/// for tools that take a pid from a person or a URL. The pid need not be alive.
///
/// ```
/// use rusm_otp::Pid;
///
/// let pid: Pid = "<0.42.0>".parse().unwrap();
/// assert_eq!(pid.id(), 42);
/// assert_eq!("42".parse::<Pid>().unwrap(), pid);
/// assert!("<0.x.0>".parse::<Pid>().is_err());
/// ```
impl std::str::FromStr for Pid {
    type Err = ParsePidError;

    fn from_str(s: &str) -> Result<Pid, Self::Err> {
        let s = s.trim();
        let n = match s.strip_prefix("<0.").and_then(|r| r.strip_suffix(".0>")) {
            Some(n) => n,
            None => s,
        };
        n.parse().map(Pid).map_err(|_| ParsePidError(()))
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A string was not a pid: neither `<0.N.0>` nor a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsePidError(pub(crate) ());

impl fmt::Display for ParsePidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a pid: expected <0.N.0> or a number")
    }
}

impl std::error::Error for ParsePidError {}
