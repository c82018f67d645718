//! What every API shares: the stored image record, its tags, who may see
//! and change it, and the store with its indexes. `core` imports no API,
//! no identity scheme, no configuration.

pub mod backend;
pub mod compare;
pub mod edge;
pub mod error;
pub mod identity;
pub mod image;
pub mod images;
pub mod index;
pub mod keys;
pub mod limits;
pub mod policy;
pub mod random;
pub mod repo;
pub mod segment;
pub mod store;
pub mod tag;
pub mod time;
