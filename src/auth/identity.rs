//! Who is asking: an identity is a project and its roles, established by one
//! of the auth modes of SPEC section 4.

use crate::http::{ApiError, Request};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub project: Option<String>,
    /// Lower-cased role names.
    pub roles: Vec<String>,
    pub user: Option<String>,
}

impl Identity {
    pub fn new(project: &str, roles: &[&str]) -> Self {
        Identity {
            project: Some(project.to_string()),
            roles: roles.iter().map(|r| r.to_ascii_lowercase()).collect(),
            user: None,
        }
    }

    fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has("admin")
    }

    /// `member` of its project; `admin` implies it.
    pub fn is_member(&self) -> bool {
        self.is_admin() || self.has("member")
    }

    /// `reader` of its project; `member` implies it (Keystone does the same).
    pub fn is_reader(&self) -> bool {
        self.is_member() || self.has("reader")
    }

    pub fn owns(&self, owner: Option<&str>) -> bool {
        matches!((self.project.as_deref(), owner), (Some(p), Some(o)) if p == o)
    }
}

/// One entry of the `tokens` table: `TOKEN:PROJECT_ID:ROLE[+ROLE...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub token: String,
    pub identity: Identity,
}

pub fn parse_token_table(spec: &str) -> Result<Vec<TokenEntry>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let mut parts = entry.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(token), Some(project), Some(roles))
                    if !token.is_empty() && !project.is_empty() && !roles.is_empty() =>
                {
                    let roles: Vec<&str> = roles.split('+').map(str::trim).collect();
                    Ok(TokenEntry {
                        token: token.to_string(),
                        identity: Identity::new(project, &roles),
                    })
                }
                // Never echo the entry: it holds a secret.
                _ => Err("an entry is not TOKEN:PROJECT_ID:ROLE[+ROLE...]".to_string()),
            }
        })
        .collect()
}

pub fn from_token_table(table: &[TokenEntry], token: Option<&str>) -> Option<Identity> {
    let token = token?;
    table
        .iter()
        .find(|e| e.token == token)
        .map(|e| e.identity.clone())
}

/// The trusted headers an authenticating proxy sets, read as Glance reads
/// them behind keystonemiddleware.
pub fn from_headers(req: &Request) -> Result<Identity, ApiError> {
    if req.header("x-identity-status") != Some("Confirmed") {
        return Err(ApiError::Unauthorized { keystone_uri: None });
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
    fn token_table_parses_roles_and_rejects_garbage() {
        let table =
            parse_token_table("devtoken:demo:admin+member, alice-token:proj-a:Member").unwrap();
        assert_eq!(table.len(), 2);
        let alice = from_token_table(&table, Some("alice-token")).unwrap();
        assert_eq!(alice.project.as_deref(), Some("proj-a"));
        assert!(alice.is_member() && alice.is_reader() && !alice.is_admin());
        assert!(from_token_table(&table, Some("nope")).is_none());
        assert!(from_token_table(&table, None).is_none());
        assert!(parse_token_table("").unwrap().is_empty());
        let err = parse_token_table("secret-only").unwrap_err();
        assert!(!err.contains("secret-only"));
    }

    #[test]
    fn headers_need_confirmed_status() {
        let req = Request::new("GET", "/v2/images")
            .with_header("X-Identity-Status", "Confirmed")
            .with_header("X-Tenant-Id", "p1")
            .with_header("X-Roles", "Reader, member");
        let id = from_headers(&req).unwrap();
        assert_eq!(id.project.as_deref(), Some("p1"));
        assert_eq!(id.roles, vec!["reader", "member"]);
        let unconfirmed =
            Request::new("GET", "/v2/images").with_header("X-Identity-Status", "Invalid");
        assert!(from_headers(&unconfirmed).is_err());
    }

    #[test]
    fn roles_imply_each_other_downwards() {
        assert!(Identity::new("p", &["admin"]).is_reader());
        assert!(!Identity::new("p", &["reader"]).is_member());
        assert!(!Identity::new("p", &["manager-ish"]).is_reader());
    }
}
