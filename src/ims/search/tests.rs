//! The search body's rules, and the sources and pages they give.

use super::*;

fn search(body: Value) -> Result<Search, Error> {
    Search::parse(body.as_object().unwrap())
}

fn image(name: &str, tags: &[&str]) -> Image {
    let mut img = Image::new("6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11".into(), "p".into(), 0);
    img.name = Some(name.into());
    img.tags = tags.iter().map(|t| t.to_string()).collect();
    img
}

fn hits(body: Value, img: &Image) -> bool {
    search(body).unwrap().matches(img)
}

#[test]
fn tag_filters_and_or_and_exclude() {
    let img = image("web-1", &["env=prod", "tier=web", "legacy"]);
    let yes = [
        json!({"action": "count", "tags": [{"key": "env", "values": ["prod"]}]}),
        json!({"action": "count", "tags": [{"key": "env", "values": []}]}),
        json!({"action": "count", "tags": [{"key": "env", "values": ["dev", "prod"]}]}),
        json!({"action": "count", "tags": [{"key": "legacy", "values": [""]}]}),
        json!({"action": "count", "tags": [{"key": "legacy"}]}),
        json!({"action": "count", "tags": [{"key": "env", "values": []}, {"key": "tier", "values": ["web"]}]}),
        json!({"action": "count", "tags_any": [{"key": "nope", "values": []}, {"key": "tier", "values": []}]}),
        json!({"action": "count", "not_tags": [{"key": "env", "values": []}, {"key": "nope", "values": []}]}),
        json!({"action": "count", "not_tags_any": [{"key": "nope", "values": []}]}),
        json!({"action": "count", "not_tags_any": [{"key": "env", "values": ["dev"]}]}),
    ];
    for body in yes {
        assert!(hits(body.clone(), &img), "{body}");
    }
    let no = [
        json!({"action": "count", "tags": [{"key": "env", "values": ["dev"]}]}),
        json!({"action": "count", "tags": [{"key": "env", "values": [""]}]}),
        json!({"action": "count", "tags": [{"key": "env", "values": []}, {"key": "nope", "values": []}]}),
        json!({"action": "count", "tags_any": [{"key": "nope", "values": []}, {"key": "tier", "values": ["db"]}]}),
        json!({"action": "count", "not_tags": [{"key": "env", "values": []}, {"key": "tier", "values": []}]}),
        json!({"action": "count", "not_tags_any": [{"key": "nope", "values": []}, {"key": "legacy", "values": []}]}),
        json!({"action": "count", "without_any_tag": true}),
        // A key is what precedes the first `=`, never the whole entry.
        json!({"action": "count", "tags": [{"key": "env=prod", "values": []}]}),
    ];
    for body in no {
        assert!(!hits(body.clone(), &img), "{body}");
    }
    let bare = image("bare", &[]);
    assert!(hits(
        json!({"action": "count", "without_any_tag": true, "tags": [{"key": "x", "values": []}]}),
        &bare
    ));
}

#[test]
fn matches_on_name_and_id() {
    let img = image("web-1", &[]);
    let m = |key: &str, value: &str| {
        hits(
            json!({"action": "count", "matches": [{"key": key, "value": value}]}),
            &img,
        )
    };
    assert!(m("resource_name", "web"));
    assert!(m("resource_name", "web-1"));
    assert!(!m("resource_name", "Web"));
    assert!(!m("resource_name", ""));
    assert!(hits(
        json!({"action": "count", "matches": [{"key": "resource_name", "value": ""}]}),
        &image("", &[])
    ));
    assert!(m("resource_id", "6F1C1F3E-4B0E-4B8A-9A57-2F1E0D9C3B11"));
    assert!(!m("resource_id", "6f1c1f3e"));
}

