//! `auth_mode = headers`: the trusted headers an authenticating proxy sets,
//! read as Glance reads them behind keystonemiddleware.

use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::http::Request;

pub fn identify(req: &Request) -> Result<Identity, Error> {
    if req.header("x-identity-status") != Some("Confirmed") {
        return Err(Error::unauthorized());
    }
    let project = req
        .header("x-project-id")
        .or_else(|| req.header("x-tenant-id"))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let roles = req
        .header("x-roles")
        .unwrap_or_default()
        .split(',')
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .collect();
    let user = req.header("x-user-id").map(str::to_string);
    Ok(Identity {
        project,
        roles,
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_need_confirmed_status() {
        let req = Request::new("GET", "/v2/images")
            .with_header("X-Identity-Status", "Confirmed")
            .with_header("X-Tenant-Id", "p1")
            .with_header("X-Roles", "Reader, member");
        let id = identify(&req).unwrap();
        assert_eq!(id.project.as_deref(), Some("p1"));
        assert_eq!(id.roles, vec!["reader", "member"]);
        let unconfirmed =
            Request::new("GET", "/v2/images").with_header("X-Identity-Status", "Invalid");
        assert!(identify(&unconfirmed).is_err());
    }
}
