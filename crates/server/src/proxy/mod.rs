//! Proxy listeners: TLS terminated here, the protocol relayed to an
//! upstream server. (To be written.)

use std::sync::Arc;

use postern_config::ProxyConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::listener::ListenerCtx;

/// Accepts connections until `cancel` fires and relays each upstream.
pub async fn accept_loop(
    socket: TcpListener,
    proxy: ProxyConfig,
    ctx: Arc<ListenerCtx>,
    hostname: String,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    let _ = (socket, proxy, ctx, hostname, tracker);
    cancel.cancelled().await;
}
