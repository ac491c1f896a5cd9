//! End-to-end tests of Postern: the real server started in-process on
//! loopback, real sockets, real TLS with a throw-away CA, and independent
//! clients (rustls, `openssl s_client`). The tests are in `tests/`, one
//! binary with a module per concern.
