//! [`SupervisorSpec`]: a static supervisor's flags (strategy, intensity, auto-shutdown, name)
//! and its children, and the checks OTP's `check_childspecs/2` makes.

use std::sync::Arc;
use std::time::Duration;

use super::spec::{ChildSpec, Restart};
use super::stop_hook::StopHook;
use super::strategy::{AutoShutdown, Strategy, DEFAULT_INTENSITY, DEFAULT_PERIOD};
use crate::error::StartError;

/// A supervisor's flags and its children, in start order.
#[derive(Debug, Clone, Default)]
pub struct SupervisorSpec {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) children: Vec<ChildSpec>,
    pub(crate) name: Option<Arc<str>>,
    /// Crate-internal: runs when the supervisor starts to stop (see [`StopHook`]).
    pub(crate) on_stop: Option<StopHook>,
}

impl SupervisorSpec {
    /// A spec with OTP's defaults: intensity 1, period 5 s, no auto-shutdown, no children.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            intensity: DEFAULT_INTENSITY,
            period: DEFAULT_PERIOD,
            auto_shutdown: AutoShutdown::Never,
            children: Vec::new(),
            name: None,
            on_stop: None,
        }
    }

    /// At most `intensity` restarts within `period` (whole seconds, at least 1), or the
    /// supervisor gives up.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Sets [`AutoShutdown`].
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Appends a child; children start in the order they are added.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Registers the supervisor itself under `name`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub(super) fn validate(&self) -> Result<(), StartError> {
        if self.period.as_secs() == 0 {
            return Err(StartError::InvalidSpec(
                "supervisor period must be at least 1 second".into(),
            ));
        }
        check_childspecs(&self.children, self.auto_shutdown)
    }
}

/// Checks child specs as a supervisor started with them under `auto_shutdown` would, without
/// starting anything (OTP's `check_childspecs/2`; `check_childspecs/1` is
/// `AutoShutdown::Never`): ids unique, and `significant` only on transient or temporary
/// children of a supervisor whose auto-shutdown is not `Never`. The rest of what OTP checks
/// (the types of `restart`, `shutdown`, `type`, `modules`) the Rust types already ensure.
///
/// # Errors
///
/// [`StartError::InvalidSpec`] saying what is wrong with the first bad spec.
///
/// # Examples
///
/// ```
/// use rusm_otp::supervisor::check_childspecs;
/// use rusm_otp::{AutoShutdown, ChildSpec, Ctx};
///
/// let w = |id: &str| ChildSpec::worker(id, |mut ctx: Ctx<()>| async move { ctx.recv().await; });
/// assert!(check_childspecs(&[w("a"), w("b")], AutoShutdown::Never).is_ok());
/// assert!(check_childspecs(&[w("a"), w("a")], AutoShutdown::Never).is_err());
/// assert!(check_childspecs(&[w("a").significant(true)], AutoShutdown::AnySignificant).is_err());
/// ```
pub fn check_childspecs(
    specs: &[ChildSpec],
    auto_shutdown: AutoShutdown,
) -> Result<(), StartError> {
    let mut seen = std::collections::HashSet::new();
    for c in specs {
        if !seen.insert(c.id.clone()) {
            return Err(StartError::InvalidSpec(format!(
                "duplicate child id `{}`; give each child its own id",
                c.id
            )));
        }
        validate_child(c, auto_shutdown)?;
    }
    Ok(())
}

pub(crate) fn validate_child(c: &ChildSpec, auto: AutoShutdown) -> Result<(), StartError> {
    if c.significant && c.restart == Restart::Permanent {
        return Err(StartError::InvalidSpec(format!(
            "child `{}` is significant and permanent; make it transient or temporary",
            c.id
        )));
    }
    if c.significant && auto == AutoShutdown::Never {
        return Err(StartError::InvalidSpec(format!(
            "child `{}` is significant but the supervisor's auto_shutdown is never",
            c.id
        )));
    }
    Ok(())
}
