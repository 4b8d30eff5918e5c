use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::Notify;

use super::{BoxFuture, Enqueued, LeasedTask, NewTask, Queue, QueueError, QueueStats, TaskInfo};

/// How long an idempotency key is remembered after enqueue.
const IDEMPOTENCY_TTL: Duration = super::IDEMPOTENCY_TTL;
/// How long dead tasks are kept for inspection.
const DEAD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Delivery ids are remembered until they expire, and at least the most recent 114,688 of
/// them, at most twice as many (see [`Recent`]). 7/8 of a power of two, so a generation's
/// table is exactly full at the cap: 4.3 MB, at most two.
const DELIVERIES_PER_GENERATION: usize = (1 << 17) / 8 * 7;
/// Idempotency keys likewise, twice as many (8.4 MB per table): a delivery with background
/// handlers stores one key per handler, and the keys should outlive the delivery ids.
const KEYS_PER_GENERATION: usize = (1 << 18) / 8 * 7;

/// Keys are 128-bit digests, which keeps memory flat under load: a delivery UUID (lowercase,
/// as GitHub sends them) is its own bits; a background handler's key, `<delivery
/// UUID>:<handler>`, is the UUID's bits mixed with a hash of the rest (so two deliveries' keys
/// for one handler never collide); anything else goes through SipHash twice. The hashes are
/// keyed at random per process, so nobody can make up a colliding key. Keys differ where
/// their strings differ, as in the durable backends.
fn digest(key: &str) -> u128 {
    let b = key.as_bytes();
    if let Some(uuid) = b.get(..36).and_then(parse_uuid) {
        match b.get(36..) {
            // Tagged, so a UUID can never equal the digest of another string by construction.
            Some([]) => return uuid ^ 1,
            Some([b':', rest @ ..]) => return uuid ^ sip128(0x3a, rest),
            _ => {}
        }
    }
    sip128(0x5a, b)
}

/// Two SipHashes of `domain` and `bytes`, with keys drawn at random once per process.
fn sip128(domain: u8, bytes: &[u8]) -> u128 {
    use std::hash::{BuildHasher, Hasher};
    static KEYS: std::sync::OnceLock<[std::collections::hash_map::RandomState; 2]> =
        std::sync::OnceLock::new();
    let [a, b] = KEYS.get_or_init(Default::default).each_ref().map(|keys| {
        let mut h = keys.build_hasher();
        h.write_u8(domain);
        h.write(bytes);
        h.finish()
    });
    (u128::from(a) << 64) | u128::from(b)
}

/// The 128 bits of a UUID in its lowercase 8-4-4-4-12 hex form.
fn parse_uuid(b: &[u8]) -> Option<u128> {
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    // A byte that is not a hex digit sets bit 4 of `bad` (see `HEX`).
    let mut bad = 0;
    let mut push = |v: &mut u64, digits: &[u8]| {
        for &c in digits {
            let d = HEX[usize::from(c)];
            bad |= d;
            *v = (*v << 4) | u64::from(d & 15);
        }
    };
    let (mut hi, mut lo) = (0, 0);
    push(&mut hi, &b[..8]);
    push(&mut hi, &b[9..13]);
    push(&mut hi, &b[14..18]);
    push(&mut lo, &b[19..23]);
    push(&mut lo, &b[24..]);
    (bad & 16 == 0).then_some((u128::from(hi) << 64) | u128::from(lo))
}

/// Lowercase hex digits' values; 16 for every other byte.
const HEX: [u8; 256] = {
    let mut t = [16u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// A hasher for 128-bit digests. They are not uniform: GitHub's delivery ids are time-based
/// (version 1) UUIDs, whose bits barely change from one delivery to the next (the node, clock
/// sequence and most of the timestamp stay the same for minutes), so both halves go through
/// murmur3's finalizer and every bit of the hash depends on every bit of the key. (Used
/// as-is, they put a host's deliveries of the last minutes on one probe chain.)
#[derive(Default, Clone, Copy)]
struct DigestHasher(u64);

/// murmur3's 64-bit finalizer.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = fmix64((v as u64) ^ fmix64((v >> 64) as u64));
    }
    /// Task ids: sequential, so mixed too (hashbrown's tags come from the top bits).
    fn write_u64(&mut self, v: u64) {
        self.0 = fmix64(v);
    }
}

