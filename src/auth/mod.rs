//! Who is asking (SPEC section 4): the identity a request carries and the
//! schemes that establish it.

pub mod identity;
pub mod keystone;
