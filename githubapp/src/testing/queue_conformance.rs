//! The behaviour every [`Queue`] backend must have, as one suite of checks that each
//! backend's tests run against a real server. Use it for your own backend too:
//!
//! ```no_run
//! # async fn t() {
//! use std::sync::Arc;
//! use githubapp::tasks::{MemoryQueue, Queue};
//! githubapp::testing::queue_conformance::run_all(|_namespace: String| async move {
//!     Arc::new(MemoryQueue::new()) as Arc<dyn Queue>
//! })
//! .await;
//! # }
//! ```
//!
//! The factory gets a namespace unique to each check, so checks never see each other's
//! tasks even on a shared server. Each check panics with a message naming the broken rule.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::tasks::{Enqueued, NewTask, Queue};

const LEASE: Duration = Duration::from_secs(30);

/// Runs every check, each on a fresh queue from `make(namespace)`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Arc<dyn Queue>>,
{
    let run = fastrand::u32(..);
    let ns = |name: &str| format!("conf{run:08x}_{name}");
    enqueue_lease_complete(make(ns("basic")).await).await;
    payload_and_metadata_round_trip(make(ns("payload")).await).await;
    lease_is_exclusive(make(ns("exclusive")).await).await;
    idempotency_key(make(ns("idem")).await).await;
    retry_then_dead_keeps_error(make(ns("dead")).await).await;
    delayed_tasks_wait(make(ns("delay")).await).await;
    expired_lease_is_taken_over(make(ns("expire")).await).await;
    heartbeat_extends_lease(make(ns("heartbeat")).await).await;
    deliveries_dedupe_and_forget(make(ns("deliveries")).await).await;
    admin_operations(make(ns("admin")).await).await;
    wait_for_work_wakes_on_enqueue(make(ns("wake")).await).await;
    namespaces_are_isolated(make(ns("iso_a")).await, make(ns("iso_b")).await).await;
}

fn task(name: &str) -> NewTask {
    NewTask::new(name, Bytes::from_static(b"{}"))
}

/// Enqueue, lease, complete; completed tasks are gone and counted.
pub async fn enqueue_lease_complete(q: Arc<dyn Queue>) {
    let a = q.enqueue(task("a")).await.expect("enqueue");
    assert!(matches!(a, Enqueued::New(_)), "a new task is Enqueued::New");
    q.enqueue(task("b")).await.expect("enqueue");
    let got = q.lease(10, LEASE).await.expect("lease");
    assert_eq!(got.len(), 2, "both tasks are leased");
    assert!(got.iter().all(|t| t.attempt == 1), "first lease is attempt 1");
    assert!(q.lease(10, LEASE).await.expect("lease").is_empty(), "leased tasks are not leased again");
    let st = q.stats().await.expect("stats");
    assert_eq!(st.running, 2, "stats count running tasks: {st:?}");
    for t in &got {
        q.complete(t).await.expect("complete");
    }
    let st = q.stats().await.expect("stats");
    assert_eq!((st.queued, st.running, st.completed), (0, 0, 2), "completed tasks are counted: {st:?}");
    assert!(q.get(&got[0].id).await.expect("get").is_none(), "finished tasks are not kept");
    assert!(q.complete(&got[0]).await.is_err(), "completing twice is an error, not a panic");
}

/// Payload bytes, name, installation and attempts survive storage unchanged.
pub async fn payload_and_metadata_round_trip(q: Arc<dyn Queue>) {
    let payload = Bytes::from_static(b"{\"a\":1}\n\xff\x00binary \xc3\xa9");
    q.enqueue(NewTask::new("webhook:app::handler", payload.clone()).installation(Some(42)).max_attempts(7))
        .await
        .expect("enqueue");
    let t = q.lease(1, LEASE).await.expect("lease").pop().expect("one task");
    assert_eq!(t.payload, payload, "payload bytes are stored exactly");
    assert_eq!(t.name, "webhook:app::handler");
    assert_eq!(t.installation_id, Some(42), "installation id is kept");
    assert_eq!(t.max_attempts, 7);
    q.complete(&t).await.expect("complete");

    // A payload in two parts (how webhook deliveries are stored) leases as its parts joined,
    // whether the backend joined them or kept them apart, on every attempt.
    let (head, tail) = (Bytes::from_static(b"{\"id\":\"x\"}\n"), Bytes::from(vec![b'z'; 100_000]));
    q.enqueue_parts(NewTask::new("webhook:app::parts", head.clone()).max_attempts(2), tail.clone())
        .await
        .expect("enqueue_parts");
    let whole = [&head[..], &tail[..]].concat();
    let t = q.lease(1, LEASE).await.expect("lease").pop().expect("one task");
    assert_eq!([&t.payload[..], &t.tail[..]].concat(), whole, "a two-part payload is stored exactly");
    q.fail(&t, "again", Some(SystemTime::now())).await.expect("fail");
    let t = q.lease(1, LEASE).await.expect("lease").pop().expect("retried task");
    assert_eq!(t.attempt, 2);
    assert_eq!([&t.payload[..], &t.tail[..]].concat(), whole, "a retried two-part payload is unchanged");
    q.complete(&t).await.expect("complete");
}