type DigestMap<V> = HashMap<u128, V, std::hash::BuildHasherDefault<DigestHasher>>;
type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<DigestHasher>>;

/// The in-process queue: fast, shared by the web server and the workers of one process,
/// and lost when the process exits. Use it for development and for apps that can afford
/// to lose background work on a restart.
///
/// ```
/// # tokio_test_block_on(async {
/// use githubapp::tasks::{MemoryQueue, NewTask, Queue};
/// use std::time::Duration;
/// let q = MemoryQueue::new();
/// q.enqueue(NewTask::new("hello", "{}")).await.unwrap();
/// let leased = q.lease(10, Duration::from_secs(30)).await.unwrap();
/// assert_eq!(leased.len(), 1);
/// q.complete(&leased[0]).await.unwrap();
/// assert_eq!(q.stats().await.unwrap().completed, 1);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Default)]
pub struct MemoryQueue {
    state: Mutex<State>,
    notify: Notify,
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQueue").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    next_lease: u64,
    tasks: IdMap<Record>,
    /// (run_at ms, id, generation): runnable at run_at if the generation still matches.
    ready: BinaryHeap<Reverse<(u64, u64, u64)>>,
    /// (lease expiry ms, id, lease)
    leases: BTreeSet<(u64, u64, u64)>,
    /// Idempotency key -> task id.
    idempotency: Recent<KEYS_PER_GENERATION>,
    /// Delivery id -> 0 (only the expiry matters).
    deliveries: Recent<DELIVERIES_PER_GENERATION>,
    dead_order: VecDeque<(u64, u64)>,
    completed: u64,
    retried: u64,
}

/// Keys remembered until they expire, in two generations: inserts go to the newer table;
/// once it holds `N` keys, the older table is dropped whole and the newer one takes its
/// place. So at least the last `N` keys are remembered (at most twice as many), and an insert
/// costs one table lookup, a lookup at most two. (An oldest-first queue evicting one key per
/// insert cost two more cache misses per key on large tables.)
struct Recent<const N: usize> {
    /// key -> (expires at, in ms since the epoch; value)
    newer: DigestMap<(u64, u64)>,
    older: DigestMap<(u64, u64)>,
    /// The latest expiry in each table: a table whose keys have all expired is dropped.
    newer_until: u64,
    older_until: u64,
}

impl<const N: usize> Default for Recent<N> {
    fn default() -> Self {
        Recent { newer: DigestMap::default(), older: DigestMap::default(), newer_until: 0, older_until: 0 }
    }
}

impl<const N: usize> Recent<N> {
    /// The value of a key that has not expired. The newer table has the latest insert.
    fn get(&self, key: u128, now: u64) -> Option<u64> {
        let (expires, value) = match self.newer.get(&key) {
            Some(entry) => *entry,
            None => *self.older.get(&key)?,
        };
        (expires > now).then_some(value)
    }

    fn insert(&mut self, key: u128, expires: u64, value: u64, now: u64) {
        if self.older_until <= now && !self.older.is_empty() {
            self.older = DigestMap::default();
        }
        if self.newer_until <= now && !self.newer.is_empty() {
            self.newer.clear();
        }
        if self.newer.len() >= N.max(1) {
            // Sized for a full generation up front: no rehash of a large table later.
            let fresh = DigestMap::with_capacity_and_hasher(N, Default::default());
            self.older = std::mem::replace(&mut self.newer, fresh);
            self.older_until = self.newer_until;
            self.newer_until = 0;
        }
        self.newer.insert(key, (expires, value));
        self.newer_until = self.newer_until.max(expires);
    }

