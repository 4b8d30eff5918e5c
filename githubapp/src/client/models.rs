//! Small serde types for the typed client methods.
//!
//! Answers are tolerant: every field has a default, unknown fields are ignored and a
//! timestamp that does not parse is `None`, so a new or missing field in GitHub's answer never
//! fails a call. For anything not covered here, use [`Client::get`](super::Client::get) and
//! friends with your own types or `serde_json::Value`.
//!
//! Request bodies (`New*`) serialize only the fields that are set:
//!
//! ```
//! use githubapp::client::{CheckRunConclusion, CheckRunOutput, NewCheckRun};
//!
//! let run = NewCheckRun {
//!     conclusion: Some(CheckRunConclusion::Success),
//!     output: Some(CheckRunOutput::new("Lint", "No problems found")),
//!     ..NewCheckRun::new("lint", "6dcb09b5b57875f334f61aebed695e2e4193db5e")
//! };
//! let json = serde_json::to_value(&run)?;
//! assert_eq!(json["conclusion"], "success");
//! assert!(json.get("details_url").is_none());
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// Timestamps in answers: RFC 3339, or `None` when absent, null or unparsable.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => {
            DateTime::parse_from_rfc3339(&s).ok().map(|t| t.with_timezone(&Utc))
        }
        Some(serde_json::Value::Number(n)) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)),
        _ => None,
    })
}

/// A user or organization as GitHub embeds it in other objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SimpleUser {
    /// Login, e.g. `octocat`.
    pub login: String,
    /// Numeric id.
    pub id: u64,
    /// `User`, `Organization` or `Bot`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Profile page.
    pub html_url: Option<String>,
    /// Avatar image.
    pub avatar_url: Option<String>,
}

/// An issue label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Label {
    /// Numeric id.
    pub id: u64,
    /// Name, e.g. `bug`.
    pub name: String,
    /// Hex colour without `#`.
    pub color: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether it is one of GitHub's default labels.
    pub default: bool,
}

/// An issue (or pull request seen as an issue).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Issue {
    /// Numeric id.
    pub id: u64,
    /// The number in its repository (`#12`).
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: Option<String>,
    /// API URL.
    pub url: Option<String>,
    /// Web page.
    pub html_url: Option<String>,
    /// Author.
    pub user: Option<SimpleUser>,
    /// Labels.
    pub labels: Vec<Label>,
    /// Creation time.
    #[serde(deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct IssueComment {
    /// Numeric id.
    pub id: u64,
    /// Body (Markdown).
    pub body: Option<String>,
    /// API URL.
    pub url: Option<String>,
    /// Web page.
    pub html_url: Option<String>,
    /// The issue's API URL.
    pub issue_url: Option<String>,
    /// Author.
    pub user: Option<SimpleUser>,
    /// Creation time.
    #[serde(deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
}

/// A file changed by a commit or pull request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CommitFile {
    /// Blob SHA (absent for some binary or very large changes).
    pub sha: Option<String>,
    /// Path in the repository.
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed` or `unchanged`.
    pub status: String,
    /// Lines added.
    pub additions: u64,
    /// Lines removed.
    pub deletions: u64,
    /// Lines changed.
    pub changes: u64,
    /// The diff hunk (absent for binary or very large files).
    pub patch: Option<String>,
    /// The old path of a renamed file.
    pub previous_filename: Option<String>,
    /// Web URL of the blob.
    pub blob_url: Option<String>,
    /// Raw content URL.
    pub raw_url: Option<String>,
    /// Contents API URL.
    pub contents_url: Option<String>,
}

/// A check run's status, for [`NewCheckRun`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckRunStatus {
    /// Queued.
    Queued,
    /// Running.
    InProgress,
    /// Finished (set a conclusion).
    Completed,
    /// Waiting (GitHub Actions only).
    Waiting,
    /// Requested (GitHub Actions only).
    Requested,
    /// Pending (GitHub Actions only).
    Pending,
}

/// A finished check run's conclusion, for [`NewCheckRun`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckRunConclusion {
    /// Needs a user's action (set `details_url`).
    ActionRequired,
    /// Cancelled.
    Cancelled,
    /// Failed.
    Failure,
    /// Neither success nor failure.
    Neutral,
    /// Succeeded.
    Success,
    /// Skipped.
    Skipped,
    /// Timed out.
    TimedOut,
}

/// An annotation on a line range, inside [`CheckRunOutput`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckRunAnnotation {
    /// Path in the repository.
    pub path: String,
    /// First line.
    pub start_line: u64,
    /// Last line.
    pub end_line: u64,
    /// `notice`, `warning` or `failure`.
    pub annotation_level: String,
    /// The message.
    pub message: String,
    /// A title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Extra details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_details: Option<String>,
}

/// The report shown on a check run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckRunOutput {
    /// Title.
    pub title: String,
    /// Summary (Markdown).
    pub summary: String,
    /// Details (Markdown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Up to 50 annotations per request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<CheckRunAnnotation>,
}

impl CheckRunOutput {
    /// An output with a title and summary.
    pub fn new(title: impl Into<String>, summary: impl Into<String>) -> Self {
        CheckRunOutput { title: title.into(), summary: summary.into(), ..Default::default() }
    }
}

/// The body of `POST /repos/{owner}/{repo}/check-runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewCheckRun {
    /// Name, e.g. `lint`.
    pub name: String,
    /// The commit.
    pub head_sha: String,
    /// Link to details on your site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_url: Option<String>,
    /// Your own reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Status (GitHub defaults to `queued`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CheckRunStatus>,
    /// Start time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// Conclusion (implies `completed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<CheckRunConclusion>,
    /// End time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// The report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<CheckRunOutput>,
}

