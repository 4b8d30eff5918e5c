//! Pagination by the `Link` header.
//!
//! GitHub lists are pages of at most 100 items; the next page's URL is in
//! `Link: <https://api.github.com/...&page=2>; rel="next", <...>; rel="last"`. The client asks
//! for `per_page=100` (unless the path sets it), follows `rel="next"` only while it stays on the
//! configured API host and base path, and stops at a page cap.

use http::Method;
use serde::de::DeserializeOwned;

use super::{Client, ClientError};

/// Pages [`Client::paginate`] follows before failing with [`ClientError::TooManyPages`]
/// (500 pages of 100 items).
pub const DEFAULT_MAX_PAGES: u32 = 500;

/// The URL of the link with relation `rel` in a `Link` header value.
///
/// ```
/// use githubapp::client::link_rel;
///
/// let header = r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#;
/// assert_eq!(link_rel(header, "next").as_deref(), Some("https://api.github.com/x?page=2"));
/// assert_eq!(link_rel(header, "prev"), None);
/// ```
pub fn link_rel(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // Parameters run until the next link (a ',' followed by '<').
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        let matches = params.split(';').any(|p| {
            let Some((k, v)) = p.split_once('=') else { return false };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_end_matches(',')
                    .trim_end()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
        });
        if matches {
            return Some(url.trim().to_owned());
        }
        rest = &after[params_end..];
    }
}

/// Adds `per_page=100` to a path that does not choose its page size.
fn with_page_size(path: &str) -> String {
    let has = path
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|kv| kv.split('=').next() == Some("per_page")));
    if has {
        path.to_owned()
    } else if path.contains('?') {
        format!("{path}&per_page=100")
    } else {
        format!("{path}?per_page=100")
    }
}

impl Client {
    /// `GET`s every page of a list endpoint that answers a JSON array, following `Link`
    /// headers (at most [`DEFAULT_MAX_PAGES`] pages).
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let labels: Vec<serde_json::Value> = gh.paginate("/repos/octo-org/hello/labels").await?;
    /// # Ok(()) }
    /// ```
    pub async fn paginate<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ClientError> {
        self.paginate_inner(path, None, DEFAULT_MAX_PAGES).await
    }

    /// Like [`paginate`](Self::paginate), for endpoints that wrap each page's items in an
    /// object, such as `{"total_count": 2, "repositories": [..]}` or a commit's `files`.
    /// A page that is a bare array is taken as is; a page without `field` adds nothing.
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let repos: Vec<serde_json::Value> =
    ///     gh.paginate_field("/installation/repositories", "repositories").await?;
    /// # Ok(()) }
    /// ```
    pub async fn paginate_field<T: DeserializeOwned>(
        &self,
        path: &str,
        field: &str,
    ) -> Result<Vec<T>, ClientError> {
        self.paginate_inner(path, Some(field), DEFAULT_MAX_PAGES).await
    }

    /// [`paginate`](Self::paginate) or [`paginate_field`](Self::paginate_field) with an
    /// explicit page cap.
    pub async fn paginate_with_limit<T: DeserializeOwned>(
        &self,
        path: &str,
        field: Option<&str>,
        max_pages: u32,
    ) -> Result<Vec<T>, ClientError> {
        self.paginate_inner(path, field, max_pages).await
    }

    async fn paginate_inner<T: DeserializeOwned>(
        &self,
        path: &str,
        field: Option<&str>,
        max_pages: u32,
    ) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut url = self.shared.resolve(&with_page_size(path))?;
        let mut pages = 0u32;
        loop {
            if pages >= max_pages {
                return Err(ClientError::TooManyPages { path: path.to_owned(), max_pages });
            }
            pages += 1;
            let resp = self.send_url(Method::GET, url, None).await?;
            match field {
                None => items.extend(resp.json::<Vec<T>>()?),
                Some(field) => {
                    let page: serde_json::Value = resp.json()?;
                    let list = match page {
                        serde_json::Value::Array(_) => page,
                        serde_json::Value::Object(mut map) => map.remove(field).unwrap_or_default(),
                        _ => serde_json::Value::Null,
                    };
                    if !list.is_null() {
                        let decoded: Vec<T> = serde_json::from_value(list).map_err(|source| {
                            ClientError::Decode { method: Method::GET, path: path.to_owned(), source }
                        })?;
                        items.extend(decoded);
                    }
                }
            }
            match resp.next_page_url() {
                // resolve() refuses URLs off the API host: the token must not leak.
                Some(next) => url = self.shared.resolve(&next)?,
                None => return Ok(items),
            }
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn parses_link_headers() {
        let h = r#"<https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=3>; rel="last""#;
        assert_eq!(
            link_rel(h, "next").as_deref(),
            Some("https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=2")
        );
        assert_eq!(
            link_rel(h, "last").as_deref(),
            Some("https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=3")
        );
        assert_eq!(link_rel(h, "prev"), None);
        assert_eq!(link_rel("", "next"), None);
        assert_eq!(link_rel("garbage", "next"), None);
        assert_eq!(link_rel("<a,b>; rel=next", "next").as_deref(), Some("a,b"));
        assert_eq!(link_rel(r#"<u>; title="x"; rel="prev next""#, "next").as_deref(), Some("u"));
    }

    #[test]
    fn adds_page_size() {
        assert_eq!(with_page_size("/x"), "/x?per_page=100");
        assert_eq!(with_page_size("/x?state=all"), "/x?state=all&per_page=100");
        assert_eq!(with_page_size("/x?per_page=5"), "/x?per_page=5");
    }
}