    /// Forgets a key by expiring it in place: a removal would leave a tombstone that takes a
    /// slot of an exactly full table for good, and the next insert would double the table.
    fn remove(&mut self, key: u128) {
        for table in [&mut self.newer, &mut self.older] {
            if let Some(entry) = table.get_mut(&key) {
                entry.0 = 0;
            }
        }
    }
}

struct Record {
    name: String,
    payload: Bytes,
    /// The payload's second part, kept as it came (see [`Queue::enqueue_parts`]).
    tail: Bytes,
    attempts: u32,
    max_attempts: u32,
    installation_id: Option<u64>,
    run_at: u64,
    generation: u64,
    status: Status,
    last_error: Option<String>,
}

impl Record {
    /// A body kept as it arrived shares the HTTP server's read buffer, which can be several
    /// times its size; once the task waits for a retry or is dead (kept 7 days), it gets a
    /// buffer of its own.
    fn compact(&mut self) {
        if !self.tail.is_empty() {
            self.tail = Bytes::copy_from_slice(&self.tail);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Leased { lease: u64, until: u64 },
    Dead,
}

fn now_ms() -> u64 {
    to_ms(SystemTime::now())
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than losing the queue, so recover the guard instead of propagating.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enqueue_now(&self, task: NewTask, tail: Bytes) -> Enqueued {
        let mut s = self.lock();
        let now = now_ms();
        s.prune(now);
        let key = task.idempotency_key.as_deref().map(digest);
        if let Some(key) = key
            && let Some(id) = s.idempotency.get(key, now)
        {
            return Enqueued::Duplicate(id.to_string());
        }
        s.next_id += 1;
        let id = s.next_id;
        let run_at = task.run_at.map(to_ms).unwrap_or(now);
        if let Some(key) = key {
            s.idempotency.insert(key, now + IDEMPOTENCY_TTL.as_millis() as u64, id, now);
        }
        s.tasks.insert(
            id,
            Record {
                name: task.name,
                payload: task.payload,
                tail,
                attempts: 0,
                max_attempts: task.max_attempts.max(1),
                installation_id: task.installation_id,
                run_at,
                generation: 0,
                status: Status::Waiting,
                last_error: None,
            },
        );
        s.ready.push(Reverse((run_at, id, 0)));
        drop(s);
        self.notify.notify_one();
        Enqueued::New(id.to_string())
    }

    fn lease_now(&self, max: usize, lease_for: Duration) -> Vec<LeasedTask> {
        let mut s = self.lock();
        let now = now_ms();
        s.reclaim_expired(now);
        let until = now + lease_for.as_millis() as u64;
        let mut out = Vec::new();
        while out.len() < max {
            let Some(Reverse((run_at, id, generation))) = s.ready.peek().copied() else { break };
            if run_at > now {
                break;
            }
            s.ready.pop();
            s.next_lease += 1;
            let lease = s.next_lease;
            let Some(rec) = s.tasks.get_mut(&id) else { continue };
            if rec.generation != generation || rec.status != Status::Waiting {
                continue; // stale heap entry
            }
            rec.attempts += 1;
            rec.generation += 1;
            rec.status = Status::Leased { lease, until };
            out.push(LeasedTask {
                id: id.to_string(),
                name: rec.name.clone(),
                payload: rec.payload.clone(),
                attempt: rec.attempts,
                max_attempts: rec.max_attempts,
                installation_id: rec.installation_id,
                lease,
                tail: rec.tail.clone(),
            });
            s.leases.insert((until, id, lease));
        }
        out
    }

    /// Runs `f` on the record if `task` still holds its lease.
    fn with_lease<T>(
        &self,
        task: &LeasedTask,
        f: impl FnOnce(&mut State, u64, u64) -> T,
    ) -> Result<T, QueueError> {
        let id: u64 = task.id.parse().map_err(|_| QueueError::NotFound(task.id.clone()))?;
        let mut s = self.lock();
        let until = match s.tasks.get(&id).map(|r| r.status) {
            Some(Status::Leased { lease, until }) if lease == task.lease => until,
            _ => return Err(QueueError::LeaseLost(task.id.clone())),
        };
        s.leases.remove(&(until, id, task.lease));
        Ok(f(&mut s, id, until))
    }
}

impl State {
    fn reclaim_expired(&mut self, now: u64) {
        while let Some(&(until, id, lease)) = self.leases.first() {
            if until > now {
                break;
            }
            self.leases.pop_first();
            if let Some(rec) = self.tasks.get_mut(&id)
                && rec.status == (Status::Leased { lease, until })
            {
                {
                    // The worker died or stalled: the task is runnable again. If that was its
                    // last attempt it is dead-lettered instead.
                    rec.compact();
                    if rec.attempts >= rec.max_attempts {
                        rec.status = Status::Dead;
                        rec.last_error = Some("lease expired (worker crashed or stalled)".into());
                        self.dead_order.push_back((now, id));
                    } else {
                        rec.status = Status::Waiting;
                        rec.run_at = now;
                        self.ready.push(Reverse((now, id, rec.generation)));
                    }
                }
            }
        }
    }

    fn prune(&mut self, now: u64) {
        let dead_before = now.saturating_sub(DEAD_TTL.as_millis() as u64);
        while let Some(&(at, id)) = self.dead_order.front() {
            if at > dead_before {
                break;
            }
            self.dead_order.pop_front();
            if self.tasks.get(&id).is_some_and(|r| r.status == Status::Dead) {
                self.tasks.remove(&id);
            }
        }
    }
}

impl Queue for MemoryQueue {
    fn enqueue(&self, task: NewTask) -> BoxFuture<'_, Result<Enqueued, QueueError>> {
        let out = self.enqueue_now(task, Bytes::new());
        Box::pin(async move { Ok(out) })
    }

    fn keeps_parts(&self) -> bool {
        true
    }

    fn enqueue_parts(&self, task: NewTask, tail: Bytes) -> BoxFuture<'_, Result<Enqueued, QueueError>> {
        let out = self.enqueue_now(task, tail);
        Box::pin(async move { Ok(out) })
    }

