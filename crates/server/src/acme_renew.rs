//! Automatic ACME renewal of the `[[acme]]` certificates. (To be written.)

use std::sync::Arc;

use postern_config::Config;
use postern_tls::Certificates;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Starts the renewal task (nothing when no `[[acme]]` is configured).
pub fn spawn(
    config: Arc<Config>,
    certificates: Certificates,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    let _ = (config, certificates, cancel, tracker);
}
