//! The acceptor pool: the acceptors supervisor of a listener, `one_for_one` over its N
//! acceptor processes (ranch's `ranch_acceptors_sup`): restart intensity `1 + ceil(log2 N)`
//! in 5 s unless configured, acceptors killed brutally on shutdown (an acceptor holds nothing
//! but its place in `accept`).

use std::sync::Arc;

use super::acceptor;
use super::shared::{ConnectionFn, Shared};
use crate::process::mailbox::Ctx;
use crate::supervisor::{ChildSpec, Shutdown, Strategy, SupervisorSpec};

/// The acceptors supervisor's spec for `n` acceptors sharing `shared`.
pub(crate) fn spec<M, H>(shared: &Arc<Shared<H>>, n: usize) -> SupervisorSpec
where
    M: Send + 'static,
    H: ConnectionFn<M>,
{
    let intensity = shared
        .config
        .acceptor_intensity
        .unwrap_or(1 + (usize::BITS - (n.max(1) - 1).leading_zeros()));
    let mut acceptors = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(intensity, shared.config.acceptor_period);
    for i in 0..n {
        let shared = shared.clone();
        acceptors = acceptors.child(
            ChildSpec::worker(format!("acceptor-{i}"), move |ctx: Ctx<()>| {
                acceptor::run(ctx, shared.clone())
            })
            .shutdown(Shutdown::BrutalKill),
        );
    }
    acceptors
}