/// Two concurrent leasers never get the same task.
pub async fn lease_is_exclusive(q: Arc<dyn Queue>) {
    for i in 0..200 {
        q.enqueue(task(&format!("t{i}"))).await.expect("enqueue");
    }
    let lease_all = |q: Arc<dyn Queue>| async move {
        let mut ids = Vec::new();
        loop {
            let got = q.lease(7, LEASE).await.expect("lease");
            if got.is_empty() {
                break ids;
            }
            ids.extend(got.into_iter().map(|t| t.id));
        }
    };
    let (a, b) = tokio::join!(lease_all(q.clone()), lease_all(q.clone()));
    let mut all: Vec<String> = a.into_iter().chain(b).collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(n, 200, "every task leased");
    assert_eq!(all.len(), 200, "no task leased twice");
}

/// The same idempotency key yields the same task, also after that task completed (the
/// webhook dispatcher relies on it to enqueue a redelivery's background work idempotently).
pub async fn idempotency_key(q: Arc<dyn Queue>) {
    let a = q.enqueue(task("a").idempotency_key("delivery-1:h")).await.expect("enqueue");
    let b = q.enqueue(task("a").idempotency_key("delivery-1:h")).await.expect("enqueue");
    assert!(matches!(a, Enqueued::New(_)));
    assert_eq!(b, Enqueued::Duplicate(a.id().to_string()), "duplicate key returns the first task");
    q.enqueue(task("a").idempotency_key("delivery-2:h")).await.expect("enqueue");
    let leased = q.lease(10, LEASE).await.expect("lease");
    assert_eq!(leased.len(), 2, "one task per key");
    for t in &leased {
        q.complete(t).await.expect("complete");
    }
    let c = q.enqueue(task("a").idempotency_key("delivery-1:h")).await.expect("enqueue");
    assert!(matches!(c, Enqueued::Duplicate(_)), "the key outlives its task: {c:?}");
    assert!(q.lease(10, LEASE).await.expect("lease").is_empty(), "no new task");
}

/// Failed attempts are retried at `retry_at`; the last one is dead-lettered with its error.
pub async fn retry_then_dead_keeps_error(q: Arc<dyn Queue>) {
    q.enqueue(task("a").max_attempts(2)).await.expect("enqueue");
    let t = q.lease(1, LEASE).await.expect("lease").pop().expect("task");
    q.fail(&t, "boom 1", Some(SystemTime::now())).await.expect("fail");
    let t = q.lease(1, LEASE).await.expect("lease").pop().expect("retried task");
    assert_eq!(t.attempt, 2, "retry is attempt 2");
    q.fail(&t, "boom 2", Some(SystemTime::now())).await.expect("fail");
    assert!(q.lease(1, LEASE).await.expect("lease").is_empty(), "no attempts left: dead");
    let dead = q.dead(10).await.expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("boom 2"), "the last error is kept");
    assert_eq!(dead[0].state, "dead");
    let st = q.stats().await.expect("stats");
    assert_eq!((st.dead, st.retried), (1, 1), "{st:?}");

    // fail with no retry time dead-letters at once
    q.enqueue(task("b").max_attempts(5)).await.expect("enqueue");
    let t = q.lease(1, LEASE).await.expect("lease").pop().expect("task");
    q.fail(&t, "permanent", None).await.expect("fail");
    assert_eq!(q.stats().await.expect("stats").dead, 2);
}

/// A task with `run_at` in the future waits; then it runs.
pub async fn delayed_tasks_wait(q: Arc<dyn Queue>) {
    q.enqueue(task("later").delay(Duration::from_secs(3600))).await.expect("enqueue");
    q.enqueue(task("soon").delay(Duration::from_millis(300))).await.expect("enqueue");
    assert!(q.lease(10, LEASE).await.expect("lease").is_empty(), "delayed tasks are not leased early");
    assert_eq!(q.stats().await.expect("stats").scheduled, 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let got = q.lease(10, LEASE).await.expect("lease");
    assert_eq!(got.len(), 1, "the task due is leased");
    assert_eq!(got[0].name, "soon");
}

/// A crashed worker's lease expires and another worker takes the task; the crashed
/// worker's late result is rejected.
pub async fn expired_lease_is_taken_over(q: Arc<dyn Queue>) {
    q.enqueue(task("a").max_attempts(3)).await.expect("enqueue");
    let first = q.lease(1, Duration::from_millis(200)).await.expect("lease").pop().expect("task");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = q.lease(1, LEASE).await.expect("lease").pop().expect("taken over after the lease expired");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempt, 2, "a taken-over run counts as an attempt");
    assert!(q.complete(&first).await.is_err(), "the stale lease cannot complete the task");
    assert!(q.fail(&first, "late", None).await.is_err(), "the stale lease cannot fail the task");
    q.complete(&second).await.expect("complete");

    // an expired lease on the last attempt dead-letters the task
    q.enqueue(task("b").max_attempts(1)).await.expect("enqueue");
    q.lease(1, Duration::from_millis(200)).await.expect("lease").pop().expect("task");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(q.lease(1, LEASE).await.expect("lease").is_empty());
    assert_eq!(q.stats().await.expect("stats").dead, 1, "expired on its last attempt: dead");
}

