//! `auth_mode = tokens`: `X-Auth-Token` looked up in the static table of the
//! Spin variable `auth_tokens`.

use crate::core::identity::Identity;

/// One entry of the `tokens` table: `TOKEN:PROJECT_ID:ROLE[+ROLE...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub token: String,
    pub identity: Identity,
}

pub fn parse_table(spec: &str) -> Result<Vec<TokenEntry>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let mut parts = entry.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(token), Some(project), Some(roles)) if !token.is_empty() => {
                    Identity::from_table(project, roles).map(|identity| TokenEntry {
                        token: token.to_string(),
                        identity,
                    })
                }
                _ => None,
            }
            // Never echo the entry: it holds a secret.
            .ok_or_else(|| "an entry is not TOKEN:PROJECT_ID:ROLE[+ROLE...]".to_string())
        })
        .collect()
}

pub fn lookup(table: &[TokenEntry], token: &str) -> Option<Identity> {
    table
        .iter()
        .find(|e| e.token == token)
        .map(|e| e.identity.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_table_parses_roles_and_rejects_garbage() {
        let table = parse_table("devtoken:demo:admin+member, alice-token:proj-a:Member").unwrap();
        assert_eq!(table.len(), 2);
        let alice = lookup(&table, "alice-token").unwrap();
        assert_eq!(alice.project.as_deref(), Some("proj-a"));
        assert!(alice.is_member() && alice.is_reader() && !alice.is_admin());
        assert!(lookup(&table, "nope").is_none());
        assert!(parse_table("").unwrap().is_empty());
        for bad in [
            "secret-only",
            "s3cret:proj:",
            ":proj:admin",
            "s3cret::admin",
        ] {
            let err = parse_table(bad).unwrap_err();
            assert!(!err.contains("secret") && !err.contains("s3cret"), "{err}");
        }
    }
}
