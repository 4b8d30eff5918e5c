use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use githubapp::testing::FakeGitHub;
use githubapp::{App, Registry};

pub const SECRET: &str = "it-secret";

/// A real example payload from `fixtures/github-webhooks/payloads/<event>/<label>.json`.
pub fn fixture(event: &str, label: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/github-webhooks/payloads")
        .join(event)
        .join(format!("{label}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A real payload as a GitHub App receives it: with `installation.id` set (payloads
/// recorded from repository webhooks have none).
pub fn app_fixture(event: &str, label: &str, installation: u64) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture(event, label)).unwrap();
    v["installation"] =
        serde_json::json!({ "id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" });
    serde_json::to_vec(&v).unwrap()
}

/// What handlers saw, in order.
#[derive(Default)]
pub struct Seen {
    calls: Mutex<Vec<String>>,
}

impl Seen {
    pub fn push(&self, what: impl Into<String>) {
        self.calls.lock().unwrap().push(what.into());
    }
    pub fn count(&self, what: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| *c == what).count()
    }
    pub async fn wait_for(&self, what: &str, n: usize) -> bool {
        for _ in 0..500 {
            if self.count(what) >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

/// An app with only the handlers of `module` (a module path prefix), talking to `github`.
pub fn app(github: &FakeGitHub, module: &str, seen: std::sync::Arc<Seen>) -> App {
    app_builder(github, module, seen).build().expect("app builds")
}

/// The builder of [`app`], for tests that change a setting.
pub fn app_builder(github: &FakeGitHub, module: &str, seen: std::sync::Arc<Seen>) -> githubapp::AppBuilder {
    let prefix = format!("{module}::");
    App::builder()
        .webhook_secret(SECRET)
        .app_id(github.app_id())
        .private_key(github.private_key_pem())
        .api_url(github.url())
        // Generous: a loaded CI machine must not turn a quick handler into a 202.
        .webhook_deadline(Duration::from_secs(2))
        .worker_config({
            let mut w = githubapp::tasks::WorkerConfig::default();
            w.poll_interval = Duration::from_millis(20);
            w
        })
        .registry(Registry::global().filter(move |name| name.starts_with(&prefix)))
        .state(SharedSeen(seen))
}

/// `State<SharedSeen>` lets every test own its own recorder.
pub struct SharedSeen(pub std::sync::Arc<Seen>);

impl std::ops::Deref for SharedSeen {
    type Target = Seen;
    fn deref(&self) -> &Seen {
        &self.0
    }
}

/// A running `serve_with` of `app` (with workers) on a loopback port: its address, the
/// sender that stops it, and the task to await for its result.
pub async fn serve(
    app: App,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<githubapp::Result<()>>)
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_with(listener, true, async move {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

/// A client that sends the headers of a webhook POST and never its body, holding the
/// request in flight; wait a moment after this for the server to be reading it.
pub async fn stalled_request(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    stalled
}
