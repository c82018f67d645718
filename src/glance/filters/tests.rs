use super::*;

fn parse(query: &str) -> Result<Filters, Error> {
    let mut b = Builder::default();
    for (k, v) in crate::query::pairs(query) {
        b.push(k, v)?;
    }
    b.finish()
}

fn message(query: &str) -> String {
    parse(query).unwrap_err().message()
}

fn image() -> Image {
    let mut i = Image::new(
        "00000001-0000-4000-8000-000000000000".into(),
        "p".into(),
        1_795_830_276, // 2026-11-28T01:44:36Z
    );
    i.name = Some("alpha".into());
    i.container_format = Some("bare".into());
    i.disk_format = Some("qcow2".into());
    i.min_ram = 512;
    i.extra.insert("os_distro".into(), "ubuntu".into());
    i
}

fn hits(query: &str) -> bool {
    parse(query).unwrap().matches(&image())
}

#[test]
fn iso8601_takes_what_glance_takes() {
    let t = 1_795_830_276;
    for (text, want) in [
        ("2026-11-28T01:44:36Z", Some((t, 0))),
        ("2026-11-28T01:44:36", Some((t, 0))),
        ("2026-11-28 01:44:36", Some((t, 0))),
        ("20261128T014436Z", Some((t, 0))),
        ("2026-11-28T01:44:36.5Z", Some((t, 500_000))),
        ("2026-11-28T01:44:36,1234567", Some((t, 123_456))),
        ("2026-11-28T02:44:36+01:00", Some((t, 0))),
        ("2026-11-28T02:44:36+0100", Some((t, 0))),
        ("2026-11-28T02:44:36+01", Some((t, 0))),
        ("2026-11-28T02:44:36+01:", Some((t, 0))),
        ("2026-11-28T00:44:36-01:00", Some((t, 0))),
        ("2026-11-28T0144", Some((t - 36, 0))),
        ("2026-11-28T01:44\n", Some((t - 36, 0))),
        ("2026-11-28T01", Some((t - 44 * 60 - 36, 0))),
        ("2026-11-28T01:5", Some((t - 44 * 60 - 36 + 5, 0))), // `:5` is the seconds
        ("2026-11-28", Some((t - 6276, 0))),
        ("2026-1-2", Some((1_767_312_000, 0))),
        ("2026-123", Some((1_769_126_400, 0))), // 2026-01-23
        ("2026-11", Some((1_793_491_200, 0))),
        ("2026", Some((1_767_225_600, 0))),
        ("0001-01-01", Some((-62_135_596_800, 0))),
    ] {
        assert_eq!(iso8601::parse(text), want, "{text}");
    }
    for text in [
        "",
        "junk",
        "202611",
        "2026-13-01",
        "2026-02-30",
        "0000-01-01",
        "2026-11-28T24:00:00",
        "2026-11-28T01:44:60",
        "2026-11-28T01:44:36z",
        "2026-11-28T01:44:36 01:00",
        "2026-11-28T01:44:36+24:00",
        "2026-11-28T01:44:36+23:60",
        "2026-11-28T01:44:36.",
        "2026-11-28X01",
        "2026-11-28T01:44:36Z ",
        "２０２６",
    ] {
        assert_eq!(iso8601::parse(text), None, "{text}");
    }
    assert_eq!(
        iso8601::parse(&format!("2026-11-28T01:44:36.{}", "1".repeat(300))),
        None
    );
}