    fn lease(&self, max: usize, lease_for: Duration) -> BoxFuture<'_, Result<Vec<LeasedTask>, QueueError>> {
        let out = self.lease_now(max, lease_for);
        Box::pin(async move { Ok(out) })
    }

    fn heartbeat<'a>(
        &'a self,
        task: &'a LeasedTask,
        lease_for: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        let out = self.with_lease(task, |s, id, _| {
            let until = now_ms() + lease_for.as_millis() as u64;
            if let Some(rec) = s.tasks.get_mut(&id) {
                rec.status = Status::Leased { lease: task.lease, until };
            }
            s.leases.insert((until, id, task.lease));
        });
        Box::pin(async move { out })
    }

    fn complete<'a>(&'a self, task: &'a LeasedTask) -> BoxFuture<'a, Result<(), QueueError>> {
        let out = self.with_lease(task, |s, id, _| {
            s.tasks.remove(&id);
            s.completed += 1;
        });
        Box::pin(async move { out })
    }

    fn fail<'a>(
        &'a self,
        task: &'a LeasedTask,
        error: &'a str,
        retry_at: Option<SystemTime>,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        let out = self.with_lease(task, |s, id, _| {
            let now = now_ms();
            let mut wake = false;
            if let Some(rec) = s.tasks.get_mut(&id) {
                rec.last_error = Some(error.to_string());
                rec.compact();
                match retry_at {
                    Some(at) if rec.attempts < rec.max_attempts => {
                        rec.status = Status::Waiting;
                        rec.run_at = to_ms(at);
                        let entry = Reverse((rec.run_at, id, rec.generation));
                        s.ready.push(entry);
                        s.retried += 1;
                        wake = true;
                    }
                    _ => {
                        rec.status = Status::Dead;
                        s.dead_order.push_back((now, id));
                    }
                }
            }
            wake
        });
        if let Ok(true) = out {
            self.notify.notify_one();
        }
        Box::pin(async move { out.map(|_| ()) })
    }

    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'_, ()> {
        let next = {
            let s = self.lock();
            s.ready.peek().map(|Reverse((at, _, _))| *at)
        };
        let timeout = match next {
            Some(at) => timeout.min(Duration::from_millis(at.saturating_sub(now_ms()))),
            None => timeout,
        };
        Box::pin(async move {
            let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
        })
    }

    fn mark_delivery<'a>(
        &'a self,
        delivery_id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        let key = digest(delivery_id);
        let mut s = self.lock();
        let now = now_ms();
        let fresh = s.deliveries.get(key, now).is_none();
        if fresh {
            s.deliveries.insert(key, now + ttl.as_millis() as u64, 0, now);
        }
        Box::pin(async move { Ok(fresh) })
    }

    fn forget_delivery<'a>(&'a self, delivery_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        self.lock().deliveries.remove(digest(delivery_id));
        Box::pin(async move { Ok(()) })
    }

    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>> {
        let s = self.lock();
        let now = now_ms();
        let mut st = QueueStats { completed: s.completed, retried: s.retried, ..QueueStats::default() };
        for rec in s.tasks.values() {
            match rec.status {
                Status::Waiting if rec.run_at <= now => st.queued += 1,
                Status::Waiting => st.scheduled += 1,
                Status::Leased { .. } => st.running += 1,
                Status::Dead => st.dead += 1,
            }
        }
        Box::pin(async move { Ok(st) })
    }

    fn dead(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
        let s = self.lock();
        let out = s
            .dead_order
            .iter()
            .rev()
            .filter_map(|(_, id)| {
                let rec = s.tasks.get(id).filter(|r| r.status == Status::Dead)?;
                Some(TaskInfo {
                    id: id.to_string(),
                    name: rec.name.clone(),
                    state: "dead",
                    attempts: rec.attempts,
                    max_attempts: rec.max_attempts,
                    last_error: rec.last_error.clone(),
                })
            })
            .take(limit)
            .collect();
        Box::pin(async move { Ok(out) })
    }

    fn pending(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
        let s = self.lock();
        let now = now_ms();
        let mut ids: Vec<u64> =
            s.tasks.iter().filter(|(_, r)| r.status != Status::Dead).map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let out = ids.into_iter().take(limit).filter_map(|id| s.info(id, now)).collect();
        Box::pin(async move { Ok(out) })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<TaskInfo>, QueueError>> {
        let s = self.lock();
        let out = id.parse::<u64>().ok().and_then(|id| s.info(id, now_ms()));
        Box::pin(async move { Ok(out) })
    }

    fn retry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, QueueError>> {
        let done = match id.parse::<u64>() {
            Ok(id) => self.lock().revive(id, now_ms()),
            Err(_) => false,
        };
        if done {
            self.notify.notify_one();
        }
        Box::pin(async move { Ok(done) })
    }

    fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        let n = {
            let mut s = self.lock();
            let now = now_ms();
            let dead: Vec<u64> =
                s.tasks.iter().filter(|(_, r)| r.status == Status::Dead).map(|(id, _)| *id).collect();
            dead.into_iter().filter(|id| s.revive(*id, now)).count() as u64
        };
        if n > 0 {
            self.notify.notify_one();
        }
        Box::pin(async move { Ok(n) })
    }

    fn purge_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        let mut s = self.lock();
        let before = s.tasks.len();
        s.tasks.retain(|_, r| r.status != Status::Dead);
        s.dead_order.clear();
        let n = (before - s.tasks.len()) as u64;
        Box::pin(async move { Ok(n) })
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

