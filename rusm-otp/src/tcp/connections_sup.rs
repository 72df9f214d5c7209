//! The connections supervisor: the dynamic supervisor of a listener's connection processes,
//! one temporary child per connection (ranch's `ranch_conns_sup`), started before the
//! acceptors. Max connections is counted in the listener's control block (its slots), which
//! every connection process holds one of until it ends.

use std::sync::Arc;

use super::shared::Shared;
use crate::lock::Unpoisoned;
use crate::supervisor::{
    start_dynamic, ChildSpec, ChildType, DynamicSupervisorSpec, Shutdown, Started, Starter,
};

/// The connections supervisor's child spec; once started, the acceptors find it through the
/// control block.
pub(crate) fn spec<H: Send + Sync + 'static>(shared: &Arc<Shared<H>>) -> ChildSpec {
    let shared = shared.clone();
    ChildSpec::from_start("connections", ChildType::Supervisor, move |s: Starter| {
        let shared = shared.clone();
        async move {
            let sup =
                start_dynamic(&s.rt, Some(s.parent.clone()), DynamicSupervisorSpec::new()).await?;
            *shared.control.conns.locked() = Some(sup.clone());
            Ok(Started::from(sup))
        }
    })
    .shutdown(Shutdown::Infinity)
}
