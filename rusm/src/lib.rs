//! RUSM facade.
pub use rusm_otp::*;
