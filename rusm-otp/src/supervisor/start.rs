//! Starting a static supervisor: as a root of the tree ([`Runtime::start_supervisor`]) or as
//! a child ([`ChildSpec::supervisor`]); the start returns once every child has started, or
//! with the error of the first that did not (OTP's `start_link/2`).

use std::sync::Arc;

use super::handle::{SupMsg, SupervisorRef};
use super::skeleton;
use super::spec::{ChildSpec, ChildType, Started, Starter};
use super::static_loop::supervisor_main;
use super::supervisor_spec::SupervisorSpec;
use crate::error::StartError;
use crate::process::cell::Cell;
use crate::process::mailbox::Ctx;
use crate::runtime::{Inner, Runtime};

impl Runtime {
    /// Starts a supervisor that has no parent: a root of the supervision tree.
    ///
    /// # Errors
    ///
    /// [`StartError::FailedToStartChild`] when a child fails to start (those already started
    /// are stopped again), [`StartError::InvalidSpec`] for an invalid spec.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel safe: the supervisor process is spawned at the first poll and
    /// starts its children whether or not the future is still there. Dropping the future
    /// before it returns leaves the supervisor running without a handle; it is recorded as a
    /// root only when the start returns, so it is missing from [`Runtime::tree`] (and
    /// [`Runtime::supervisor`]), and the runtime's shutdown kills it with the processes left
    /// rather than stopping it in order. A named one is still found by [`Runtime::whereis`].
    pub async fn start_supervisor(
        &self,
        spec: SupervisorSpec,
    ) -> Result<SupervisorRef, StartError> {
        start_supervisor(&self.inner, None, spec).await
    }
}

impl ChildSpec {
    /// A child that is itself a supervisor (shutdown `infinity`, as OTP's default for
    /// supervisors).
    pub fn supervisor(id: impl Into<Arc<str>>, spec: SupervisorSpec) -> Self {
        ChildSpec::from_start(id, ChildType::Supervisor, move |starter: Starter| {
            let mut spec = spec.clone();
            if starter.name.is_some() {
                spec.name = starter.name.clone();
            }
            async move {
                start_supervisor(&starter.rt, Some(starter.parent.clone()), spec)
                    .await
                    .map(Started::from)
            }
        })
    }
}

pub(crate) async fn start_supervisor(
    rt: &Arc<Inner>,
    parent: Option<Arc<Cell>>,
    spec: SupervisorSpec,
) -> Result<SupervisorRef, StartError> {
    spec.validate()?;
    let name = spec.name.clone();
    let (addr, shared) =
        skeleton::start(rt, parent, name, move |ctx: Ctx<SupMsg>, parent, init| {
            supervisor_main(ctx, spec, parent, init)
        })
        .await?;
    Ok(SupervisorRef { addr, shared })
}