impl State {
    fn info(&self, id: u64, now: u64) -> Option<TaskInfo> {
        let r = self.tasks.get(&id)?;
        let state = match r.status {
            Status::Waiting if r.run_at <= now => "queued",
            Status::Waiting => "scheduled",
            Status::Leased { .. } => "running",
            Status::Dead => "dead",
        };
        Some(TaskInfo {
            id: id.to_string(),
            name: r.name.clone(),
            state,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            last_error: r.last_error.clone(),
        })
    }

    fn revive(&mut self, id: u64, now: u64) -> bool {
        let Some(r) = self.tasks.get_mut(&id) else { return false };
        if r.status != Status::Dead {
            return false;
        }
        r.status = Status::Waiting;
        r.attempts = 0;
        r.run_at = now;
        r.generation += 1;
        let entry = Reverse((now, id, r.generation));
        self.ready.push(entry);
        self.dead_order.retain(|(_, d)| *d != id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const LEASE: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn conformance() {
        crate::testing::queue_conformance::run_all(|_ns| async {
            Arc::new(MemoryQueue::new()) as Arc<dyn Queue>
        })
        .await;
    }

    #[tokio::test]
    async fn lease_complete() {
        let q = MemoryQueue::new();
        q.enqueue(NewTask::new("a", "1")).await.unwrap();
        q.enqueue(NewTask::new("b", "2")).await.unwrap();
        let got = q.lease(10, LEASE).await.unwrap();
        assert_eq!(got.len(), 2);
        assert!(q.lease(10, LEASE).await.unwrap().is_empty());
        assert_eq!(q.stats().await.unwrap().running, 2);
        for t in &got {
            q.complete(t).await.unwrap();
        }
        let st = q.stats().await.unwrap();
        assert_eq!((st.running, st.completed), (0, 2));
        // completing twice is a lost lease, not a panic
        assert!(matches!(q.complete(&got[0]).await, Err(QueueError::LeaseLost(_))));
    }

    #[tokio::test]
    async fn idempotency_key() {
        let q = MemoryQueue::new();
        let a = q.enqueue(NewTask::new("a", "1").idempotency_key("k")).await.unwrap();
        let b = q.enqueue(NewTask::new("a", "1").idempotency_key("k")).await.unwrap();
        assert!(matches!(a, Enqueued::New(_)));
        assert_eq!(b, Enqueued::Duplicate(a.id().to_string()));
        assert_eq!(q.lease(10, LEASE).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn retry_then_dead_keeps_error() {
        let q = MemoryQueue::new();
        q.enqueue(NewTask::new("a", "1").max_attempts(2)).await.unwrap();
        let t = q.lease(1, LEASE).await.unwrap().remove(0);
        assert_eq!(t.attempt, 1);
        q.fail(&t, "boom 1", Some(SystemTime::now())).await.unwrap();
        let t = q.lease(1, LEASE).await.unwrap().remove(0);
        assert_eq!(t.attempt, 2);
        q.fail(&t, "boom 2", Some(SystemTime::now())).await.unwrap();
        assert!(q.lease(1, LEASE).await.unwrap().is_empty());
        let dead = q.dead(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].last_error.as_deref(), Some("boom 2"));
        assert_eq!(q.stats().await.unwrap().dead, 1);
    }

    #[tokio::test]
    async fn delayed_tasks_wait() {
        let q = MemoryQueue::new();
        q.enqueue(NewTask::new("a", "1").delay(Duration::from_secs(3600))).await.unwrap();
        assert!(q.lease(1, LEASE).await.unwrap().is_empty());
        assert_eq!(q.stats().await.unwrap().scheduled, 1);
    }

    #[tokio::test]
    async fn expired_lease_is_taken_over() {
        let q = MemoryQueue::new();
        q.enqueue(NewTask::new("a", "1").max_attempts(3)).await.unwrap();
        let first = q.lease(1, Duration::from_millis(1)).await.unwrap().remove(0);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = q.lease(1, LEASE).await.unwrap().remove(0);
        assert_eq!(second.id, first.id);
        assert_eq!(second.attempt, 2);
        // the crashed worker's late result is rejected
        assert!(q.complete(&first).await.is_err());
        q.complete(&second).await.unwrap();
    }

    #[tokio::test]
    async fn heartbeat_keeps_lease() {
        let q = MemoryQueue::new();
        q.enqueue(NewTask::new("a", "1")).await.unwrap();
        let t = q.lease(1, Duration::from_millis(20)).await.unwrap().remove(0);
        q.heartbeat(&t, LEASE).await.unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(q.lease(1, LEASE).await.unwrap().is_empty());
        q.complete(&t).await.unwrap();
    }

    #[tokio::test]
    async fn a_two_part_payload_is_kept_without_a_copy() {
        let q = MemoryQueue::new();
        let tail = Bytes::from(vec![7u8; 24_000]);
        q.enqueue_parts(NewTask::new("webhook:m::h", "{}\n").max_attempts(2), tail.clone()).await.unwrap();
        let t = q.lease(1, Duration::from_secs(30)).await.unwrap().pop().unwrap();
        assert_eq!(&t.payload[..], b"{}\n");
        assert_eq!(t.tail.as_ptr(), tail.as_ptr(), "the body is shared, not copied");
        // A failed attempt waits for its retry with a body of its own, equal to the first.
        q.fail(&t, "again", Some(SystemTime::now())).await.unwrap();
        let t = q.lease(1, Duration::from_secs(30)).await.unwrap().pop().unwrap();
        assert_eq!(t.tail, tail);
        assert_ne!(t.tail.as_ptr(), tail.as_ptr(), "no longer pins the request's buffer");
    }

    #[test]
    fn time_based_delivery_ids_spread_over_the_table() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        // GitHub's delivery ids are version 1 UUIDs: from one host, within minutes, only the
        // low 32 bits of the timestamp change (the example from GitHub's docs, time_low varied).
        let hasher = BuildHasherDefault::<DigestHasher>::default();
        let hashes: Vec<u64> = (0..4096u32)
            .map(|i| {
                let id = format!("{:08x}-b361-11eb-836d-0e4f3503ccbe", 0x5847_4f00u32.wrapping_add(i * 977));
                hasher.hash_one(digest(&id))
            })
            .collect();
        // hashbrown picks the bucket from the low bits and the tag from the top 7: both must
        // vary. 4096 random values fill ~2589 of 4096 buckets; a fold of the raw halves fills 1.
        let buckets: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 4095).collect();
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() > 2400, "low bits barely vary: {} distinct of 4096", buckets.len());
        assert_eq!(tags.len(), 128, "the top 7 bits do not take every value");
    }

