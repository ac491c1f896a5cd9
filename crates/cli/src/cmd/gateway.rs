//! `postern gateway`: TLS in front of a plain-text mail server, in one
//! command. One proxy listener, this installation's certificates and TLS
//! policy, no mail store. The same relay as a `mode = "proxy"` listener
//! (docs/proxy.md).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use postern_config::proxy::{ClientAddress, Upstream, UpstreamTls};
use postern_config::{ClientAuth, Config, Listener, ProxyConfig};
use postern_server::listener::ListenerCtx;
use postern_tls::{CertStore, Certificates};
use postern_types::{Service, TlsMode};
use tokio::net::TcpListener;

use crate::paths::Location;

/// `postern gateway ...`
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// The protocol to relay.
    #[arg(long, value_enum)]
    pub protocol: Protocol,
    /// The address to listen on, e.g. 0.0.0.0:993.
    #[arg(long)]
    pub listen: SocketAddr,
    /// TLS towards clients: from the first byte, or after STARTTLS/STLS.
    #[arg(long, value_enum)]
    pub tls: ClientTls,
    /// The back end, HOST:PORT.
    #[arg(long)]
    pub upstream: String,
    /// How to reach the back end.
    #[arg(long, value_enum, default_value = "none")]
    pub upstream_tls: BackendTls,
    /// Verify the back end against this CA bundle (PEM) instead of the
    /// system's roots.
    #[arg(long)]
    pub upstream_ca: Option<std::path::PathBuf>,
    /// The name the back end's certificate must carry (default: its host).
    #[arg(long)]
    pub upstream_name: Option<String>,
    /// Accept exactly this back-end certificate: sha256/BASE64 of its DER.
    #[arg(long)]
    pub upstream_pin: Option<String>,
    /// How the back end learns the client's address.
    #[arg(long, value_enum, default_value = "none")]
    pub client_address: ClientAddressArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Protocol {
    Imap,
    Pop3,
    Smtp,
    Submission,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ClientTls {
    Implicit,
    Starttls,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BackendTls {
    None,
    Starttls,
    Implicit,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ClientAddressArg {
    None,
    #[value(name = "proxy-v2")]
    ProxyV2,
    Xclient,
    Id,
}

pub fn run(loc: &Location, args: &GatewayArgs) -> anyhow::Result<ExitCode> {
    let config = load(loc)?;
    crate::logging::init(&config.log);
    let listener = listener(&config, args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(gateway(config, listener))
}

/// The configuration, for its certificates, TLS policy, host name and
/// logging; with a hint when there is none.
fn load(loc: &Location) -> anyhow::Result<Config> {
    let config = loc.load()?;
    if config.certificates.is_empty() {
        anyhow::bail!(
            "{}: no [[certificate]] configured, and the gateway needs one for TLS; add a [[certificate]] section (name = \"main\", cert = \"certs/main.crt.pem\", key = \"certs/main.key.pem\", default = true) and run `postern --data-dir {} cert self-signed --name HOST`, or `postern init` a new data directory",
            config.path.display(),
            loc.data_dir.display()
        );
    }
    Ok(config)
}

/// The one proxy listener the arguments describe.
fn listener(config: &Config, a: &GatewayArgs) -> anyhow::Result<Listener> {
    let service = match a.protocol {
        Protocol::Imap => Service::Imap,
        Protocol::Pop3 => Service::Pop3,
        Protocol::Smtp => Service::Smtp,
        Protocol::Submission => Service::Submission,
    };
    let tls = match a.tls {
        ClientTls::Implicit => TlsMode::Implicit,
        ClientTls::Starttls => TlsMode::StartTls,
    };
    Ok(Listener {
        name: "gateway".to_owned(),
        service,
        bind: vec![a.listen],
        tls,
        certificates: config.certificates.iter().map(|c| c.name.clone()).collect(),
        client_auth: ClientAuth::None,
        limits: postern_config::defaults::limits(service),
        enabled: true,
        redirect_https_port: None,
        proxy: Some(proxy(service, a)?),
    })
}

fn proxy(service: Service, a: &GatewayArgs) -> anyhow::Result<ProxyConfig> {
    let upstream = Upstream::parse(&a.upstream)
        .map_err(|e| anyhow::anyhow!("--upstream {}: {e}", a.upstream))?;
    let mut p = ProxyConfig::new(upstream);
    p.upstream_tls = match a.upstream_tls {
        BackendTls::None => UpstreamTls::None,
        BackendTls::Starttls => UpstreamTls::StartTls,
        BackendTls::Implicit => UpstreamTls::Implicit,
    };
    let verification =
        a.upstream_ca.is_some() || a.upstream_name.is_some() || a.upstream_pin.is_some();
    if p.upstream_tls == UpstreamTls::None && verification {
        anyhow::bail!("--upstream-ca, --upstream-name and --upstream-pin need TLS to the back end: add --upstream-tls implicit or starttls");
    }
    if a.upstream_ca.is_some() && a.upstream_pin.is_some() {
        anyhow::bail!("a pinned certificate is accepted without any CA: give --upstream-ca or --upstream-pin, not both");
    }
    p.upstream_ca.clone_from(&a.upstream_ca);
    p.upstream_name.clone_from(&a.upstream_name);
    if let Some(pin) = &a.upstream_pin {
        let b64 = pin.strip_prefix("sha256/").with_context(|| {
            format!("--upstream-pin {pin}: expected sha256/ and the base64 SHA-256 of the back end's certificate (DER)")
        })?;
        p.upstream_pin = Some(b64.to_owned());
    }
    p.client_address = client_address(service, a.client_address)?;
    Ok(p)
}

fn client_address(service: Service, a: ClientAddressArg) -> anyhow::Result<ClientAddress> {
    let smtp = matches!(service, Service::Smtp | Service::Submission);
    Ok(match a {
        ClientAddressArg::None => ClientAddress::None,
        ClientAddressArg::ProxyV2 => ClientAddress::ProxyV2,
        ClientAddressArg::Xclient if smtp => ClientAddress::Xclient,
        ClientAddressArg::Id if service == Service::Imap => ClientAddress::Id,
        ClientAddressArg::Xclient => {
            anyhow::bail!("--client-address xclient is an SMTP command; use proxy-v2")
        }
        ClientAddressArg::Id => {
            anyhow::bail!("--client-address id is an IMAP command; use proxy-v2")
        }
    })
}

/// Loads the certificates, binds, relays until SIGTERM or Ctrl-C.
async fn gateway(config: Config, listener: Listener) -> anyhow::Result<ExitCode> {
    let now = time::OffsetDateTime::now_utc();
    let store = CertStore::load(&config.certificates, now).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("not starting: {}", text.join("\n"))
    })?;
    let certs = Certificates::new(store);
    let (tls, _) = postern_tls::server_config(&config.tls, &listener, certs.shared())
        .map_err(|e| anyhow::anyhow!("not starting: {e}"))?;
    let proxy = listener
        .proxy
        .clone()
        .context("a gateway listener proxies")?;
    postern_server::proxy::check(&proxy).map_err(|e| anyhow::anyhow!("not starting: {e}"))?;
    let addr = listener.bind[0];
    let socket = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}; is the port taken, or below 1024 without the right to bind it?")
    })?;
    let proxy = listener
        .proxy
        .clone()
        .context("a gateway listener proxies")?;
    tracing::info!(addr = %socket.local_addr()?, protocol = %listener.service, tls = %listener.tls, upstream = %proxy.upstream, "gateway listening");
    let ctx = Arc::new(ListenerCtx {
        listener,
        tls: Some(tls),
        metrics: Arc::default(),
        per_ip: Default::default(),
    });
    let hostname = config.hostname.clone();
    let grace = config.shutdown_grace;
    postern_server::proxy::run_until(socket, proxy, ctx, hostname, stop_signal(), grace).await;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (systemd, kill) or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
