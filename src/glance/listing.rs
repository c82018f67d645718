//! `GET /v2/images`: the query (filters, sort, paging) and the page it
//! selects, with Glance's `first` and `next` links.

use crate::core::error::Error;
use crate::core::identity::Identity;
use crate::core::image::Image;
use crate::core::index::LogId;
use crate::core::policy;
use crate::glance::filters::{self, Filters};
use crate::http::echo;
use std::cmp::Ordering;

pub const DEFAULT_LIMIT: usize = 25;
pub use crate::core::limits::MAX_LIMIT;
/// `tag` parameters one listing may carry: each costs a store read of its
/// tag log's length (5,000 of them held an instance for 10 to 40 s while
/// that read was an `increment(0)`, a write transaction on SQLite).
pub const MAX_TAG_FILTERS: usize = 20;
const VISIBILITIES: &[&str] = &["public", "community", "shared", "private", "all"];
pub const SORT_KEYS: &[&str] = &[
    "name",
    "created_at",
    "updated_at",
    "id",
    "status",
    "visibility",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub tags: Vec<String>,
    pub visibility: Option<String>,
    pub owner: Option<String>,
    /// Every other filter (issue 17): core fields, times, ranges, extra properties.
    pub filters: Filters,
    pub sort: Vec<(String, bool)>,
    /// The direction of the tie-breaks Glance's database layer adds after
    /// the keys (`created_at`, then `id`, each unless already a key): the
    /// one direction given when exactly one was, else descending.
    pub ties_asc: bool,
    pub limit: usize,
    pub marker: Option<String>,
    /// The parameters as sent, in order, for `first` and `next`.
    pub params: Vec<(String, String)>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadRequest(msg.into())
}

fn sort_key(key: &str) -> Result<String, Error> {
    if SORT_KEYS.contains(&key) {
        Ok(key.to_string())
    } else {
        Err(bad(format!(
            "Invalid sort key: {}. It must be one of: {}.",
            echo(key),
            SORT_KEYS.join(", ")
        )))
    }
}

fn sort_dir(dir: &str) -> Result<bool, Error> {
    match dir {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(bad(format!(
            "Invalid sort direction: {}. It must be asc or desc.",
            echo(dir)
        ))),
    }
}

