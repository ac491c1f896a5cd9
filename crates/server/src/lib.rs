//! Postern's tokio side: listeners, the one connection driver, STARTTLS, shutdown, metrics.