    #[test]
    fn digests_tell_keys_apart() {
        let id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
        let other = "72d3162e-cc78-11e3-81ab-4c9367dc0959";
        // Another string, another key (as in the durable backends), even for the same UUID.
        let upper = id.to_uppercase();
        assert_ne!(digest(id), digest(&upper));
        assert_eq!(digest(&upper), sip128(0x5a, upper.as_bytes()));
        assert_ne!(digest(id), digest(other));
        // A background handler's key: distinct per delivery and per handler, never the id's.
        let key = |id: &str, h: &str| digest(&format!("{id}:{h}"));
        assert_ne!(key(id, "app::a"), key(other, "app::a"));
        assert_ne!(key(id, "app::a"), key(id, "app::b"));
        assert_ne!(key(id, "app::a"), digest(id));
        assert_eq!(key(id, "app::a") ^ key(other, "app::a"), digest(id) ^ digest(other));
        // Not a UUID (dashes elsewhere, a bad digit, other lengths): hashed as a string.
        for s in [
            "72d3162e-cc78-11e3-81ab-4c9367dc095-",
            "-72d3162ecc78-11e3-81ab-4c9367dc0958",
            "72d3162e-cc78-11e3-81ab-4c9367dc095g",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958x",
            "",
            "x",
        ] {
            assert_eq!(digest(s), sip128(0x5a, s.as_bytes()), "{s:?}");
            assert_ne!(digest(s), digest(id));
        }
        assert_eq!(parse_uuid(id.as_bytes()), Some(0x72d3162e_cc78_11e3_81ab_4c9367dc0958));
    }

