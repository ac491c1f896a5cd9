//! The shared socket-free harness (crates/proto-testkit).

pub use postern_proto_testkit::*;
