//! Typed methods for the endpoints the framework and its examples use.
//!
//! Repository endpoints need an installation (or user) client; app endpoints
//! (`list_installations`, `get_installation_for_repo`) always use the app JWT, whichever
//! client they are called on; `/user/*` endpoints need a user token.

use serde_json::json;

use super::models::{
    CheckRun, CommitFile, Deployment, DeploymentStatus, Installation, Issue, IssueComment, Label,
    NewCheckRun, NewDeployment, NewDeploymentStatus, Organization, RepoPermission, RepositoryInfo,
};
use super::repo::repo_path;
use super::transport::{Auth, encode_segment};
use super::{Client, ClientError, RepoRef};

impl Client {
    /// Fails early for repository operations on an app-level (JWT) client, which GitHub would
    /// refuse anyway.
    fn require_repo_auth(&self, operation: &'static str) -> Result<(), ClientError> {
        match self.auth {
            Auth::App => Err(ClientError::NoInstallation { operation }),
            _ => Ok(()),
        }
    }

    fn require_user(&self, operation: &'static str) -> Result<(), ClientError> {
        match self.auth {
            Auth::User(_) => Ok(()),
            _ => Err(ClientError::Auth(format!(
                "{operation} needs a user token: use `Client::with_user_token`"
            ))),
        }
    }

    /// Opens an issue.
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let issue = gh.create_issue("octo-org/hello-world", "Found a bug", Some("Steps: ...")).await?;
    /// println!("opened #{}", issue.number);
    /// # Ok(()) }
    /// ```
    pub async fn create_issue(
        &self,
        repo: impl RepoRef,
        title: &str,
        body: Option<&str>,
    ) -> Result<Issue, ClientError> {
        self.require_repo_auth("create_issue")?;
        let mut payload = json!({ "title": title });
        if let Some(body) = body {
            payload["body"] = body.into();
        }
        self.post(&format!("{}/issues", repo_path(&repo)?), &payload).await
    }