    #[test]
    fn recent_keys_live_two_generations_and_expire() {
        let mut r = Recent::<3>::default();
        let (now, later) = (1_000, 10_000);
        for k in 1..=3 {
            r.insert(k, later, k as u64 * 10, now);
        }
        assert_eq!(r.get(2, now), Some(20));
        // The fourth key starts a generation: the first three are still remembered.
        r.insert(4, later, 40, now);
        assert_eq!((r.newer.len(), r.older.len()), (1, 3));
        assert!((1..=4).all(|k| r.get(k, now).is_some()));
        // Two generations on: keys older than the last `N` may go.
        for k in 5..=7 {
            r.insert(k, later, 0, now);
        }
        assert_eq!(r.get(1, now), None, "dropped with its generation");
        assert!((5..=7).all(|k| r.get(k, now).is_some()), "the last N keys are kept");
        // A re-inserted key answers from the newer table; removal clears both.
        r.insert(5, later + 1, 55, now);
        assert_eq!(r.get(5, now), Some(55));
        r.remove(5);
        assert_eq!(r.get(5, now), None);
        // Expired keys are not answered, and a table of expired keys is dropped on insert.
        assert_eq!(r.get(6, later), None);
        r.insert(100, later + 500, 1, later);
        assert!(r.older.is_empty(), "the older generation had expired");
        assert_eq!((r.get(100, later), r.get(7, later)), (Some(1), None));
        // A newer table whose keys have all expired is emptied instead of rotated.
        r.insert(101, later + 600, 2, later + 550);
        assert_eq!((r.newer.len(), r.older.len(), r.get(101, later + 550)), (1, 0, Some(2)));
    }

