//! Configuration from the environment (prefix `GITHUBAPP_`), a `.env` file, or the builder.
//!
//! Each subcommand asks only for what it uses: [`Config::require_webhook`] for the web
//! server, [`Config::require_app`] for the GitHub client. A missing or malformed setting is
//! one [`ConfigError`] naming the variable and the fix. Secrets are held in [`Secret`], which
//! never prints its value.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A secret string: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret value. Keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"<redacted>\")")
    }
}

/// A configuration error: which setting, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is not set.
    #[error("{var} is not set: {hint}")]
    Missing {
        /// The environment variable.
        var: &'static str,
        /// How to fix it.
        hint: &'static str,
    },
    /// A setting is set but malformed.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The environment variable.
        var: &'static str,
        /// What is wrong (never the value of a secret).
        reason: String,
    },
}

/// Which task queue backend to use (`GITHUBAPP_TASK_QUEUE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueKind {
    /// In-process; work is lost when the process exits. The default.
    #[default]
    Memory,
    /// A SQLite file (`GITHUBAPP_DATABASE_URL=sqlite://app.db`): durable, one machine.
    Sqlite,
    /// PostgreSQL (`GITHUBAPP_DATABASE_URL=postgres://...`): durable, shared by many workers.
    Postgres,
    /// Redis (`GITHUBAPP_REDIS_URL`): shared by many workers.
    Redis,
}

impl QueueKind {
    /// The name used in `GITHUBAPP_TASK_QUEUE`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Memory => "memory",
            QueueKind::Sqlite => "sqlite",
            QueueKind::Postgres => "postgres",
            QueueKind::Redis => "redis",
        }
    }
}

/// Log output format (`GITHUBAPP_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Everything githubapp reads from the environment. Build it with [`Config::from_env`] or
/// field by field through [`crate::App::builder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// `GITHUBAPP_ID`: the App's numeric id.
    pub app_id: Option<u64>,
    /// `GITHUBAPP_PRIVATE_KEY` (PEM, `\n` escapes allowed) or `GITHUBAPP_PRIVATE_KEY_PATH`.
    pub private_key: Option<Secret>,
    /// `GITHUBAPP_WEBHOOK_SECRET`.
    pub webhook_secret: Option<Secret>,
    /// `GITHUBAPP_WEBHOOK_SECRET_PREVIOUS`: still accepted during a rotation.
    pub webhook_secret_previous: Option<Secret>,
    /// `GITHUBAPP_WEBHOOK_PATH`, default `/webhooks/github`.
    pub webhook_path: String,
    /// `GITHUBAPP_API_URL`, default `https://api.github.com` (GHES: `https://HOST/api/v3`).
    pub api_url: String,
    /// `GITHUBAPP_WEB_URL`, default `https://github.com`.
    pub web_url: String,
    /// `GITHUBAPP_BIND`, default `0.0.0.0:3000`.
    pub bind: SocketAddr,
    /// `GITHUBAPP_TASK_QUEUE`, default `memory`.
    pub task_queue: QueueKind,
    /// `GITHUBAPP_TASK_NAMESPACE`, default `githubapp`: isolates apps sharing one server
    /// (it prefixes tables and keys).
    pub task_namespace: String,
    /// `GITHUBAPP_REDIS_URL`, for `GITHUBAPP_TASK_QUEUE=redis`.
    pub redis_url: Option<Secret>,
    /// `GITHUBAPP_DATABASE_URL`, for `sqlite`, `postgres` and `database`.
    pub database_url: Option<Secret>,
    /// `GITHUBAPP_WORKERS`: concurrent tasks per queue per process (the default queue and
    /// each named queue get this many), default 8.
    pub workers: usize,
    /// `GITHUBAPP_TASK_LEASE`: how long a worker holds a task without a heartbeat before
    /// another worker may take it over (a crashed worker's tasks wait this long); default `30s`.
    pub task_lease: Duration,
    /// `GITHUBAPP_LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `GITHUBAPP_WEBHOOK_DEADLINE`: how long after a delivery reaches the dispatcher it is
    /// answered 202 if its foreground handlers are still running (they finish after the
    /// response); the queue's time to record it counts too. Default `8s` (GitHub waits 10 s).
    pub webhook_deadline: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            app_id: None,
            private_key: None,
            webhook_secret: None,
            webhook_secret_previous: None,
            webhook_path: "/webhooks/github".into(),
            api_url: "https://api.github.com".into(),
            web_url: "https://github.com".into(),
            bind: SocketAddr::from(([0, 0, 0, 0], 3000)),
            task_queue: QueueKind::Memory,
            task_namespace: "githubapp".into(),
            redis_url: None,
            database_url: None,
            workers: 8,
            task_lease: Duration::from_secs(30),
            log_format: LogFormat::Pretty,
            webhook_deadline: Duration::from_secs(8),
        }
    }
}

