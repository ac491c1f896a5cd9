//! What a finished handshake tells the session.

use postern_types::{ClientIdentity, TlsInfo};
use rustls::ServerConnection;

use crate::inspect::CertSummary;

/// Facts about a finished server handshake.
pub fn tls_info(conn: &ServerConnection) -> TlsInfo {
    TlsInfo {
        version: match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            other => format!("{other:?}"),
        },
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| crate::policy::suite_name(&s))
            .unwrap_or_default(),
        server_name: conn.server_name().map(str::to_owned),
        client: conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| CertSummary::from_der(leaf).ok())
            .map(|s| ClientIdentity {
                subject: s.subject,
                emails: s.emails,
            }),
    }
}

/// The negotiated key-exchange group, for metrics ("X25519MLKEM768").
pub fn kx_group(conn: &ServerConnection) -> String {
    conn.negotiated_key_exchange_group()
        .map(|g| format!("{:?}", g.name()))
        .unwrap_or_else(|| "-".to_owned())
}
