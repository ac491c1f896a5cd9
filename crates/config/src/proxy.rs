//! A listener in proxy mode: TLS here, the protocol relayed to an
//! upstream server. (Resolution to be written.)

use postern_types::Service;

use crate::file::ListenerSection;
use crate::resolve::Resolver;

/// What a proxy listener relays to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    pub upstream: String,
}

impl Resolver<'_> {
    /// `None` for an ordinary (`mode = "serve"`) listener.
    pub(crate) fn proxy(
        &mut self,
        key: &str,
        service: Service,
        s: &ListenerSection,
    ) -> Option<ProxyConfig> {
        let _ = (key, service);
        match s.mode.as_deref() {
            Some("proxy") => s.upstream.clone().map(|upstream| ProxyConfig { upstream }),
            _ => None,
        }
    }
}