/// Loads `.env` (from the working directory or a parent) into the environment, without
/// overriding variables already set. No file is fine; a line that does not parse is an
/// error naming its line and variable, never its value (it may be a secret).
pub(crate) fn load_dotenv() -> Result<(), ConfigError> {
    // Found here rather than by dotenvy (the same search), so an error can point into it.
    let Some(path) = std::env::current_dir()
        .ok()
        .and_then(|dir| dir.ancestors().map(|d| d.join(".env")).find(|p| p.is_file()))
    else {
        return Ok(());
    };
    match dotenvy::from_path(&path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::LineParse(text, _)) => {
            Err(ConfigError::Invalid { var: ".env", reason: unparsable_dotenv_line(&path, &text) })
        }
        Err(e) => Err(ConfigError::Invalid { var: ".env", reason: format!("cannot read it: {e}") }),
    }
}

/// Where in the `.env` file at `path` is `failing`, the text dotenvy refused (a whole line, or
/// only its value: maybe a secret, so it is never shown): its line number, and the variable
/// that line sets if it has the `NAME=` form.
fn unparsable_dotenv_line(path: &std::path::Path, failing: &str) -> String {
    const FIX: &str = "write `NAME=value`, and quote a value with spaces or `#`: `NAME=\"a b\"`";
    let shown = path.display();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let failing = failing.trim();
    let Some(at) = (!failing.is_empty()).then(|| text.find(failing)).flatten() else {
        return format!("a line of `{shown}` cannot be parsed; {FIX}");
    };
    let number = text[..at].matches('\n').count() + 1;
    let line = text[at..].lines().next().unwrap_or("");
    let line = text[..at].rsplit('\n').next().unwrap_or("").to_string() + line;
    let name = line
        .split_once('=')
        .map(|(name, _)| name.trim())
        .map(|name| name.strip_prefix("export ").unwrap_or(name).trim())
        .filter(|name| {
            !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        });
    format!(
        "line {number}{} of `{shown}` cannot be parsed; {FIX}",
        name.map(|name| format!(" (`{name}`)")).unwrap_or_default()
    )
}

