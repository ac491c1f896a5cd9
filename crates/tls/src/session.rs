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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use rustls::server::WebPkiClientVerifier;
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig};

    use super::*;

    fn issue(
        ca: &CertifiedIssuer<'_, KeyPair>,
        p: CertificateParams,
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, ca).unwrap();
        let der = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        (cert.der().clone(), der)
    }

    /// Runs a full handshake in memory and returns the server side.
    fn handshake(client: &mut ClientConnection, server: &mut ServerConnection) {
        for _ in 0..10 {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut buf.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            let mut buf = Vec::new();
            server.write_tls(&mut buf).unwrap();
            client.read_tls(&mut buf.as_slice()).unwrap();
            client.process_new_packets().unwrap();
            if !client.is_handshaking() && !server.is_handshaking() {
                return;
            }
        }
        panic!("handshake did not finish");
    }

    #[test]
    fn the_client_certificate_identity_reaches_the_session() {
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let (server_cert, server_key) = issue(
            &ca,
            CertificateParams::new(vec!["mail.example.test".into()]).unwrap(),
        );
        let mut client_params = CertificateParams::default();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "Alice");
        client_params.subject_alt_names = vec![SanType::Rfc822Name(
            "alice@example.test".try_into().unwrap(),
        )];
        let (client_cert, client_key) = issue(&ca, client_params);

        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let roots = Arc::new(roots);
        let verifier = WebPkiClientVerifier::builder(roots.clone())
            .build()
            .unwrap();
        let server_config = ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert], server_key)
            .unwrap();
        let client_config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![client_cert], client_key)
            .unwrap();
        let name = ServerName::try_from("mail.example.test").unwrap();
        let mut client = ClientConnection::new(Arc::new(client_config), name).unwrap();
        let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
        handshake(&mut client, &mut server);

        let info = tls_info(&server);
        assert_eq!(info.version, "TLSv1.3");
        assert_eq!(info.server_name.as_deref(), Some("mail.example.test"));
        assert!(info.cipher_suite.starts_with("TLS13_"), "{info:?}");
        let id = info.client.expect("a client identity");
        assert_eq!(id.emails, vec!["alice@example.test".to_owned()]);
        assert!(id.subject.contains("Alice"), "{}", id.subject);
        assert_eq!(kx_group(&server), "X25519MLKEM768");
    }
}
