//! [`Shared`]: what a listener's acceptors and connection processes share.

use std::sync::Arc;

use super::config::ListenerConfig;
use super::handshake;
use super::listener::Control;

/// What the acceptors of one listener share: its control block, the handler, the options,
/// and the handshake its connections run first (`None`: plain TCP, straight to the handler).
pub(crate) struct Shared<H> {
    pub(crate) control: Arc<Control>,
    pub(crate) handler: H,
    pub(crate) config: ListenerConfig,
    pub(crate) handshake: Option<handshake::Handshake>,
}