impl Config {
    /// Reads `GITHUBAPP_*` variables (after loading `.env` if present, without overriding
    /// variables already set).
    pub fn from_env() -> Result<Config, ConfigError> {
        load_dotenv()?;
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup` (the environment in production; a map in tests).
    ///
    /// ```
    /// use githubapp::config::Config;
    /// let env = |k: &str| match k {
    ///     "GITHUBAPP_ID" => Some("42".to_string()),
    ///     "GITHUBAPP_WEBHOOK_SECRET" => Some("s3cret".to_string()),
    ///     _ => None,
    /// };
    /// let config = Config::from_lookup(env).unwrap();
    /// assert_eq!(config.app_id, Some(42));
    /// assert_eq!(config.webhook_path, "/webhooks/github");
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let mut c = Config::default();
        if let Some(v) = get("GITHUBAPP_ID") {
            c.app_id = Some(v.trim().parse().map_err(|_| ConfigError::Invalid {
                var: "GITHUBAPP_ID",
                reason: "expected the App's numeric id (App settings > About > App ID)".into(),
            })?);
        }
        c.private_key = match (get("GITHUBAPP_PRIVATE_KEY"), get("GITHUBAPP_PRIVATE_KEY_PATH")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    var: "GITHUBAPP_PRIVATE_KEY",
                    reason: "set either GITHUBAPP_PRIVATE_KEY or GITHUBAPP_PRIVATE_KEY_PATH, not both".into(),
                });
            }
            (Some(pem), None) => Some(Secret::new(pem.replace("\\n", "\n"))),
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let pem = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                    var: "GITHUBAPP_PRIVATE_KEY_PATH",
                    reason: format!("cannot read `{}`: {e}", path.display()),
                })?;
                Some(Secret::new(pem))
            }
            (None, None) => None,
        };
        // An explicitly empty secret is an error, not "no secret": it would accept anything.
        if let Some(v) = lookup("GITHUBAPP_WEBHOOK_SECRET") {
            if v.is_empty() {
                return Err(ConfigError::Invalid {
                    var: "GITHUBAPP_WEBHOOK_SECRET",
                    reason: "the secret is empty; set the webhook secret of the App's settings".into(),
                });
            }
            c.webhook_secret = Some(Secret::new(v));
        }
        c.webhook_secret_previous = get("GITHUBAPP_WEBHOOK_SECRET_PREVIOUS").map(Secret::new);
        if let Some(v) = get("GITHUBAPP_WEBHOOK_PATH") {
            if !v.starts_with('/') {
                return Err(ConfigError::Invalid {
                    var: "GITHUBAPP_WEBHOOK_PATH",
                    reason: format!("`{v}` must start with `/`"),
                });
            }
            c.webhook_path = v;
        }
        if let Some(v) = get("GITHUBAPP_API_URL") {
            c.api_url = parse_url("GITHUBAPP_API_URL", &v)?;
        }
        if let Some(v) = get("GITHUBAPP_WEB_URL") {
            c.web_url = parse_url("GITHUBAPP_WEB_URL", &v)?;
        }
        if let Some(v) = get("GITHUBAPP_BIND") {
            c.bind = v.trim().parse().map_err(|_| ConfigError::Invalid {
                var: "GITHUBAPP_BIND",
                reason: format!("`{v}` is not an address like `0.0.0.0:3000` or `127.0.0.1:8080`"),
            })?;
        }
        c.redis_url = get("GITHUBAPP_REDIS_URL").map(Secret::new);
        c.database_url = get("GITHUBAPP_DATABASE_URL").map(Secret::new);
        if let Some(v) = get("GITHUBAPP_TASK_QUEUE") {
            c.task_queue = match v.trim() {
                "memory" => QueueKind::Memory,
                "sqlite" => QueueKind::Sqlite,
                "postgres" | "postgresql" => QueueKind::Postgres,
                "redis" => QueueKind::Redis,
                "database" => match c.database_url.as_ref().map(|u| u.expose().to_string()) {
                    Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                        QueueKind::Postgres
                    }
                    Some(u) if u.starts_with("sqlite:") => QueueKind::Sqlite,
                    Some(_) => {
                        return Err(ConfigError::Invalid {
                            var: "GITHUBAPP_DATABASE_URL",
                            reason: "`database` needs a `postgres://` or `sqlite://` URL".into(),
                        });
                    }
                    None => {
                        return Err(ConfigError::Missing {
                            var: "GITHUBAPP_DATABASE_URL",
                            hint: "GITHUBAPP_TASK_QUEUE=database takes its backend from this URL (postgres:// or sqlite://)",
                        });
                    }
                },
                other => {
                    return Err(ConfigError::Invalid {
                        var: "GITHUBAPP_TASK_QUEUE",
                        reason: format!(
                            "unknown backend `{other}`; expected `memory`, `sqlite`, `postgres`, `redis` or `database`"
                        ),
                    });
                }
            };
        }
        if let Some(v) = get("GITHUBAPP_TASK_NAMESPACE") {
            let valid = v.len() <= 40
                && v.starts_with(|ch: char| ch.is_ascii_lowercase())
                && v.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
            if !valid {
                return Err(ConfigError::Invalid {
                    var: "GITHUBAPP_TASK_NAMESPACE",
                    reason: format!("`{v}` must be 1-40 of `a-z`, `0-9`, `_`, starting with a letter"),
                });
            }
            c.task_namespace = v;
        }
        if let Some(v) = get("GITHUBAPP_WORKERS") {
            c.workers = match v.trim().parse::<usize>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "GITHUBAPP_WORKERS",
                        reason: format!("`{v}` is not a number of workers between 1 and 10000"),
                    });
                }
            };
        }
        if let Some(v) = get("GITHUBAPP_LOG_FORMAT") {
            c.log_format = match v.trim() {
                "pretty" | "text" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::Invalid {
                        var: "GITHUBAPP_LOG_FORMAT",
                        reason: format!("unknown format `{other}`; expected `pretty` or `json`"),
                    });
                }
            };
        }
        if let Some(v) = get("GITHUBAPP_TASK_LEASE") {
            c.task_lease = parse_duration(&v).filter(|d| *d >= Duration::from_secs(1)).ok_or_else(|| {
                ConfigError::Invalid {
                    var: "GITHUBAPP_TASK_LEASE",
                    reason: format!("`{v}` is not a duration of at least 1s, like `30s` or `2m`"),
                }
            })?;
        }
        if let Some(v) = get("GITHUBAPP_WEBHOOK_DEADLINE") {
            c.webhook_deadline = parse_duration(&v)
                .filter(|d| !d.is_zero() && *d < Duration::from_secs(10))
                .ok_or_else(|| ConfigError::Invalid {
                    var: "GITHUBAPP_WEBHOOK_DEADLINE",
                    reason: format!(
                        "`{v}` is not a duration below GitHub's 10 s limit, like `8s` or `2500ms`"
                    ),
                })?;
        }
        Ok(c)
    }

    /// The webhook secrets to accept, current first. Fails when none is set: an unset secret
    /// must never mean "accept every delivery".
    pub fn require_webhook(&self) -> Result<Vec<Secret>, ConfigError> {
        let current = self.webhook_secret.clone().ok_or(ConfigError::Missing {
            var: "GITHUBAPP_WEBHOOK_SECRET",
            hint: "set it to the webhook secret of your GitHub App (App settings > Webhook secret)",
        })?;
        if current.expose().is_empty() {
            return Err(ConfigError::Invalid {
                var: "GITHUBAPP_WEBHOOK_SECRET",
                reason: "the secret is empty".into(),
            });
        }
        let mut secrets = vec![current];
        secrets.extend(self.webhook_secret_previous.clone());
        Ok(secrets)
    }

    /// The App id and private key, needed for any call to GitHub as the App.
    pub fn require_app(&self) -> Result<(u64, Secret), ConfigError> {
        let id = self.app_id.ok_or(ConfigError::Missing {
            var: "GITHUBAPP_ID",
            hint: "set it to your GitHub App's numeric id (App settings > About > App ID)",
        })?;
        let key = self.private_key.clone().ok_or(ConfigError::Missing {
            var: "GITHUBAPP_PRIVATE_KEY",
            hint: "set GITHUBAPP_PRIVATE_KEY (PEM) or GITHUBAPP_PRIVATE_KEY_PATH (a .pem file from App settings > Private keys)",
        })?;
        Ok((id, key))
    }
}

