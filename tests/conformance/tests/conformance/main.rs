//! The conformance suite: a module per RFC, each test named by the RFC
//! and section whose requirement it checks.

mod body;
mod helpers;
mod rfc2177;
mod rfc2342;
mod rfc2971;
mod rfc3501;
mod rfc3516;
mod rfc4315;
mod rfc4959;
mod rfc5161;
mod rfc5182;
mod rfc5256;
mod rfc5258;
mod rfc5819;
mod rfc6154;
mod rfc6851;
mod rfc6855;
mod rfc7162;
mod rfc7888;
mod rfc7889;
mod rfc9051;
mod rfc9208;
mod wire;
