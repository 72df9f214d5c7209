//! Process panics as crash reports: one `tracing` event per panicking process, instead of
//! the default hook's message (and, with `RUST_BACKTRACE=1`, a backtrace) on stderr.
//!
//! A panic in a process already ends only that process, and its exit is logged
//! (`process exited abnormally`, or `connection crashed` with the peer and the listener).
//! What the default panic hook adds is a second report, unstructured and — with
//! `RUST_BACKTRACE=1` — dozens of lines long: 5,000 panicking connections make hundreds of
//! thousands of stderr lines. OTP writes one crash report per crashed process; so does RUSM
//! once [`report_process_panics`] is called.
//!
//! The hook is global, so RUSM never installs it behind your back: call it once at start-up
//! (the examples do). Panics outside processes (in `main`, in plain threads or tasks) still go
//! to the hook that was installed before.

use std::cell::RefCell;

use crate::pid::Pid;
use crate::process::current::current_pid;

thread_local! {
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs a panic hook that, for a panic in a RUSM process, only records where it happened
/// (`file:line:column`, reported as `at` in the process's exit event) and prints nothing; any
/// other panic goes to the hook installed before.
///
/// # Examples
///
/// ```
/// use rusm_otp::{Runtime, ExitReason};
///
/// rusm_otp::report_process_panics();
/// let rt = Runtime::new().unwrap();
/// rt.block_on(async {
///     let p = rt.spawn(|_ctx: rusm_otp::Ctx| async {
///         if "frame".len() > 3 {
///             panic!("bad frame");
///         }
///     });
///     // One `process exited abnormally` event with `at=…`; nothing from the default hook.
///     assert_eq!(p.wait().await, ExitReason::Panic("bad frame".into()));
/// });
/// ```
pub fn report_process_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if current_pid() == Pid::EXTERNAL {
            return previous(info);
        }
        let at = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        PANIC_AT.with(|p| *p.borrow_mut() = at);
    }));
}

/// Where the last process panic on this thread happened, if the hook recorded it; taken.
pub(crate) fn take_location() -> Option<String> {
    PANIC_AT.with(|p| p.borrow_mut().take())
}

/// Puts a location taken earlier back, for the exit event of the same process.
pub(crate) fn restore_location(at: Option<String>) {
    if at.is_some() {
        PANIC_AT.with(|p| *p.borrow_mut() = at);
    }
}