impl NewCheckRun {
    /// A check run with a name on a commit; set the other fields with struct update syntax.
    pub fn new(name: impl Into<String>, head_sha: impl Into<String>) -> Self {
        NewCheckRun { name: name.into(), head_sha: head_sha.into(), ..Default::default() }
    }
}

/// A check run as GitHub returns it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CheckRun {
    /// Numeric id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// The commit.
    pub head_sha: String,
    /// Status.
    pub status: Option<String>,
    /// Conclusion.
    pub conclusion: Option<String>,
    /// Your reference.
    pub external_id: Option<String>,
    /// API URL.
    pub url: Option<String>,
    /// Web page.
    pub html_url: Option<String>,
    /// Link to details.
    pub details_url: Option<String>,
    /// Start time.
    #[serde(deserialize_with = "lenient_time")]
    pub started_at: Option<DateTime<Utc>>,
    /// End time.
    #[serde(deserialize_with = "lenient_time")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// The body of `POST /repos/{owner}/{repo}/deployments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewDeployment {
    /// Branch, tag or SHA to deploy.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Task, e.g. `deploy` (GitHub's default) or `deploy:migrations`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Merge the default branch into `ref` first (GitHub's default: true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_merge: Option<bool>,
    /// Status contexts that must pass; `Some(vec![])` skips the check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_contexts: Option<Vec<String>>,
    /// Extra JSON for the deployer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// Environment, e.g. `production` (GitHub's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The environment goes away later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transient_environment: Option<bool>,
    /// The environment is a production one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_environment: Option<bool>,
}

impl NewDeployment {
    /// A deployment of a ref; set the other fields with struct update syntax.
    pub fn new(git_ref: impl Into<String>) -> Self {
        NewDeployment { git_ref: git_ref.into(), ..Default::default() }
    }
}

/// A deployment as GitHub returns it.
///
/// When GitHub merged the default branch first it answers 202 with only a `message`
/// (`id` is then 0).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Deployment {
    /// Numeric id (0 on a 202 answer).
    pub id: u64,
    /// The deployed commit.
    pub sha: Option<String>,
    /// The ref asked for.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Task.
    pub task: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Extra JSON.
    pub payload: serde_json::Value,
    /// Who created it.
    pub creator: Option<SimpleUser>,
    /// API URL.
    pub url: Option<String>,
    /// Statuses URL.
    pub statuses_url: Option<String>,
    /// Creation time.
    #[serde(deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    /// GitHub's message on a 202 answer.
    pub message: Option<String>,
}

/// A deployment status's state, for [`NewDeploymentStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeploymentState {
    /// Error.
    Error,
    /// Failure.
    Failure,
    /// Inactive.
    Inactive,
    /// In progress.
    InProgress,
    /// Queued.
    Queued,
    /// Pending.
    Pending,
    /// Success.
    Success,
}

