//! The accept loop of one listener: a semaphore before accept (mini-redis),
//! the per-IP limit, one task and one tracing span per connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use postern_config::Listener;
use postern_tls::rustls::ServerConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::conn::{serve, SessionFactory};
use crate::metrics::Metrics;
use crate::per_ip::PerIp;

/// Connection ids, unique in the process, for logs.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What every connection of a listener shares.
#[derive(Debug)]
pub struct ListenerCtx {
    pub listener: Listener,
    /// `None` for plain listeners without STARTTLS.
    pub tls: Option<Arc<ServerConfig>>,
    pub metrics: Arc<Metrics>,
    pub per_ip: PerIp,
}

/// Accepts connections until `cancel` fires.
pub async fn accept_loop<F: SessionFactory>(
    socket: TcpListener,
    factory: Arc<F>,
    ctx: Arc<ListenerCtx>,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(ctx.listener.limits.max_connections));
    loop {
        // Wait for a free slot *before* accepting, so an overloaded server
        // leaves new connections in the kernel's backlog instead of taking
        // them and failing them.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            () = cancel.cancelled() => return,
        };
        let (tcp, peer) = tokio::select! {
            r = socket.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::error!(listener = %ctx.listener.name, error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = cancel.cancelled() => return,
        };
        // Replies are whole lines the client waits for: send them at once.
        // Without this, Nagle holds a greeting behind the TLS session
        // tickets until the client's delayed ACK, some 40 ms per session.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let Some(slot) = ctx
            .per_ip
            .try_acquire(peer.ip(), ctx.listener.limits.max_connections_per_ip)
        else {
            refuse_busy(tcp, peer, &factory, &ctx, &tracker);
            continue;
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("conn", id, %peer, listener = %ctx.listener.name, proto = %ctx.listener.service);
        let (factory, ctx, cancel) = (factory.clone(), ctx.clone(), cancel.clone());
        tracker.spawn(
            async move {
                tracing::info!("connected");
                ctx.metrics.opened(&ctx.listener.name);
                let result = serve(tcp, peer, factory, ctx.clone(), cancel).await;
                ctx.metrics.closed(&ctx.listener.name);
                match result {
                    Ok(()) => tracing::info!("closed"),
                    Err(e) => tracing::info!(error = %e, "closed"),
                }
                drop((permit, slot));
            }
            .instrument(span),
        );
    }
}

/// Too many connections from one address: say so (on plain listeners, where
/// the client can read it) and close.
fn refuse_busy<F: SessionFactory>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    factory: &Arc<F>,
    ctx: &Arc<ListenerCtx>,
    tracker: &TaskTracker,
) {
    tracing::warn!(%peer, listener = %ctx.listener.name, "too many connections from this address; refused");
    ctx.metrics.refused(&ctx.listener.name, "per_ip_limit");
    let line = (ctx.listener.tls != postern_types::TlsMode::Implicit).then(|| factory.busy_line());
    tracker.spawn(async move {
        if let Some(line) = line {
            let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(line)).await;
        }
        let _ = tcp.shutdown().await;
    });
}
