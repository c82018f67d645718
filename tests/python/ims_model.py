"""IMS's search by tags (resource_instances/action), written out independently of
the service from SPEC section 9 and IMS's API reference, so the tests can check
the service's answers against it. Imported by test_ims.py and test_ims_sdk.py."""


def kv(tag):
    """A native entry as (key, value), split at the first `=`."""
    key, _, value = tag.partition("=")
    return key, value


def item_matches(tags, item):
    values = item.get("values") or []
    return any(k == item["key"] and (not values or v in values) for k, v in map(kv, tags))


def matches(image, body):
    """Whether an image (name, id, tags) is selected by a search body."""
    tags = image["tags"]
    if body.get("without_any_tag"):
        ok = not tags
    else:
        ok = (all(item_matches(tags, i) for i in body.get("tags", []))
              and (not body.get("tags_any") or any(item_matches(tags, i) for i in body["tags_any"]))
              and (not body.get("not_tags") or not all(item_matches(tags, i) for i in body["not_tags"]))
              and not any(item_matches(tags, i) for i in body.get("not_tags_any", [])))
    for m in body.get("matches", []):
        if m["key"] == "resource_name":
            name = image["name"] or ""
            ok = ok and (name == "" if m["value"] == "" else m["value"] in name)
        else:
            ok = ok and image["id"] == m["value"].lower()
    return ok


def search_forms(prefix, some_id):
    """Every filter form of the search, each scoped to the images named `prefix...`."""
    scope = [{"key": "resource_name", "value": prefix}]
    forms = [
        {"tags": [{"key": "env", "values": ["prod"]}]},
        {"tags": [{"key": "env", "values": []}]},
        {"tags": [{"key": "env"}]},
        {"tags": [{"key": "env", "values": ["prod", "dev"]}]},
        {"tags": [{"key": "plain", "values": [""]}]},
        {"tags": [{"key": "env", "values": []}, {"key": "tier", "values": ["web"]}]},
        {"tags_any": [{"key": "tier", "values": ["db"]}, {"key": "plain", "values": []}]},
        {"tags_any": [{"key": "env", "values": ["dev"]}]},
        {"not_tags": [{"key": "env", "values": []}, {"key": "tier", "values": []}]},
        {"not_tags_any": [{"key": "env", "values": ["prod"]}, {"key": "plain", "values": []}]},
        {"tags": [{"key": "env", "values": []}], "not_tags_any": [{"key": "tier", "values": ["web"]}]},
        {"tags": [{"key": "env", "values": []}], "tags_any": [{"key": "tier", "values": []}],
         "not_tags": [{"key": "plain", "values": []}]},
        {"without_any_tag": True},
        {"without_any_tag": True, "tags": [{"key": "env", "values": []}]},
        {},
    ]
    out = [dict(f, matches=scope) for f in forms]
    out.append({"matches": [{"key": "resource_id", "value": some_id.upper()}]})
    out.append({"tags": [{"key": "env", "values": []}],
                "matches": scope + [{"key": "resource_id", "value": some_id}]})
    return out


# (name suffix, native tag list) of the images the search tests create
CORPUS = [
    ("0", ["env=prod", "tier=web"]),
    ("1", ["env=dev", "tier=db", "plain"]),
    ("2", ["env", "plain"]),
    ("3", ["tier=web"]),
    ("4", []),
    ("5", ["plain", "other=x"]),
]