/// The body of `POST /repos/{owner}/{repo}/deployments/{id}/statuses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDeploymentStatus {
    /// The state.
    pub state: DeploymentState,
    /// Link to the deployment's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_url: Option<String>,
    /// Description (up to 140 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Environment (defaults to the deployment's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The deployed site's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_url: Option<String>,
    /// Mark earlier successful deployments to the same environment inactive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_inactive: Option<bool>,
}

impl NewDeploymentStatus {
    /// A status with a state; set the other fields with struct update syntax.
    pub fn new(state: DeploymentState) -> Self {
        NewDeploymentStatus {
            state,
            log_url: None,
            description: None,
            environment: None,
            environment_url: None,
            auto_inactive: None,
        }
    }
}

/// A deployment status as GitHub returns it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DeploymentStatus {
    /// Numeric id.
    pub id: u64,
    /// State (`success`, `failure`, ...).
    pub state: String,
    /// Description.
    pub description: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// The deployed site's URL.
    pub environment_url: Option<String>,
    /// Log URL.
    pub log_url: Option<String>,
    /// Who created it.
    pub creator: Option<SimpleUser>,
    /// API URL.
    pub url: Option<String>,
    /// The deployment's API URL.
    pub deployment_url: Option<String>,
    /// Creation time.
    #[serde(deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
}

/// An installation of the app.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Installation {
    /// Installation id (what [`Client::installation`](super::Client::installation) takes).
    pub id: u64,
    /// The account it is installed on.
    pub account: Option<SimpleUser>,
    /// The app.
    pub app_id: u64,
    /// The app's slug.
    pub app_slug: Option<String>,
    /// `Organization` or `User`.
    pub target_type: Option<String>,
    /// `all` or `selected`.
    pub repository_selection: Option<String>,
    /// Granted permissions, e.g. `issues: write`.
    pub permissions: BTreeMap<String, String>,
    /// Subscribed events.
    pub events: Vec<String>,
    /// Web page.
    pub html_url: Option<String>,
    /// Set when suspended.
    #[serde(deserialize_with = "lenient_time")]
    pub suspended_at: Option<DateTime<Utc>>,
}

/// A user's permissions on a repository, inside [`RepositoryInfo`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RepositoryPermissions {
    /// Admin.
    pub admin: bool,
    /// Maintain.
    pub maintain: bool,
    /// Write.
    pub push: bool,
    /// Triage.
    pub triage: bool,
    /// Read.
    pub pull: bool,
}

/// A repository as GitHub lists it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RepositoryInfo {
    /// Numeric id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `owner/name`.
    pub full_name: String,
    /// Owner.
    pub owner: Option<SimpleUser>,
    /// Private or not.
    pub private: bool,
    /// Web page.
    pub html_url: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Default branch.
    pub default_branch: Option<String>,
    /// Archived.
    pub archived: bool,
    /// The caller's permissions (user-token lists only).
    pub permissions: Option<RepositoryPermissions>,
}

impl super::RepoRef for RepositoryInfo {
    fn owner(&self) -> &str {
        super::split_full_name(&self.full_name).0
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// An organization as `/user/orgs` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Organization {
    /// Login.
    pub login: String,
    /// Numeric id.
    pub id: u64,
    /// Description.
    pub description: Option<String>,
    /// API URL.
    pub url: Option<String>,
    /// Avatar image.
    pub avatar_url: Option<String>,
}

/// A user's permission on a repository
/// (`GET /repos/{owner}/{repo}/collaborators/{username}/permission`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RepoPermission {
    /// `admin`, `write`, `read` or `none` (`maintain` counts as `write`, `triage` as `read`).
    pub permission: String,
    /// The precise role: `admin`, `maintain`, `write`, `triage`, `read` or a custom role.
    pub role_name: Option<String>,
    /// The user.
    pub user: Option<SimpleUser>,
}

impl RepoPermission {
    /// `admin`.
    pub fn is_admin(&self) -> bool {
        self.permission == "admin"
    }

    /// `write` or `admin`.
    pub fn can_write(&self) -> bool {
        matches!(self.permission.as_str(), "admin" | "write")
    }

    /// Anything but `none`.
    pub fn can_read(&self) -> bool {
        matches!(self.permission.as_str(), "admin" | "write" | "read")
    }
}
