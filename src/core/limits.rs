//! Limits more than one API applies.

/// The most images one listing or search returns.
pub const MAX_LIMIT: usize = 1000;
