//! Why a process ended: [`ExitReason`], Erlang's exit reasons as Rust data.
//!
//! | reason | Erlang | a failure? | kills a linked, non-trapping process? |
//! |---|---|---|---|
//! | [`Normal`](ExitReason::Normal) | `normal` | no | no |
//! | [`Shutdown`](ExitReason::Shutdown) | `shutdown`, `{shutdown, T}` | no | yes |
//! | [`Killed`](ExitReason::Killed) | `killed` | yes | yes |
//! | [`Panic`](ExitReason::Panic) | `{Reason, Stack}` of a crash | yes | yes |
//! | [`Error`](ExitReason::Error) | any other term | yes | yes |
//! | [`NoProc`](ExitReason::NoProc) | `noproc` | yes | yes |
//!
//! "A failure" decides two things, exactly as in OTP: whether a `transient` child is restarted
//! (see [`Restart`](crate::Restart)) and whether the exit is logged at `error` level.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

/// The reason a process exited, as carried by exit signals, `Down` messages and
/// [`ProcessHandle::wait`](crate::ProcessHandle::wait).
///
/// Supervisors match on it; it is data, not an error type.
///
/// # Examples
///
/// ```
/// use rusm_otp::ExitReason;
///
/// assert!(ExitReason::Normal.is_normal());
/// assert!(ExitReason::shutdown_with("draining").is_normal());
/// assert!(!ExitReason::Killed.is_normal());
/// assert_eq!(ExitReason::error("disk full").to_string(), "error: disk full");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// The process body returned: Erlang's `normal`.
    Normal,
    /// An orderly stop, optionally with a payload: Erlang's `shutdown` and `{shutdown, T}`.
    Shutdown(Option<Arc<str>>),
    /// Stopped by an untrappable kill: Erlang's `killed`.
    Killed,
    /// The process body panicked; the panic message.
    Panic(Arc<str>),
    /// The process body returned an error, or a fault ended it.
    Error(ExitError),
    /// The process did not exist when it was linked or monitored: Erlang's `noproc`.
    NoProc,
}

impl ExitReason {
    /// `Shutdown` with a payload, Erlang's `{shutdown, T}`.
    pub fn shutdown_with(payload: impl Into<Arc<str>>) -> Self {
        ExitReason::Shutdown(Some(payload.into()))
    }

    /// `Error` from any error value; the value stays reachable through [`ExitError::source_error`].
    pub fn error<E>(error: E) -> Self
    where
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        ExitReason::Error(ExitError::new(error))
    }

    /// Whether this is a clean stop: `Normal`, `Shutdown` or `Shutdown(payload)`.
    ///
    /// OTP treats exactly these as "not a failure": a `transient` child that exits with one of
    /// them is not restarted, and no crash report is written.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown(_))
    }

    /// The `io::ErrorKind` of an `Error` reason built from an `io::Error`.
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ExitReason::Error(e) => e.io_kind(),
            _ => None,
        }
    }

    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        let msg: Arc<str> = if let Some(s) = payload.downcast_ref::<&'static str>() {
            Arc::from(*s)
        } else if let Some(s) = payload.downcast_ref::<String>() {
            Arc::from(s.as_str())
        } else {
            Arc::from("non-string panic payload")
        };
        ExitReason::Panic(msg)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown(None) => f.write_str("shutdown"),
            ExitReason::Shutdown(Some(p)) => write!(f, "shutdown: {p}"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Panic(m) => write!(f, "panic: {m}"),
            ExitReason::Error(e) => write!(f, "error: {e}"),
            ExitReason::NoProc => f.write_str("noproc"),
        }
    }
}

/// How many processes of a runtime have exited, by the class of their reason
/// ([`Runtime::exit_counts`](crate::Runtime::exit_counts)).
///
/// | field | reasons |
/// |---|---|
/// | `normal` | [`Normal`](ExitReason::Normal) |
/// | `shutdown` | [`Shutdown`](ExitReason::Shutdown), with or without a payload |
/// | `killed` | [`Killed`](ExitReason::Killed) |
/// | `error` | [`Error`](ExitReason::Error) and [`NoProc`](ExitReason::NoProc) |
/// | `panic` | [`Panic`](ExitReason::Panic) |
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitCounts {
    /// Bodies that returned.
    pub normal: u64,
    /// Orderly stops.
    pub shutdown: u64,
    /// Kills.
    pub killed: u64,
    /// Errors (and `noproc`).
    pub error: u64,
    /// Panics.
    pub panic: u64,
}

impl ExitCounts {
    /// The classes in [`ExitCounts`]' order, as its fields are named.
    pub const CLASSES: [&'static str; 5] = ["normal", "shutdown", "killed", "error", "panic"];

    /// The counts in the order of [`CLASSES`](Self::CLASSES).
    pub fn by_class(&self) -> [u64; 5] {
        [
            self.normal,
            self.shutdown,
            self.killed,
            self.error,
            self.panic,
        ]
    }
}

impl ExitReason {
    /// Its index in [`ExitCounts::CLASSES`].
    pub(crate) fn class_index(&self) -> usize {
        match self {
            ExitReason::Normal => 0,
            ExitReason::Shutdown(_) => 1,
            ExitReason::Killed => 2,
            ExitReason::Error(_) | ExitReason::NoProc => 3,
            ExitReason::Panic(_) => 4,
        }
    }
}

/// The error that ended a process, shared cheaply between every process that learns of it.
#[derive(Clone)]
pub struct ExitError {
    inner: Arc<dyn StdError + Send + Sync>,
}

impl ExitError {
    fn new<E: Into<Box<dyn StdError + Send + Sync>>>(error: E) -> Self {
        ExitError {
            inner: Arc::from(error.into()),
        }
    }

    /// The original error value.
    pub fn source_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }

    /// The kind, when the error is an `io::Error`.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.inner.downcast_ref::<io::Error>().map(io::Error::kind)
    }
}

impl fmt::Debug for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.inner, f)
    }
}

/// Two errors are equal when they print the same: exit reasons are compared by what they say.
impl PartialEq for ExitError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.to_string() == other.to_string()
    }
}

impl Eq for ExitError {}

/// What a process body may return; it becomes the process's [`ExitReason`].
///
/// `()` is `Normal`; `Ok(_)` is `Normal`; `Err(e)` is `Error(e)`; an `ExitReason` is itself.
pub trait IntoExitReason {
    /// Converts the body's output into the exit reason.
    fn into_exit_reason(self) -> ExitReason;
}

impl IntoExitReason for () {
    fn into_exit_reason(self) -> ExitReason {
        ExitReason::Normal
    }
}

impl IntoExitReason for ExitReason {
    fn into_exit_reason(self) -> ExitReason {
        self
    }
}

impl<T, E> IntoExitReason for Result<T, E>
where
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    fn into_exit_reason(self) -> ExitReason {
        match self {
            Ok(_) => ExitReason::Normal,
            Err(e) => ExitReason::error(e),
        }
    }
}
