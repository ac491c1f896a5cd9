//! TLS for Postern: certificate loading, SNI with hot reload, TLS policy, certificate tooling.
