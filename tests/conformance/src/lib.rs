//! The IMAP conformance suite: wire-level checks of what the RFCs
//! prescribe, each test named by the RFC and section it checks, run over
//! implicit TLS against the real server started in-process. The tests are
//! in `tests/conformance/`, a module per RFC.