/// Heartbeats keep a lease alive past its original expiry.
pub async fn heartbeat_extends_lease(q: Arc<dyn Queue>) {
    q.enqueue(task("a")).await.expect("enqueue");
    let t = q.lease(1, Duration::from_millis(500)).await.expect("lease").pop().expect("task");
    q.heartbeat(&t, LEASE).await.expect("heartbeat");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(q.lease(1, LEASE).await.expect("lease").is_empty(), "a heartbeated lease is kept");
    q.complete(&t).await.expect("complete after heartbeat");
}

/// Delivery ids are remembered for their TTL and can be forgotten.
pub async fn deliveries_dedupe_and_forget(q: Arc<dyn Queue>) {
    let ttl = Duration::from_secs(60);
    assert!(q.mark_delivery("d1", ttl).await.expect("mark"), "first sighting");
    assert!(!q.mark_delivery("d1", ttl).await.expect("mark"), "second sighting is a duplicate");
    q.forget_delivery("d1").await.expect("forget");
    assert!(q.mark_delivery("d1", ttl).await.expect("mark"), "forgotten ids are new again");
    assert!(q.mark_delivery("d2", Duration::from_millis(100)).await.expect("mark"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(q.mark_delivery("d2", ttl).await.expect("mark"), "expired ids are new again");
}

/// get / pending / dead / retry / retry_all_dead / purge_dead.
pub async fn admin_operations(q: Arc<dyn Queue>) {
    let a = q.enqueue(task("a")).await.expect("enqueue");
    let info = q.get(a.id()).await.expect("get").expect("task exists");
    assert_eq!((info.name.as_str(), info.state, info.attempts), ("a", "queued", 0));
    assert_eq!(q.pending(10).await.expect("pending").len(), 1);
    assert!(q.get("no-such-task").await.expect("get").is_none());
    for name in ["x", "y"] {
        q.enqueue(task(name)).await.expect("enqueue");
    }
    // kill x and y (a stays queued)
    let leased = q.lease(10, LEASE).await.expect("lease");
    for t in &leased {
        if t.name == "a" {
            q.complete(t).await.expect("complete");
        } else {
            q.fail(t, "dead on purpose", None).await.expect("fail");
        }
    }
    let dead = q.dead(10).await.expect("dead");
    assert_eq!(dead.len(), 2);
    assert!(!q.retry(a.id()).await.expect("retry"), "only dead tasks can be retried");
    assert!(q.retry(&dead[0].id).await.expect("retry"), "a dead task is retried");
    let t = q.lease(10, LEASE).await.expect("lease");
    assert_eq!(t.len(), 1, "the retried task runs again");
    assert_eq!(t[0].attempt, 1, "a retried task gets a fresh set of attempts");
    q.complete(&t[0]).await.expect("complete");
    q.enqueue(task("z")).await.expect("enqueue");
    let z = q.lease(10, LEASE).await.expect("lease").pop().expect("z");
    q.fail(&z, "dead too", None).await.expect("fail");
    assert_eq!(q.retry_all_dead().await.expect("retry all"), 2);
    for t in q.lease(10, LEASE).await.expect("lease") {
        q.fail(&t, "dead again", None).await.expect("fail");
    }
    assert_eq!(q.purge_dead().await.expect("purge"), 2);
    assert!(q.dead(10).await.expect("dead").is_empty());
    assert_eq!(q.stats().await.expect("stats").dead, 0);
}

/// A waiting worker wakes up when a task is enqueued (well before its poll timeout).
pub async fn wait_for_work_wakes_on_enqueue(q: Arc<dyn Queue>) {
    let q2 = q.clone();
    let enqueuer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        q2.enqueue(task("wake")).await.expect("enqueue");
    });
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && start.elapsed() < Duration::from_secs(20) {
        q.wait_for_work(Duration::from_secs(10)).await;
        got = q.lease(1, LEASE).await.expect("lease");
    }
    enqueuer.await.expect("enqueuer");
    assert_eq!(got.len(), 1, "the task was leased after waking");
    assert!(start.elapsed() < Duration::from_secs(5), "woken by the enqueue, not by the 10 s poll timeout");
}

/// Queues in different namespaces do not see each other's tasks or deliveries.
pub async fn namespaces_are_isolated(a: Arc<dyn Queue>, b: Arc<dyn Queue>) {
    a.enqueue(task("only-in-a").idempotency_key("k")).await.expect("enqueue");
    assert!(b.lease(10, LEASE).await.expect("lease").is_empty(), "b does not see a's tasks");
    assert!(matches!(b.enqueue(task("b").idempotency_key("k")).await.expect("enqueue"), Enqueued::New(_)));
    assert!(a.mark_delivery("same-id", Duration::from_secs(60)).await.expect("mark"));
    assert!(
        b.mark_delivery("same-id", Duration::from_secs(60)).await.expect("mark"),
        "deliveries are per namespace"
    );
    assert_eq!(a.lease(10, LEASE).await.expect("lease").len(), 1);
}