#[test]
fn in_lists_split_as_glance_splits_them() {
    let split = |v: &str| split_quoted(v).unwrap();
    assert_eq!(split("a,b"), ["a", "b"]);
    assert_eq!(split(r#""a,b",c"#), ["a,b", "c"]);
    assert_eq!(split("a,,b"), ["a", "", "b"]);
    assert_eq!(split("a,"), ["a"]);
    assert_eq!(split(",a"), ["", "a"]);
    assert_eq!(split(r#""""#), [""]);
    assert_eq!(split(r#""q\"x""#), [r#"q\"x"#]);
    assert_eq!(split(r#"\"a"#), [r#"\"a"#]);
    assert!(split("").is_empty());
    for (v, why) in [
        (r#""b,c"#, "The quote is not closed."),
        (
            r#"x"b,c""#,
            "There is no comma before opening quotation mark.",
        ),
        (
            r#""b,c"x"#,
            "There is no comma after closing quotation mark.",
        ),
        (r#""a\""#, "The quote is not closed."),
    ] {
        assert_eq!(
            split_quoted(v).unwrap_err().message(),
            format!("Invalid filter value {v}. {why}")
        );
    }
}

#[test]
fn core_fields_take_eq_and_in() {
    assert!(hits("container_format=bare"));
    assert!(hits("container_format=eq:bare&disk_format=in:raw,qcow2"));
    assert!(!hits("container_format=BARE"));
    assert!(!hits("container_format=in:"));
    assert!(hits(r#"name=in:"b,c",alpha"#));
    assert!(hits(
        "id=00000001-0000-4000-8000-000000000000&status=queued"
    ));
    assert!(!hits("status=in:active,saving"));
    assert!(parse("name=in:").unwrap().never());
    assert_eq!(
        message("name=a:b"),
        "Unable to filter by unknown operator 'a'."
    );
    assert_eq!(
        message("status=neq:x"),
        "Unable to filter by unknown operator 'neq'."
    );
    // A value that is a whole ISO 8601 time is an `eq`, colons and all.
    assert!(!parse("name=2026-01-01T00:00:00").unwrap().never());
    let ids = parse("id=in:a,b,a").unwrap();
    assert_eq!(ids.ids(), Some(vec!["a", "b"]));
    assert_eq!(parse("name=x").unwrap().ids(), None);
}

#[test]
fn flags_are_checked_as_glance_checks_them() {
    assert!(!hits("os_hidden=true"));
    assert!(hits("os_hidden=FALSE&protected=false"));
    assert!(!hits("protected=true"));
    assert_eq!(
        message("protected=True"),
        "Invalid value 'True' for 'protected' filter. Valid values are 'true' or 'false'."
    );
    assert_eq!(
        message("os_hidden=YES&protected=bad"),
        "Invalid value 'yes' for 'os_hidden' filter. Valid values are 'true' or 'false'."
    );
    // The last one counts.
    assert!(hits("protected=true&protected=false"));
}

#[test]
fn times_compare_to_the_microsecond() {
    assert!(hits("created_at=gte:2026-11-28T01:44:36Z"));
    assert!(hits("created_at=2026-11-28T01:44:36Z"));
    assert!(!hits("created_at=gt:2026-11-28T01:44:36Z"));
    assert!(hits("created_at=lt:2026-11-28T01:44:36.000001Z"));
    assert!(hits("updated_at=gt:2026-11-28T02:44:35%2B01:00"));
    assert!(hits("created_at=neq:2026"));
    assert!(!hits("created_at=lte:2026-11-28T01:44:35"));
    let bad = "Bad \"created_at\" query filter format. Use ISO 8601 DateTime notation.";
    for q in [
        "created_at=gte:junk",
        "created_at=",
        "created_at=foo:junk",
        "created_at=gte:2026-11-28T02:44:36+01:00",
    ] {
        assert_eq!(message(q), bad, "{q}");
    }
    assert_eq!(
        message("created_at=in:2026"),
        "Unable to filter on a unknown operator."
    );
}

#[test]
fn ranges_follow_sqlite() {
    assert!(hits("min_ram_min=512&min_ram_max=%2B512&min_disk_max=0"));
    assert!(!hits("min_ram_min=513"));
    assert!(hits("protected_max=0&os_hidden_min=0"));
    assert!(hits("name_min=5&created_at_min=9"));
    assert!(!hits("name_max=5"));
    assert!(!hits("created_at_max=9"));
    assert!(parse("size_min=0").unwrap().never());
    assert!(parse("virtual_size_max=1_000").unwrap().never());
    assert!(hits("min_ram_min= 5_1_2 "));
    let non_numeric = "Unable to filter on a range with a non-numeric value.";
    for q in [
        "size_min=abc",
        "size_min=",
        "size_max=1.5",
        "size_min=1__0",
        "size_min=_1",
        "foo_min=x",
    ] {
        assert_eq!(message(q), non_numeric, "{q}");
    }
    assert_eq!(
        message("foo_min=1"),
        "Unable to filter on a range of 'foo': it is not a field of an image."
    );
    assert_eq!(python_int("-0_7"), Some(-7));
    assert_eq!(python_int(&"9".repeat(60)), Some(i64::MAX));
}

#[test]
fn min_ram_by_value_is_a_number() {
    for q in [
        "min_ram=512",
        "min_ram=0512",
        "min_ram=512.0",
        "min_ram=5.12e2",
        "min_ram=%20512",
    ] {
        assert!(hits(q), "{q}");
    }
    for q in [
        "min_ram=abc",
        "min_ram=eq:512",
        "min_ram=0x200",
        "min_ram=inf",
        "min_ram=",
        "min_ram=.",
        "min_ram=512.5",
        "min_ram=-512",
        "min_ram=1e999999999999",
    ] {
        assert!(!hits(q), "{q}");
    }
    for (text, want) in [
        ("0", Some("0")),
        ("-0.0", Some("0")),
        ("0e5", Some("0")),
        ("5120e-1", Some("512")),
        (".5e1", Some("5")),
        ("1e19", Some("10000000000000000000")),
        ("1e20", None),
        ("1.e", None),
        ("e5", None),
    ] {
        assert_eq!(sqlite_integer(text).as_deref(), want, "{text}");
    }
}

#[test]
fn other_parameters() {
    assert!(hits("os_distro=ubuntu"));
    assert!(!hits("os_distro=in:ubuntu"));
    assert!(hits("deleted=true"));
    for q in [
        "checksum=x",
        "size=0",
        "tags=x",
        "deleted_at=x",
        "os_hash_value=",
    ] {
        assert!(parse(q).unwrap().never(), "{q}");
    }
    assert_eq!(
        message("changes-since=2020"),
        "The \"changes-since\" filter is no longer available on v2."
    );
    assert_eq!(message("properties=x"), "Unable to filter on 'properties'.");
}

#[test]
fn bounded_counts() {
    let twenty = (0..MAX_FILTERS)
        .map(|i| format!("p{i}=v"))
        .collect::<Vec<_>>()
        .join("&");
    assert!(parse(&twenty).is_ok());
    assert!(message(&format!("{twenty}&one=more")).contains("at most 20"));
    let ids = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    assert!(parse(&format!("id=in:{}", ids(MAX_IN_VALUES))).is_ok());
    let past = format!("id=in:{}&name=in:x", ids(MAX_IN_VALUES));
    assert!(message(&past).contains("at most 200"));
    // A long value is read once: an in: list of 100,000 characters.
    let long = format!("name=in:{}", "x,".repeat(50_000));
    assert!(message(&long).contains("at most 200"));
}