impl Query {
    /// One pass over the parameters: linear in the query's length.
    pub fn parse(raw: &str) -> Result<Query, Error> {
        let params = crate::query::pairs(raw);
        let mut q = Query {
            tags: Vec::new(),
            visibility: None,
            owner: None,
            filters: Filters::default(),
            sort: Vec::new(),
            ties_asc: false,
            limit: DEFAULT_LIMIT,
            marker: None,
            params: params.clone(),
        };
        let (mut keys, mut dirs) = (Vec::new(), Vec::new());
        let (mut rest, mut last_visibility) = (filters::Builder::default(), None);
        for (k, v) in params {
            match k.as_str() {
                "tag" if q.tags.len() == MAX_TAG_FILTERS => {
                    return Err(bad(format!(
                        "Too many 'tag' filters: at most {MAX_TAG_FILTERS} are allowed."
                    )))
                }
                "tag" => q.tags.push(v),
                // Glance checks the last one and filters by the first.
                "visibility" => {
                    q.visibility.get_or_insert_with(|| v.clone());
                    last_visibility = Some(v);
                }
                "owner" => q.owner = Some(v),
                "limit" => {
                    // Glance's int() strips surrounding spaces; so do we.
                    let n: i64 = v
                        .trim()
                        .parse()
                        .map_err(|_| bad("limit param must be an integer"))?;
                    if n < 0 {
                        return Err(bad("limit param must be positive"));
                    }
                    q.limit = (n as u64).min(MAX_LIMIT as u64) as usize;
                }
                "marker" => q.marker = Some(v),
                "sort_key" => keys.push(sort_key(&v)?),
                "sort_dir" => dirs.push(sort_dir(&v)?),
                "sort" => {
                    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        let (key, dir) = part.split_once(':').unwrap_or((part, "desc"));
                        q.sort.push((sort_key(key)?, sort_dir(dir)?));
                    }
                }
                // Image members are not kept: nothing to filter on.
                "member_status" => {
                    if !matches!(v.as_str(), "pending" | "accepted" | "rejected" | "all") {
                        return Err(bad(format!("Invalid status: {}", echo(&v))));
                    }
                }
                _ => rest.push(k, v)?,
            }
        }
        if let Some(v) = last_visibility.filter(|v| !VISIBILITIES.contains(&v.as_str())) {
            return Err(bad(format!("Invalid visibility value: {}", echo(&v))));
        }
        if !q.sort.is_empty() && (!keys.is_empty() || !dirs.is_empty()) {
            return Err(bad(
                "The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.",
            ));
        }
        if dirs.len() > 1 && dirs.len() != keys.len() {
            return Err(bad(
                "Number of sort dirs does not match the number of sort keys",
            ));
        }
        q.filters = rest.finish()?;
        q.ties_asc = match (q.sort.as_slice(), dirs.as_slice()) {
            ([(_, asc)], _) | ([], [asc]) => *asc,
            _ => false,
        };
        if q.sort.is_empty() {
            let dir_for = |i: usize| dirs.get(i).or(dirs.first()).copied().unwrap_or(false);
            if keys.is_empty() {
                q.sort.push(("created_at".into(), dir_for(0)));
            }
            for (i, key) in keys.into_iter().enumerate() {
                q.sort.push((key, dir_for(i)));
            }
        }
        Ok(q)
    }

    /// Whether this listing is in the default order, which the logs keep:
    /// `created_at`, then `id`, newest first.
    pub fn default_order(&self) -> bool {
        self.sort == [("created_at".to_string(), false)]
    }

    /// The logs whose images include every match, as few as cover them:
    /// a listing walks these (merged) and checks each record. The rarest
    /// of the `tag` filters is picked by the caller, who can read sizes.
    pub fn scopes(&self, who: &Identity) -> Vec<LogId> {
        if let Some(owner) = &self.owner {
            return vec![LogId::Project(owner.clone())];
        }
        let own = who.project.clone().map(LogId::Project);
        match self.visibility.as_deref() {
            Some("public") => vec![LogId::Public],
            Some("private" | "shared") if !who.is_admin() => own.into_iter().collect(),
            None if !who.is_admin() => own.into_iter().chain([LogId::Public]).collect(),
            // Everything for an admin; other projects' community images too.
            _ => vec![LogId::All],
        }
    }

    /// Whether an image the caller may see belongs in this listing.
    pub fn matches(&self, who: &Identity, image: &Image) -> bool {
        if !policy::can_see(who, image) {
            return false;
        }
        let visible = match self.visibility.as_deref() {
            None => image.visibility != "community" || who.owns(image.owner.as_deref()),
            Some("all") => true,
            Some(v) => image.visibility == v,
        };
        visible
            && self.tags.iter().all(|t| image.has_tag(t))
            && eq_opt(&self.owner, image.owner.as_deref())
            && self.filters.matches(image)
    }

    /// Whether no image can match (a filter on a field that is always null
    /// here, an empty `in:`, a `visibility` Glance checked but cannot match):
    /// the listing then walks nothing.
    pub fn never(&self) -> bool {
        self.filters.never()
            || self
                .visibility
                .as_deref()
                .is_some_and(|v| !VISIBILITIES.contains(&v))
    }

    /// Order two images as Glance does: by the sort keys, then by
    /// `created_at` and `id` (those not among the keys) in [`Query::ties_asc`].
    pub fn compare(&self, a: &Image, b: &Image) -> Ordering {
        let given = |key: &str| self.sort.iter().any(|(k, _)| k == key);
        let ties = ["created_at", "id"]
            .into_iter()
            .filter(|key| !given(key))
            .map(|key| (key, self.ties_asc));
        for (key, asc) in self
            .sort
            .iter()
            .map(|(k, asc)| (k.as_str(), *asc))
            .chain(ties)
        {
            let ord = a.property(key).cmp(&b.property(key));
            let ord = if asc { ord } else { ord.reverse() };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// Path and query of this listing with `marker` replaced, as Glance links pages.
    pub fn link(&self, marker: Option<&str>) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.params.iter().filter(|(k, _)| k != "marker") {
            out.append_pair(k, v);
        }
        if let Some(m) = marker {
            out.append_pair("marker", m);
        }
        let query = out.finish();
        if query.is_empty() {
            "/v2/images".to_string()
        } else {
            format!("/v2/images?{query}")
        }
    }
}

fn eq_opt(want: &Option<String>, have: Option<&str>) -> bool {
    want.as_deref().is_none_or(|w| Some(w) == have)
}

pub struct Page {
    pub images: Vec<Image>,
    pub next_marker: Option<String>,
}

