//! Who is asking: an identity is a project and its roles, established by one
//! of the auth modes of SPEC section 4.

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

    /// The identity of a table entry (`auth_tokens`, `aksk_credentials`):
    /// `PROJECT_ID` and `ROLE[+ROLE...]`; `None` when either is empty.
    pub fn from_table(project: &str, roles: &str) -> Option<Self> {
        let roles: Vec<&str> = roles
            .split('+')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect();
        (!project.is_empty() && !roles.is_empty()).then(|| Identity::new(project, &roles))
    }

    pub fn owns(&self, owner: Option<&str>) -> bool {
        matches!((self.project.as_deref(), owner), (Some(p), Some(o)) if p == o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_imply_each_other_downwards() {
        assert!(Identity::new("p", &["admin"]).is_reader());
        assert!(!Identity::new("p", &["reader"]).is_member());
        assert!(!Identity::new("p", &["manager-ish"]).is_reader());
    }

    #[test]
    fn table_fields_need_a_project_and_a_role() {
        let id = Identity::from_table("p", "Admin+ reader").unwrap();
        assert_eq!(id.project.as_deref(), Some("p"));
        assert_eq!(id.roles, vec!["admin", "reader"]);
        assert!(Identity::from_table("", "admin").is_none());
        assert!(Identity::from_table("p", "").is_none());
        assert!(Identity::from_table("p", "+").is_none());
    }
}