    #[tokio::test]
    async fn many_deliveries_keep_the_recent_ones_and_memory_bounded() {
        let q = MemoryQueue::new();
        let ttl = Duration::from_secs(60);
        let n = 2 * DELIVERIES_PER_GENERATION + 1;
        for i in 0..n {
            assert!(q.mark_delivery(&format!("d{i}"), ttl).await.unwrap());
        }
        for i in n - DELIVERIES_PER_GENERATION..n {
            assert!(!q.mark_delivery(&format!("d{i}"), ttl).await.unwrap(), "d{i} was forgotten");
        }
        assert!(q.mark_delivery("d0", ttl).await.unwrap(), "the oldest generation was dropped");
        let s = q.lock();
        assert!(s.deliveries.newer.len() + s.deliveries.older.len() <= 2 * DELIVERIES_PER_GENERATION);
    }

    /// Forgetting keys (every failed delivery does) must not grow an exactly full table.
    #[test]
    fn forgetting_keys_keeps_the_table_size() {
        let mut r = Recent::<DELIVERIES_PER_GENERATION>::default();
        let now = 1;
        // Spread-out keys, as digests are; every 50th one forgotten and never seen again.
        let key = |i: u128| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        let mut i = 0;
        while r.newer.len() < DELIVERIES_PER_GENERATION {
            r.insert(key(i), 100, 0, now);
            if i % 50 == 0 {
                r.remove(key(i));
                assert_eq!(r.get(key(i), now), None);
            }
            i += 1;
        }
        assert!(r.newer.capacity() <= DELIVERIES_PER_GENERATION, "grew to {}", r.newer.capacity());
        r.insert(key(1 << 40), 100, 0, now); // rotates: the full table becomes the older one
        assert_eq!((r.get(key(1), now), r.get(key(50), now)), (Some(0), None));
    }

    #[tokio::test]
    async fn deliveries_dedupe_and_forget() {
        let q = MemoryQueue::new();
        let ttl = Duration::from_secs(60);
        assert!(q.mark_delivery("d1", ttl).await.unwrap());
        assert!(!q.mark_delivery("d1", ttl).await.unwrap());
        q.forget_delivery("d1").await.unwrap();
        assert!(q.mark_delivery("d1", ttl).await.unwrap());
        assert!(q.mark_delivery("d2", Duration::ZERO).await.unwrap());
        assert!(q.mark_delivery("d2", ttl).await.unwrap(), "expired ids are forgotten");
    }
}