/// Filter, sort and cut one page. `marker` is the image the page follows
/// (already checked to exist and be visible); `None` starts at the top.
pub fn page(query: &Query, who: &Identity, candidates: Vec<Image>, marker: Option<&Image>) -> Page {
    let mut images: Vec<Image> = candidates
        .into_iter()
        .filter(|i| query.matches(who, i))
        .filter(|i| marker.is_none_or(|m| query.compare(i, m) == Ordering::Greater))
        .collect();
    // Stable: images equal on every key keep the order the logs gave them.
    images.sort_by(|a, b| query.compare(a, b));
    let more = images.len() > query.limit;
    images.truncate(query.limit);
    let next_marker = if more {
        images.last().map(|i| i.id.clone())
    } else {
        None
    };
    Page {
        images,
        next_marker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, name: &str, created: i64, tags: &[&str]) -> Image {
        let mut i = Image::new(id.into(), "p".into(), created);
        i.name = Some(name.into());
        i.tags = tags.iter().map(|t| t.to_string()).collect();
        i
    }

    #[test]
    fn parses_glanceclient_style_queries() {
        let q = Query::parse("tag=a&tag=b+c&sort_key=name&sort_dir=asc&limit=5000&os_distro=x")
            .unwrap();
        assert_eq!(q.tags, vec!["a", "b c"]);
        assert_eq!(q.sort, vec![("name".into(), true)]);
        assert_eq!(q.limit, MAX_LIMIT);
        assert!(q.filters.matches(&{
            let mut i = img("00000001-0000-0000-0000-000000000000", "n", 1, &[]);
            i.extra.insert("os_distro".into(), "x".into());
            i
        }));
        let q = Query::parse("sort=name:asc,id").unwrap();
        assert_eq!(q.sort, vec![("name".into(), true), ("id".into(), false)]);
        assert_eq!(
            Query::parse("").unwrap().sort,
            vec![("created_at".into(), false)]
        );
        let twenty = "tag=t&".repeat(MAX_TAG_FILTERS);
        assert_eq!(Query::parse(&twenty).unwrap().tags.len(), MAX_TAG_FILTERS);
        let too_many = Query::parse(&format!("{twenty}tag=u")).unwrap_err();
        assert_eq!(too_many.status(), 400);
        assert!(too_many.message().contains("at most 20"), "{too_many:?}");
        let long = "x".repeat(10_000);
        let echoed = Query::parse(&format!("sort_key={long}"))
            .unwrap_err()
            .message();
        assert!(echoed.len() < 200, "{echoed}");
        for bad in [
            "limit=-1",
            "limit=x",
            "sort_key=size",
            "sort_dir=up",
            "visibility=x",
        ] {
            assert_eq!(Query::parse(bad).unwrap_err().status(), 400, "{bad}");
        }
    }

    #[test]
    fn pages_follow_each_other_without_an_empty_last_page() {
        let who = Identity::new("p", &["member"]);
        let all: Vec<Image> = (0..5)
            .map(|n| {
                img(
                    &format!("0000000{n}-0000-0000-0000-000000000000"),
                    &format!("n{n}"),
                    n,
                    &["t"],
                )
            })
            .collect();
        let q = Query::parse("tag=t&limit=2&sort_key=name&sort_dir=asc").unwrap();
        let mut seen = Vec::new();
        let mut marker: Option<Image> = None;
        loop {
            let p = page(&q, &who, all.clone(), marker.as_ref());
            seen.extend(p.images.iter().map(|i| i.name.clone().unwrap()));
            match p.next_marker {
                Some(m) => marker = all.iter().find(|i| i.id == m).cloned(),
                None => break,
            }
        }
        assert_eq!(seen, vec!["n0", "n1", "n2", "n3", "n4"]);
        assert_eq!(
            q.link(Some("m")),
            "/v2/images?tag=t&limit=2&sort_key=name&sort_dir=asc&marker=m"
        );
    }

    #[test]
    fn ties_are_broken_by_created_at_then_id_as_glance_does() {
        let who = Identity::new("p", &["member"]);
        let all = vec![
            img("00000002-0000-0000-0000-000000000000", "same", 1, &[]),
            img("00000001-0000-0000-0000-000000000000", "same", 2, &[]),
            img("00000003-0000-0000-0000-000000000000", "same", 2, &[]),
        ];
        let order = |query: &str| -> Vec<String> {
            let q = Query::parse(query).unwrap();
            let ids = page(&q, &who, all.clone(), None)
                .images
                .into_iter()
                .map(|i| i.id);
            ids.map(|id| id[7..8].to_string()).collect()
        };
        // One direction given: the ties follow it.
        assert_eq!(order("sort_key=name&sort_dir=asc"), vec!["2", "1", "3"]);
        assert_eq!(order("sort=name:asc"), vec!["2", "1", "3"]);
        // None, or one per key: descending.
        assert_eq!(order("sort_key=name"), vec!["3", "1", "2"]);
        assert_eq!(order("sort=name:asc,status:asc"), vec!["3", "1", "2"]);
        assert_eq!(order(""), vec!["3", "1", "2"]);
    }

    #[test]
    fn default_order_is_newest_first_and_community_is_left_out() {
        let who = Identity::new("other", &["member"]);
        let mut c = img("00000001-0000-0000-0000-000000000000", "c", 1, &[]);
        c.visibility = "community".into();
        let mut p = img("00000002-0000-0000-0000-000000000000", "p", 2, &[]);
        p.visibility = "public".into();
        let mut p2 = p.clone();
        p2.id = "00000003-0000-0000-0000-000000000000".into();
        p2.created_at = crate::core::image::timestamp(3);
        let q = Query::parse("").unwrap();
        let names: Vec<_> = page(&q, &who, vec![c.clone(), p.clone(), p2.clone()], None)
            .images
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(names, vec![p2.id.clone(), p.id.clone()]);
        let q = Query::parse("visibility=community").unwrap();
        assert_eq!(page(&q, &who, vec![c, p, p2], None).images.len(), 1);
    }
}
