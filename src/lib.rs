//! image-tags core