#[test]
fn bad_bodies_are_400_naming_the_field() {
    for (body, part, code) in [
        (json!({}), "'action'", "IMG.0001"),
        (json!({"action": "Filter"}), "'action'", "IMG.0001"),
        (json!({"action": "count", "tags": []}), "empty", "IMG.0001"),
        (
            json!({"action": "count", "not_tags_any": []}),
            "empty",
            "IMG.0001",
        ),
        (
            json!({"action": "count", "matches": []}),
            "empty",
            "IMG.0001",
        ),
        (json!({"action": "count", "tags": {}}), "list", "IMG.0001"),
        (
            json!({"action": "count", "tags": [{"values": []}]}),
            "'key'",
            "IMG.0001",
        ),
        (
            json!({"action": "count", "tags": [{"key": "", "values": []}]}),
            "1 to 128",
            "IMG.0115",
        ),
        (
            json!({"action": "count", "tags": [{"key": "k", "values": [1]}]}),
            "strings",
            "IMG.0001",
        ),
        (
            json!({"action": "count", "matches": [{"key": "owner", "value": "x"}]}),
            "resource_name",
            "IMG.0001",
        ),
        (
            json!({"action": "count", "matches": [{"key": "resource_id", "value": "a"}, {"key": "resource_id", "value": "b"}]}),
            "unique",
            "IMG.0001",
        ),
        (
            json!({"action": "filter", "limit": 5}),
            "'limit'",
            "IMG.0001",
        ),
        (
            json!({"action": "filter", "limit": "0"}),
            "1 to 1000",
            "IMG.0001",
        ),
        (
            json!({"action": "filter", "limit": "1001"}),
            "1 to 1000",
            "IMG.0001",
        ),
        (
            json!({"action": "filter", "offset": "-1"}),
            "'offset'",
            "IMG.0001",
        ),
        (
            json!({"action": "filter", "without_any_tag": "yes"}),
            "boolean",
            "IMG.0001",
        ),
    ] {
        let err = search(body.clone()).unwrap_err();
        assert_eq!(crate::ims::error::code(&err), code, "{body}");
        assert_eq!(crate::ims::error::status(&err), 400, "{body}");
        assert!(err.message().contains(part), "{body}: {:?}", err.message());
    }
    let s = search(json!({"action": "filter"})).unwrap();
    assert_eq!((s.limit, s.offset), (DEFAULT_LIMIT, 0));
}

#[test]
fn sources_follow_the_positive_filters() {
    let s = |body: Value| search(body).unwrap().sources();
    assert_eq!(
        s(
            json!({"action": "count", "tags": [{"key": "a", "values": []}, {"key": "b", "values": ["1", ""]}]})
        ),
        Some(vec![Source::Entry("b=1".into()), Source::Entry("b".into())])
    );
    assert_eq!(
        s(json!({"action": "count", "tags": [{"key": "a", "values": []}]})),
        Some(vec![Source::Key("a".into())])
    );
    assert_eq!(
        s(
            json!({"action": "count", "tags_any": [{"key": "a", "values": []}, {"key": "b", "values": ["2"]}]})
        ),
        Some(vec![Source::Key("a".into()), Source::Entry("b=2".into())])
    );
    let id = "6f1c1f3e-4b0e-4b8a-9a57-2f1e0d9c3b11";
    assert_eq!(
        s(
            json!({"action": "count", "tags": [{"key": "a", "values": []}],
                 "matches": [{"key": "resource_id", "value": id}]})
        ),
        Some(vec![Source::Image(id.into())])
    );
    assert_eq!(
        s(json!({"action": "count", "not_tags": [{"key": "a", "values": []}]})),
        None
    );
    assert_eq!(
        s(
            json!({"action": "count", "without_any_tag": true, "tags": [{"key": "a", "values": []}]})
        ),
        None
    );
    assert_eq!(s(json!({"action": "count"})), None);
}

#[test]
fn filter_pages_and_count_agree() {
    let images: Vec<Image> = (0..5).map(|n| image(&format!("i{n}"), &[])).collect();
    let filter = search(json!({"action": "filter", "limit": "2", "offset": "3"})).unwrap();
    let page = filter.answer(&images);
    assert_eq!(page["total_count"], 5);
    let names: Vec<&str> = page["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resource_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["i3", "i4"]);
    let count = search(json!({"action": "count"})).unwrap().answer(&images);
    assert_eq!(count, json!({"total_count": 5}));
    let one = resource(&image("n", &["a", "b=c"]));
    assert_eq!(
        one["tags"],
        json!([{"key": "a", "value": ""}, {"key": "b", "value": "c"}])
    );
    assert_eq!(one["resource_detail"], json!({"status": "queued"}));
}
