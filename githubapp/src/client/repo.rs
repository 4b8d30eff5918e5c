//! [`RepoRef`]: anything that names a repository.

use super::ClientError;
use super::transport::encode_segment;

/// Anything that names a repository: `"owner/name"`, `("owner", "name")`, a `String`, a
/// webhook payload's repository, or a reference to any of these.
///
/// ```
/// use githubapp::client::RepoRef;
///
/// assert_eq!("octo-org/hello-world".owner(), "octo-org");
/// assert_eq!("octo-org/hello-world".name(), "hello-world");
/// assert_eq!(("octo-org", "hello-world").full_name(), "octo-org/hello-world");
/// assert_eq!(String::from("a/b").name(), "b");
/// ```
///
/// Implementing it for a type that keeps a `full_name` takes [`split_full_name`]:
///
/// ```
/// use githubapp::client::{RepoRef, split_full_name};
///
/// struct MyRepo { full_name: String }
///
/// impl RepoRef for MyRepo {
///     fn owner(&self) -> &str { split_full_name(&self.full_name).0 }
///     fn name(&self) -> &str { split_full_name(&self.full_name).1 }
/// }
/// ```
pub trait RepoRef {
    /// The owner's login (user or organization).
    fn owner(&self) -> &str;
    /// The repository's name, without the owner.
    fn name(&self) -> &str;
    /// `owner/name`.
    fn full_name(&self) -> String {
        format!("{}/{}", self.owner(), self.name())
    }
}

/// Splits `"owner/name"` at the first `/`; without one, the owner is the whole string and the
/// name is empty (which the client rejects before sending anything).
///
/// ```
/// assert_eq!(githubapp::client::split_full_name("a/b"), ("a", "b"));
/// assert_eq!(githubapp::client::split_full_name("ab"), ("ab", ""));
/// ```
pub fn split_full_name(full_name: &str) -> (&str, &str) {
    full_name.split_once('/').unwrap_or((full_name, ""))
}

impl RepoRef for str {
    fn owner(&self) -> &str {
        split_full_name(self).0
    }
    fn name(&self) -> &str {
        split_full_name(self).1
    }
}

impl RepoRef for String {
    fn owner(&self) -> &str {
        split_full_name(self).0
    }
    fn name(&self) -> &str {
        split_full_name(self).1
    }
}

impl RepoRef for (&str, &str) {
    fn owner(&self) -> &str {
        self.0
    }
    fn name(&self) -> &str {
        self.1
    }
}

impl RepoRef for (String, String) {
    fn owner(&self) -> &str {
        &self.0
    }
    fn name(&self) -> &str {
        &self.1
    }
}

impl<T: RepoRef + ?Sized> RepoRef for &T {
    fn owner(&self) -> &str {
        (**self).owner()
    }
    fn name(&self) -> &str {
        (**self).name()
    }
}

impl<T: RepoRef + ?Sized> RepoRef for Box<T> {
    fn owner(&self) -> &str {
        (**self).owner()
    }
    fn name(&self) -> &str {
        (**self).name()
    }
}

/// A webhook payload's repository: `gh.create_issue_comment(&event.repository, ...)`.
impl RepoRef for crate::events::Repository {
    fn owner(&self) -> &str {
        split_full_name(&self.full_name).0
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// `/repos/{owner}/{name}` with both parts percent-encoded, after checking they are usable.
pub(crate) fn repo_path(repo: &(impl RepoRef + ?Sized)) -> Result<String, ClientError> {
    let (owner, name) = (repo.owner(), repo.name());
    let bad = |s: &str| s.is_empty() || s.contains('/') || s == "." || s == "..";
    if bad(owner) || bad(name) {
        return Err(ClientError::InvalidRequest(format!(
            "{:?} is not a repository reference: expected \"owner/name\"",
            repo.full_name()
        )));
    }
    Ok(format!("/repos/{}/{}", encode_segment(owner), encode_segment(name)))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn builds_repo_paths() {
        assert_eq!(repo_path("o/r").ok().as_deref(), Some("/repos/o/r"));
        assert_eq!(repo_path(&("o w", "r.s")).ok().as_deref(), Some("/repos/o%20w/r.s"));
        assert!(repo_path("noslash").is_err());
        assert!(repo_path("o/r/x").is_err());
        assert!(repo_path("/r").is_err());
        assert!(repo_path("o/..").is_err());
    }
}
