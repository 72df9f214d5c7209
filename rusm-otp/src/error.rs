//! Error types, one per operation family.

use std::fmt;

use crate::exit::ExitReason;
use crate::pid::Pid;

/// A message could not be delivered because the process has exited; the message is returned.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<M>(pub M);

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("send to a process that has exited")
    }
}

impl<M> std::error::Error for SendError<M> {}

/// Linking failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// The process is not alive (Erlang's `noproc`).
    NoProc(Pid),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::NoProc(pid) => write!(f, "cannot link to {pid}: no such process"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Registering a name failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// Another live process has the name.
    Taken {
        /// The name.
        name: String,
        /// Its owner.
        pid: Pid,
    },
    /// The process already has a (different) name; unregister it first.
    AlreadyNamed {
        /// The process.
        pid: Pid,
        /// The name it has.
        name: String,
    },
    /// The process is dead.
    NoProc(Pid),
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Taken { name, pid } => {
                write!(f, "name `{name}` is already registered to {pid}")
            }
            RegisterError::AlreadyNamed { pid, name } => {
                write!(
                    f,
                    "{pid} is already registered as `{name}`; unregister it first"
                )
            }
            RegisterError::NoProc(pid) => write!(f, "cannot register {pid}: no such process"),
        }
    }
}

impl std::error::Error for RegisterError {}

/// A call ([`Addr::call`](crate::Addr::call), [`ServerRef::call`](crate::ServerRef::call)) did
/// not get its reply.
///
/// `Req` is the request type of a typed server call, given back when it could not be sent;
/// `()` for [`Addr::call`](crate::Addr::call).
#[derive(Clone, PartialEq, Eq)]
pub enum CallError<Req = ()> {
    /// No reply within the timeout; the callee is left running (`gen_server:call` timeout).
    Timeout,
    /// The callee was not alive when the request was sent; the request, unsent.
    NoProc(Pid, Req),
    /// The callee exited before replying; its reason.
    Exited(Pid, ExitReason),
    /// A process called itself, which could only time out (`calling_self`).
    CallingSelf(Pid),
}

impl<Req> CallError<Req> {
    /// The request, when it was not sent ([`NoProc`](Self::NoProc)).
    pub fn into_request(self) -> Option<Req> {
        match self {
            CallError::NoProc(_, req) => Some(req),
            _ => None,
        }
    }

    /// The same error without the request, e.g. to return it from a function that returns
    /// errors of several calls.
    pub fn without_request(self) -> CallError {
        match self {
            CallError::Timeout => CallError::Timeout,
            CallError::NoProc(pid, _) => CallError::NoProc(pid, ()),
            CallError::Exited(pid, r) => CallError::Exited(pid, r),
            CallError::CallingSelf(pid) => CallError::CallingSelf(pid),
        }
    }
}

impl<Req> fmt::Debug for CallError<Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout => f.write_str("Timeout"),
            CallError::NoProc(pid, _) => write!(f, "NoProc({pid:?}, ..)"),
            CallError::Exited(pid, r) => f.debug_tuple("Exited").field(pid).field(r).finish(),
            CallError::CallingSelf(pid) => f.debug_tuple("CallingSelf").field(pid).finish(),
        }
    }
}

impl<Req> fmt::Display for CallError<Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout => f.write_str("call timed out"),
            CallError::NoProc(pid, _) => write!(f, "call to {pid}: no such process"),
            CallError::Exited(pid, r) => write!(f, "{pid} exited before replying: {r}"),
            CallError::CallingSelf(pid) => write!(f, "{pid} called itself"),
        }
    }
}

impl<Req> std::error::Error for CallError<Req> {}

/// Starting a child or a supervisor failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The start function failed with this reason.
    Failed(ExitReason),
    /// A supervisor could not start one of its children; the children started before it were
    /// stopped again (`{shutdown, {failed_to_start_child, Id, Reason}}`).
    FailedToStartChild {
        /// The child's id.
        id: String,
        /// Why its start failed.
        reason: Box<StartError>,
    },
    /// The child's name is registered to another process.
    Register(RegisterError),
    /// The supervisor or child spec is invalid; the text says what to change.
    InvalidSpec(String),
    /// The supervisor exited before it finished starting.
    Exited(ExitReason),
    /// The server's `init` chose not to start (OTP's `ignore`); nothing runs.
    Ignored,
}

