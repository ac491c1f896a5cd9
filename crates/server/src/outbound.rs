//! From `[outbound]` in the configuration to the queue workers' settings.
//! Files named there (the relay password, extra trust anchors) are read
//! once, at start: a missing file stops the start with its path. So do
//! the DKIM keys under `DATA/dkim/`: one that cannot be used stops the
//! start; keys added later are used without a restart.

use std::path::Path;
use std::sync::Arc;

use postern_config::{Config, OutboundTls, RelayTls};
use postern_outbound::dkim::Signer;
use postern_outbound::{Relay, Settings, TlsRequirement};
use postern_types::Secret;

use crate::StartError;

/// The workers' settings for this configuration.
pub fn settings(config: &Config) -> Result<Settings, StartError> {
    let o = &config.outbound;
    let mut s = Settings::new(config.hostname.clone());
    s.relay = o.relay.as_ref().map(relay).transpose()?;
    s.routes = o
        .routes
        .iter()
        .map(|r| (r.domain.clone(), (r.host.clone(), r.port)))
        .collect();
    s.resolver = o.resolver;
    s.retry_for = o.retry_for;
    s.per_domain_concurrency = o.concurrency_per_domain;
    s.policies = o
        .tls
        .iter()
        .map(|(domain, t)| (domain.clone(), requirement(*t)))
        .collect();
    if let Some(ca) = &o.ca_file {
        s.extra_roots = roots(ca)?;
    }
    s.dane = o.dane;
    s.mta_sts = o.mta_sts;
    s.dkim = Some(dkim(&config.data_dir.join(DKIM_DIR))?);
    Ok(s)
}

/// Where `postern dkim generate` puts the keys, inside the data directory.
pub const DKIM_DIR: &str = "dkim";

/// The DKIM signer over the key directory (present even with no key yet,
/// so that the first key generated is used without a restart).
fn dkim(dir: &Path) -> Result<Arc<Signer>, StartError> {
    let signer = Signer::open(dir).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        StartError::Outbound {
            message: format!("DKIM keys: {}", text.join("; ")),
        }
    })?;
    for (domain, keys) in signer.summary() {
        tracing::info!(domain, keys, "DKIM signing outgoing mail");
    }
    Ok(Arc::new(signer))
}

const fn requirement(t: OutboundTls) -> TlsRequirement {
    match t {
        OutboundTls::RequireVerified => TlsRequirement::RequireVerified,
        OutboundTls::RequireTls => TlsRequirement::RequireTls,
        OutboundTls::Opportunistic => TlsRequirement::Opportunistic,
    }
}

fn relay(r: &postern_config::RelayConfig) -> Result<Relay, StartError> {
    let auth = match (&r.username, &r.password_file) {
        (Some(user), Some(file)) => Some((user.clone(), Secret::new(password(file)?))),
        _ => None,
    };
    Ok(Relay {
        host: r.host.clone(),
        port: r.port,
        tls: match r.tls {
            RelayTls::StartTls => postern_outbound::RelayTls::StartTls,
            RelayTls::Implicit => postern_outbound::RelayTls::Implicit,
        },
        auth,
    })
}

/// The first line of the password file (a trailing newline is not part of
/// the password).
fn password(path: &Path) -> Result<String, StartError> {
    let text = std::fs::read_to_string(path).map_err(|e| StartError::Outbound {
        message: format!(
            "cannot read outbound.relay_password_file {}: {e}",
            path.display()
        ),
    })?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

fn roots(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, StartError> {
    let outbound = |message: String| StartError::Outbound { message };
    let pem = std::fs::read(path).map_err(|e| {
        outbound(format!(
            "cannot read outbound.ca_file {}: {e}",
            path.display()
        ))
    })?;
    postern_tls::load::parse_certificates_pem(&path.display().to_string(), &pem)
        .map_err(|e| outbound(format!("outbound.ca_file: {e}")))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use postern_config::template::{render, InitParams};
    use postern_config::Config;

    /// A data directory of its own (removed on drop) with the init template.
    struct Data(PathBuf);

    impl Drop for Data {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn data(name: &str) -> (Data, Config) {
        let dir = std::env::temp_dir().join(format!("postern-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let text = render(&InitParams {
            hostname: "mail.example.org".into(),
            domain: "example.org".into(),
            dev_ports: true,
            cert_file: "certs/main.crt.pem".into(),
            key_file: "certs/main.key.pem".into(),
            store_url: None,
        });
        let config = Config::parse(&dir.join("postern.toml"), &text).unwrap();
        (Data(dir), config)
    }

    #[test]
    fn outbound_mail_is_signed_with_the_keys_of_the_data_directory() {
        let (d, config) = data("dkim-ok");
        let key =
            postern_outbound::dkim::keys::generate(postern_outbound::dkim::Algorithm::Ed25519)
                .unwrap();
        let keys = d.0.join(super::DKIM_DIR);
        postern_outbound::dkim::keys::write_key(&keys, "example.org", "s", &key, false).unwrap();
        let signer = super::settings(&config).unwrap().dkim.unwrap();
        let signed = signer.sign(b"From: a@example.org\r\n\r\nhi\r\n");
        assert!(String::from_utf8(signed).unwrap().contains("s=s;"));
    }

    #[test]
    fn a_broken_dkim_key_stops_the_start_naming_it() {
        let (d, config) = data("dkim-broken");
        let dir = d.0.join(super::DKIM_DIR).join("example.org");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("s.ed25519.pem"), "garbage").unwrap();
        let err = super::settings(&config).unwrap_err().to_string();
        assert!(err.contains("s.ed25519.pem"), "{err}");
    }
}
