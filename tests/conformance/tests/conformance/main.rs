//! The conformance suite: a module per RFC, each test named by the RFC
//! and section whose requirement it checks.

mod body;
mod helpers;
mod rfc3501;
mod rfc3516;
mod rfc4315;
mod rfc5182;
mod rfc5256;
mod rfc5258;
mod rfc6851;
mod rfc7162;
mod rfc9051;
mod rfc9208;
mod wire;
