//! `postern serve`: run until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use postern_config::Config;
use postern_server::Server;

use crate::paths::Location;

pub fn run(loc: &Location) -> anyhow::Result<ExitCode> {
    let config = loc.load()?;
    crate::logging::init(&config.log);
    serve(config)
}

/// Starts the server and blocks until it is told to stop.
pub fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = Server::start(config)
            .await
            .map_err(|e| anyhow::anyhow!("not starting: {e}"))?;
        stop_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGTERM (systemd, kill) or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