impl StartError {
    /// A start failure with an error value as its reason.
    pub fn failed<E>(error: E) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        StartError::Failed(ExitReason::error(error))
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Failed(r) => write!(f, "start failed: {r}"),
            StartError::FailedToStartChild { id, reason } => {
                write!(f, "failed to start child `{id}`: {reason}")
            }
            StartError::Register(e) => e.fmt(f),
            StartError::InvalidSpec(s) => write!(f, "invalid spec: {s}"),
            StartError::Exited(r) => write!(f, "exited while starting: {r}"),
            StartError::Ignored => f.write_str("init chose not to start (ignore)"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::FailedToStartChild { reason, .. } => Some(&**reason),
            StartError::Register(e) => Some(e),
            _ => None,
        }
    }
}

/// A supervisor request failed (the `{error, _}` returns of OTP's child-management API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorError {
    /// A running child already has this id (`{already_started, Pid}`).
    AlreadyStarted(Pid),
    /// A stopped child already has this id (`already_present`).
    AlreadyPresent,
    /// No child has this id or pid (`not_found`).
    NotFound,
    /// The child is running; terminate it first (`running`).
    Running,
    /// The child is being restarted (`restarting`).
    Restarting,
    /// The operation needs a child id, but this is a dynamic supervisor, whose children are
    /// addressed by pid (`simple_one_for_one`).
    Dynamic,
    /// The child's start failed; its spec was not kept.
    Start(StartError),
    /// The dynamic supervisor has `max_children` children already.
    MaxChildren,
    /// The supervisor is not alive (`noproc`).
    NoProc(Pid),
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::AlreadyStarted(pid) => write!(f, "child already started as {pid}"),
            SupervisorError::AlreadyPresent => {
                f.write_str("a stopped child has this id; restart or delete it")
            }
            SupervisorError::NotFound => f.write_str("no such child"),
            SupervisorError::Running => f.write_str("child is running; terminate it first"),
            SupervisorError::Restarting => f.write_str("child is being restarted"),
            SupervisorError::Dynamic => {
                f.write_str("dynamic supervisor children are addressed by pid, not id")
            }
            SupervisorError::Start(e) => e.fmt(f),
            SupervisorError::MaxChildren => f.write_str("supervisor has max_children children"),
            SupervisorError::NoProc(pid) => write!(f, "supervisor {pid} is not alive"),
        }
    }
}

impl std::error::Error for SupervisorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SupervisorError::Start(e) => Some(e),
            _ => None,
        }
    }
}

/// A connection's handshake failed: its PROXY protocol header or its TLS handshake. The
/// connection's process exits with it (inside an `io::Error` of the kind
/// [`io_kind`](Self::io_kind) gives), and the listener logs it at most once a second.
///
/// # Examples
///
/// ```
/// use rusm_otp::{HandshakeError, HandshakeStage};
/// use std::time::Duration;
///
/// let e = HandshakeError::Timeout { stage: HandshakeStage::Tls, timeout: Duration::from_secs(10) };
/// assert_eq!(e.to_string(), "handshake timeout: tls handshake not done within 10s");
/// assert_eq!(e.io_kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The stage had not finished when the listener's handshake timeout (counted from the
    /// connection's start) ran out.
    Timeout {
        /// The stage the connection was in.
        stage: HandshakeStage,
        /// The listener's handshake timeout.
        timeout: std::time::Duration,
    },
    /// The PROXY protocol header was missing, malformed or truncated (`InvalidData`,
    /// `UnexpectedEof`), or the socket failed while reading it.
    ProxyHeader(std::io::Error),
    /// The TLS handshake failed: not TLS, nothing in common with the client, the client
    /// refused the certificate, or the socket failed.
    Tls(std::io::Error),
}

/// Where a handshake was when it timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeStage {
    /// Waiting for the PROXY protocol header.
    ProxyHeader,
    /// In the TLS handshake.
    Tls,
}

impl HandshakeError {
    /// The `io::ErrorKind` the connection's exit reason carries: `TimedOut` for a timeout,
    /// else the cause's.
    pub fn io_kind(&self) -> std::io::ErrorKind {
        match self {
            HandshakeError::Timeout { .. } => std::io::ErrorKind::TimedOut,
            HandshakeError::ProxyHeader(e) | HandshakeError::Tls(e) => e.kind(),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Timeout {
                stage: HandshakeStage::ProxyHeader,
                timeout,
            } => write!(
                f,
                "handshake timeout: no complete PROXY protocol header within {timeout:?}"
            ),
            HandshakeError::Timeout {
                stage: HandshakeStage::Tls,
                timeout,
            } => write!(
                f,
                "handshake timeout: tls handshake not done within {timeout:?}"
            ),
            HandshakeError::ProxyHeader(e) => write!(f, "proxy protocol: {e}"),
            HandshakeError::Tls(e) => write!(f, "tls handshake failed: {e}"),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandshakeError::Timeout { .. } => None,
            HandshakeError::ProxyHeader(e) | HandshakeError::Tls(e) => Some(e),
        }
    }
}
