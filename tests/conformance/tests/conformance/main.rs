//! The conformance suite: a module per RFC.
