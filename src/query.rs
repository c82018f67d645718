//! The one reading of a query string (issue 17): `&`-separated pairs, each
//! split at its first `=`, `+` read as a space, then percent-decoded
//! (invalid UTF-8 becomes U+FFFD). This is WebOb's reading, so Glance's:
//! the listing, the IMS routes and the AK/SK signature check all read the
//! query through here, so a raw `+` cannot mean a space to the handler and
//! a `+` to the signature.

pub fn pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pairs;

    #[test]
    fn plus_is_a_space_and_percent_2b_a_plus() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            pairs("tag=a+b&tag=a%2Bb&tag=a%20b&flag&&=v&k=x=y"),
            vec![
                p("tag", "a b"),
                p("tag", "a+b"),
                p("tag", "a b"),
                p("flag", ""),
                p("", "v"),
                p("k", "x=y")
            ]
        );
        assert_eq!(
            pairs("n=%E4%B8%AD&bad=%zz%FF"),
            vec![p("n", "中"), p("bad", "%zz\u{FFFD}")]
        );
        assert!(pairs("").is_empty());
    }
}