    /// Comments on an issue or pull request.
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// gh.create_issue_comment("octo-org/hello-world", 12, "Thanks for the report!").await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_issue_comment(
        &self,
        repo: impl RepoRef,
        number: u64,
        body: &str,
    ) -> Result<IssueComment, ClientError> {
        self.require_repo_auth("create_issue_comment")?;
        let path = format!("{}/issues/{number}/comments", repo_path(&repo)?);
        self.post(&path, &json!({ "body": body })).await
    }

    /// Adds labels to an issue or pull request; returns all of its labels.
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// gh.add_labels("octo-org/hello-world", 12, &["bug", "triage"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_labels(
        &self,
        repo: impl RepoRef,
        number: u64,
        labels: &[&str],
    ) -> Result<Vec<Label>, ClientError> {
        self.require_repo_auth("add_labels")?;
        let path = format!("{}/issues/{number}/labels", repo_path(&repo)?);
        self.post(&path, &json!({ "labels": labels })).await
    }

    /// The files a commit changed (all pages; GitHub stops at 3000 files).
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// for file in gh.get_commit_files("octo-org/hello-world", "6dcb09b").await? {
    ///     println!("{} {}", file.status, file.filename);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_commit_files(
        &self,
        repo: impl RepoRef,
        sha: &str,
    ) -> Result<Vec<CommitFile>, ClientError> {
        self.require_repo_auth("get_commit_files")?;
        let path = format!("{}/commits/{}", repo_path(&repo)?, encode_segment(sha));
        self.paginate_field(&path, "files").await
    }

    /// The files a pull request changes (all pages; GitHub stops at 3000 files).
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let files = gh.list_pull_request_files("octo-org/hello-world", 7).await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_pull_request_files(
        &self,
        repo: impl RepoRef,
        number: u64,
    ) -> Result<Vec<CommitFile>, ClientError> {
        self.require_repo_auth("list_pull_request_files")?;
        self.paginate(&format!("{}/pulls/{number}/files", repo_path(&repo)?)).await
    }

    /// Creates a check run.
    ///
    /// ```no_run
    /// use githubapp::client::{CheckRunConclusion, NewCheckRun};
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let run = NewCheckRun {
    ///     conclusion: Some(CheckRunConclusion::Success),
    ///     ..NewCheckRun::new("lint", "6dcb09b5b57875f334f61aebed695e2e4193db5e")
    /// };
    /// gh.create_check_run("octo-org/hello-world", &run).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_check_run(
        &self,
        repo: impl RepoRef,
        check_run: &NewCheckRun,
    ) -> Result<CheckRun, ClientError> {
        self.require_repo_auth("create_check_run")?;
        self.post(&format!("{}/check-runs", repo_path(&repo)?), check_run).await
    }

    /// Creates a deployment.
    ///
    /// ```no_run
    /// use githubapp::client::NewDeployment;
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let deployment = NewDeployment {
    ///     environment: Some("production".into()),
    ///     required_contexts: Some(vec![]),
    ///     ..NewDeployment::new("main")
    /// };
    /// let created = gh.create_deployment("octo-org/hello-world", &deployment).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_deployment(
        &self,
        repo: impl RepoRef,
        deployment: &NewDeployment,
    ) -> Result<Deployment, ClientError> {
        self.require_repo_auth("create_deployment")?;
        self.post(&format!("{}/deployments", repo_path(&repo)?), deployment).await
    }

    /// Adds a status to a deployment.
    ///
    /// ```no_run
    /// use githubapp::client::{DeploymentState, NewDeploymentStatus};
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let status = NewDeploymentStatus {
    ///     environment_url: Some("https://example.com".into()),
    ///     ..NewDeploymentStatus::new(DeploymentState::Success)
    /// };
    /// gh.create_deployment_status("octo-org/hello-world", 42, &status).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_deployment_status(
        &self,
        repo: impl RepoRef,
        deployment_id: u64,
        status: &NewDeploymentStatus,
    ) -> Result<DeploymentStatus, ClientError> {
        self.require_repo_auth("create_deployment_status")?;
        let path = format!("{}/deployments/{deployment_id}/statuses", repo_path(&repo)?);
        self.post(&path, status).await
    }

    /// A user's permission on a repository (`admin`, `write`, `read` or `none`).
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// if gh.get_repo_permission("octo-org/hello-world", "octocat").await?.can_write() {
    ///     // allow the deploy
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_repo_permission(
        &self,
        repo: impl RepoRef,
        username: &str,
    ) -> Result<RepoPermission, ClientError> {
        self.require_repo_auth("get_repo_permission")?;
        let path = format!("{}/collaborators/{}/permission", repo_path(&repo)?, encode_segment(username));
        self.get(&path).await
    }

    /// The repositories an installation client can reach (`GET /installation/repositories`,
    /// all pages).
    pub async fn list_installation_repos(&self) -> Result<Vec<RepositoryInfo>, ClientError> {
        match self.auth {
            Auth::Installation(_) => {}
            _ => return Err(ClientError::NoInstallation { operation: "list_installation_repos" }),
        }
        self.paginate_field("/installation/repositories", "repositories").await
    }

    /// Every installation of the app (`GET /app/installations`, app JWT, all pages).
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// for installation in gh.list_installations().await? {
    ///     let account = installation.account.map(|a| a.login).unwrap_or_default();
    ///     println!("{} on {account}", installation.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_installations(&self) -> Result<Vec<Installation>, ClientError> {
        self.app_auth()?;
        self.as_app().paginate("/app/installations").await
    }

    /// The app's installation on a repository (`GET /repos/{owner}/{repo}/installation`, app JWT).
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client) -> Result<(), githubapp::client::ClientError> {
    /// let installation = gh.get_installation_for_repo("octo-org/hello-world").await?;
    /// let gh = gh.installation(installation.id);
    /// # Ok(()) }
    /// ```
    pub async fn get_installation_for_repo(&self, repo: impl RepoRef) -> Result<Installation, ClientError> {
        self.app_auth()?;
        self.as_app().get(&format!("{}/installation", repo_path(&repo)?)).await
    }

    /// The signed-in user's repositories (`GET /user/repos`, user token, all pages).
    ///
    /// ```no_run
    /// # async fn demo(gh: githubapp::client::Client, token: String) -> Result<(), githubapp::client::ClientError> {
    /// let repos = gh.with_user_token(token).list_user_repos().await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_user_repos(&self) -> Result<Vec<RepositoryInfo>, ClientError> {
        self.require_user("list_user_repos")?;
        self.paginate("/user/repos").await
    }

    /// The signed-in user's organizations (`GET /user/orgs`, user token, all pages).
    pub async fn list_user_orgs(&self) -> Result<Vec<Organization>, ClientError> {
        self.require_user("list_user_orgs")?;
        self.paginate("/user/orgs").await
    }
}
