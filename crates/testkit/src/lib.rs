//! Test helpers: a throw-away CA, a test server, TLS wire clients.