fn parse_url(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let v = v.trim().trim_end_matches('/');
    if !(v.starts_with("https://") || v.starts_with("http://")) {
        return Err(ConfigError::Invalid { var, reason: format!("`{v}` is not an http(s) URL") });
    }
    Ok(v.to_string())
}

/// Parses `500ms`, `30s`, `5m`, `1h`.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.webhook_path, "/webhooks/github");
        assert_eq!(c.api_url, "https://api.github.com");
        assert_eq!(c.bind.port(), 3000);
        assert!(c.require_webhook().is_err());
        assert!(c.require_app().is_err());
    }

    #[test]
    fn errors_name_the_variable() {
        for (pairs, var) in [
            (vec![("GITHUBAPP_ID", "abc")], "GITHUBAPP_ID"),
            (vec![("GITHUBAPP_BIND", "nope")], "GITHUBAPP_BIND"),
            (vec![("GITHUBAPP_WEBHOOK_SECRET", "")], "GITHUBAPP_WEBHOOK_SECRET"),
            (vec![("GITHUBAPP_TASK_QUEUE", "kafka")], "GITHUBAPP_TASK_QUEUE"),
            (vec![("GITHUBAPP_TASK_QUEUE", "database")], "GITHUBAPP_DATABASE_URL"),
            (
                vec![("GITHUBAPP_TASK_QUEUE", "database"), ("GITHUBAPP_DATABASE_URL", "mysql://x")],
                "GITHUBAPP_DATABASE_URL",
            ),
            (vec![("GITHUBAPP_TASK_NAMESPACE", "My-App")], "GITHUBAPP_TASK_NAMESPACE"),
            (vec![("GITHUBAPP_WORKERS", "0")], "GITHUBAPP_WORKERS"),
            (vec![("GITHUBAPP_LOG_FORMAT", "xml")], "GITHUBAPP_LOG_FORMAT"),
            (vec![("GITHUBAPP_WEBHOOK_PATH", "hooks")], "GITHUBAPP_WEBHOOK_PATH"),
            (vec![("GITHUBAPP_API_URL", "ftp://x")], "GITHUBAPP_API_URL"),
            (vec![("GITHUBAPP_WEBHOOK_DEADLINE", "12s")], "GITHUBAPP_WEBHOOK_DEADLINE"),
            (vec![("GITHUBAPP_PRIVATE_KEY_PATH", "/nonexistent/key.pem")], "GITHUBAPP_PRIVATE_KEY_PATH"),
        ] {
            let err = cfg(&pairs).unwrap_err().to_string();
            assert!(err.starts_with(var), "{err}");
        }
    }

    #[test]
    fn queue_backends() {
        let kind = |pairs: &[(&str, &str)]| cfg(pairs).unwrap().task_queue;
        assert_eq!(kind(&[]), QueueKind::Memory);
        assert_eq!(kind(&[("GITHUBAPP_TASK_QUEUE", "redis")]), QueueKind::Redis);
        assert_eq!(
            kind(&[("GITHUBAPP_TASK_QUEUE", "database"), ("GITHUBAPP_DATABASE_URL", "postgres://u:pw@h/db")]),
            QueueKind::Postgres
        );
        assert_eq!(
            kind(&[("GITHUBAPP_TASK_QUEUE", "database"), ("GITHUBAPP_DATABASE_URL", "sqlite://app.db")]),
            QueueKind::Sqlite
        );
        let c = cfg(&[("GITHUBAPP_DATABASE_URL", "postgres://u:hunter2@h/db")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"), "URLs with passwords are secrets");
    }

    #[test]
    fn secrets_are_redacted() {
        let c =
            cfg(&[("GITHUBAPP_WEBHOOK_SECRET", "hunter2"), ("GITHUBAPP_PRIVATE_KEY", "PEMDATA")]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("PEMDATA"), "{shown}");
        assert_eq!(c.require_webhook().unwrap()[0].expose(), "hunter2");
    }

    #[test]
    fn escaped_newlines_in_key() {
        let c = cfg(&[("GITHUBAPP_PRIVATE_KEY", "-----BEGIN-----\\nabc\\n-----END-----")]).unwrap();
        assert_eq!(c.private_key.unwrap().expose(), "-----BEGIN-----\nabc\n-----END-----");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("s"), None);
    }
}
