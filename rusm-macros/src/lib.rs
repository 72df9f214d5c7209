//! Attribute macros for RUSM. Use them through the `rusm` facade.
