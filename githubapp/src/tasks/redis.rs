//! The `redis` task queue backend: tasks shared by every `worker` process that points at the
//! same Redis server and namespace.
//!
//! ```no_run
//! # async fn run() -> Result<(), githubapp::tasks::QueueError> {
//! use std::time::Duration;
//! use githubapp::tasks::{NewTask, Queue};
//! use githubapp::tasks::redis::RedisQueue;
//!
//! let q = RedisQueue::connect("redis://127.0.0.1:6379", "myapp").await?;
//! q.enqueue(NewTask::new("hello", "{}").max_attempts(5)).await?;
//! for task in q.lease(16, Duration::from_secs(30)).await? {
//!     // ... run it ...
//!     q.complete(&task).await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! Every key of a namespace starts with `githubapp:{<namespace>}:` (the braces are a Redis
//! Cluster hash tag, so one namespace lives in one slot):
//!
//! | key | type | contents |
//! |-----|------|----------|
//! | `schema` | string | schema version of the namespace (`1`) |
//! | `seq`, `lseq` | string | task id and lease token counters |
//! | `t:<id>` | string | the task: `<max attempts>\|<installation>\|<name length>\|<name><payload bytes>` |
//! | `att` | hash | task id → attempts started (absent: 0) |
//! | `err` | hash | task id → last error |
//! | `ready` | sorted set | waiting task ids scored by `run_at` (ms since the epoch) |
//! | `leased` | sorted set | `<id>:<lease token>` scored by lease expiry (ms) |
//! | `dead` | sorted set | dead task ids scored by time of death (ms); pruned after 7 days |
//! | `pending` | sorted set | unfinished task ids scored by id, for [`Queue::pending`] |
//! | `stats` | hash | `completed` and `retried` counters |
//! | `idem:<key>` | string | task id for an idempotency key, expires 4 days after enqueue ([`super::IDEMPOTENCY_TTL`]) |
//! | `dlv:<id>` | string | a seen webhook delivery id, expires after its TTL |
//! | `wake` | pub/sub channel | published on enqueue and retry, wakes idle workers |
//!
//! A task's state is where its id is: in `ready` (queued, or scheduled if its score is in the
//! future), in `dead`, or else running (its lease is a member of `leased`). Removing the
//! `leased` member checks and ends a lease in one command, so a stale lease can neither
//! complete nor fail the task.
//!
//! Every state change is one Lua script (`EVALSHA`, loaded again automatically after a server
//! restart), so it is atomic; no script walks the keyspace (`KEYS`/`SCAN` are never used) and
//! every loop inside a script is bounded. The hot paths touch many tasks per command (`MGET`,
//! multi-field `HSET`, multi-member `ZADD`/`ZREM`), and concurrent `enqueue` and `complete`
//! calls of one process are sent together as one script call (group commit): under load a
//! task costs a fraction of a round trip; with no load each call is one round trip.
//!
//! Times inside scripts come from the Redis server clock (`TIME`), so lease expiry is judged by
//! one clock for every worker process (a worker whose clock runs ahead cannot take over
//! leases early); only an explicit `run_at`/`retry_at` is taken from the caller's clock.
//!
//! Requires Redis 6.2 or later (RESP3 for the wake-up subscription, `ZMSCORE`). Run Redis with
//! `maxmemory-policy noeviction`: an evicted task key is a lost task.

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{
    Client, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisError, Script, ScriptInvocation,
    Value,
};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{BoxFuture, Enqueued, LeasedTask, NewTask, Queue, QueueError, QueueStats, TaskInfo};

/// The schema version this code writes; a namespace created by a newer version is refused.
const SCHEMA_VERSION: i64 = 1;
/// Each connection attempt gives up after this (two attempts per call at most).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Each command (all are bounded scripts) gives up after this, so a dead or silent server makes
/// calls fail within seconds (well inside GitHub's 10 s webhook timeout) instead of hanging.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an idempotency key is remembered after enqueue.
const IDEMPOTENCY_TTL: Duration = super::IDEMPOTENCY_TTL;
/// Most tasks leased in one call (keeps each script call short).
const MAX_LEASE_BATCH: usize = 1000;
/// Most rows returned by `pending` / `dead` in one call.
const MAX_LIST: usize = 10_000;
/// Most completions sent in one script call.
const COMPLETE_BATCH: usize = 256;
/// Most enqueues sent in one script call...
const ENQUEUE_BATCH: usize = 256;
/// ...and about the most task bytes.
const ENQUEUE_BATCH_BYTES: usize = 1 << 20;

/// Shared by every script. KEYS: 1 ready, 2 leased, 3 dead, 4 pending, 5 stats, 6 seq, 7 lseq,
/// 8 att, 9 err; ARGV[1] is the key prefix (task and per-key strings are derived from it, all in
/// the namespace's hash slot).
const PRELUDE: &str = r#"
local P = ARGV[1]
local READY, LEASED, DEAD, PENDING, STATS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local ATT, ERR = KEYS[8], KEYS[9]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(n) return string.format('%d', n) end
"#;

/// Helpers for the scripts that dead-letter, wake, forget or describe tasks.
const HELPERS: &str = r#"
local DEAD_TTL = 604800000
local function wake() redis.call('PUBLISH', P .. 'wake', '1') end
-- Max attempts and name from the task's header, or nil if there is no such task.
local function meta(id)
  local k = P .. 't:' .. id
  local head = redis.call('GETRANGE', k, 0, 255)
  local max, nlen, pos = string.match(head, '^(%d+)|%d*|(%d+)|()')
  if not max then return nil end
  nlen = tonumber(nlen)
  local name
  if pos + nlen - 1 <= #head then
    name = string.sub(head, pos, pos + nlen - 1)
  else
    name = redis.call('GETRANGE', k, pos - 1, pos + nlen - 2)
  end
  return tonumber(max), name
end
-- Deletes everything stored for these tasks (not their set memberships).
local function forget(ids)
  if #ids == 0 then return 0 end
  local keys = {}
  for i, id in ipairs(ids) do keys[i] = P .. 't:' .. id end
  local n = redis.call('DEL', unpack(keys))
  redis.call('HDEL', ATT, unpack(ids))
  redis.call('HDEL', ERR, unpack(ids))
  return n
end
-- Deletes dead tasks older than 7 days, a bounded batch per call.
local function prune(now)
  local old = redis.call('ZRANGEBYSCORE', DEAD, '-inf', fmt(now - DEAD_TTL), 'LIMIT', 0, 100)
  if #old > 0 then
    forget(old)
    redis.call('ZREM', DEAD, unpack(old))
  end
end
-- Dead-letters a task that is in no other set.
local function bury(id, now)
  redis.call('ZADD', DEAD, fmt(now), id)
  redis.call('ZREM', PENDING, id)
  prune(now)
end
local function info(id, now)
  local max, name = meta(id)
  if not max then return false end
  local state = 'running'
  local at = redis.call('ZSCORE', READY, id)
  if at then
    if tonumber(at) > now then state = 'scheduled' else state = 'queued' end
  elseif redis.call('ZSCORE', DEAD, id) then
    state = 'dead'
  end
  local attempts = tonumber(redis.call('HGET', ATT, id) or '0')
  return {id, name, state, attempts, max, redis.call('HGET', ERR, id)}
end
"#;

/// Creates or checks the schema version. ARGV: 2 version.
const SCHEMA: &str = r#"
local v = redis.call('GET', P .. 'schema')
if not v then
  redis.call('SET', P .. 'schema', ARGV[2])
  return tonumber(ARGV[2])
end
return tonumber(v)
"#;

/// ARGV: 2 idempotency TTL ms, then 4 per task: encoded task, run_at ms or '' (now),
/// '1' if it has an idempotency key or '0', the key. Returns {1, id} (new) or {0, id}
/// (duplicate) per task.
const ENQUEUE_MANY: &str = r#"
local now = fmt(now_ms())
local n = (#ARGV - 2) / 4
local out, new, first_of = {}, {}, {}
for i = 1, n do
  local b = 2 + (i - 1) * 4
  if ARGV[b + 3] == '1' then
    local key = ARGV[b + 4]
    if first_of[key] then
      out[i] = first_of[key]
    else
      local existing = redis.call('GET', P .. 'idem:' .. key)
      if existing then
        out[i] = {0, existing}
      else
        first_of[key] = i
        new[#new + 1] = i
      end
    end
  else
    new[#new + 1] = i
  end
end
if #new > 0 then
  local base = redis.call('INCRBY', KEYS[6], #new) - #new
  local tasks, ready, pending = {}, {}, {}
  for j, i in ipairs(new) do
    local b = 2 + (i - 1) * 4
    local id = fmt(base + j)
    out[i] = {1, id}
    tasks[#tasks + 1] = P .. 't:' .. id
    tasks[#tasks + 1] = ARGV[b + 1]
    local run_at = ARGV[b + 2]
    if run_at == '' then run_at = now end
    ready[#ready + 1] = run_at
    ready[#ready + 1] = id
    pending[#pending + 1] = id
    pending[#pending + 1] = id
    if ARGV[b + 3] == '1' then
      redis.call('SET', P .. 'idem:' .. ARGV[b + 4], id, 'PX', ARGV[2])
    end
  end
  redis.call('MSET', unpack(tasks))
  redis.call('ZADD', READY, unpack(ready))
  redis.call('ZADD', PENDING, unpack(pending))
  wake()
end
-- A key repeated within the batch names the batch's new task.
for i = 1, n do
  if type(out[i]) == 'number' then out[i] = {0, out[out[i]][2]} end
end
return out
"#;

/// Reclaims expired leases (back to ready, or dead on the last attempt), then leases up to
/// ARGV[2] due tasks for ARGV[3] ms. Returns {{id, encoded task, attempt, lease}}.
const LEASE: &str = r#"
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', LEASED, '-inf', fmt(now), 'LIMIT', 0, 500)
if #expired > 0 then
  redis.call('ZREM', LEASED, unpack(expired))
  for _, member in ipairs(expired) do
    local id = string.match(member, '^(%d+):')
    local max = meta(id)
    if max then
      if tonumber(redis.call('HGET', ATT, id) or '0') >= max then
        redis.call('HSET', ERR, id, 'lease expired (worker crashed or stalled)')
        bury(id, now)
      else
        redis.call('ZADD', READY, fmt(now), id)
      end
    else
      redis.call('ZREM', PENDING, id)
      forget({id})
    end
  end
end
local out = {}
-- The due tasks are the first ones by rank: one range read and one rank removal take them.
local ids = redis.call('ZRANGEBYSCORE', READY, '-inf', fmt(now), 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return out end
redis.call('ZREMRANGEBYRANK', READY, 0, #ids - 1)
local keys = {}
for i, id in ipairs(ids) do keys[i] = P .. 't:' .. id end
local tasks = redis.call('MGET', unpack(keys))
local attempts = redis.call('HMGET', ATT, unpack(ids))
local first = redis.call('INCRBY', KEYS[7], #ids) - #ids
local until_ms = fmt(now + tonumber(ARGV[3]))
local att, leased = {}, {}
for i, id in ipairs(ids) do
  if tasks[i] then
    local attempt = tonumber(attempts[i] or '0') + 1
    local lease = fmt(first + i)
    att[#att + 1] = id
    att[#att + 1] = fmt(attempt)
    leased[#leased + 1] = until_ms
    leased[#leased + 1] = id .. ':' .. lease
    out[#out + 1] = {id, tasks[i], attempt, lease}
  else
    redis.call('ZREM', PENDING, id)
    forget({id})
  end
end
if #att > 0 then
  redis.call('HSET', ATT, unpack(att))
  redis.call('ZADD', LEASED, unpack(leased))
end
return out
"#;

/// ARGV: 2 id, 3 lease, 4 lease ms. Returns 1, or 0 if the lease was lost.
const HEARTBEAT: &str = r#"
local member = ARGV[2] .. ':' .. ARGV[3]
if not redis.call('ZSCORE', LEASED, member) then return 0 end
redis.call('ZADD', LEASED, 'XX', fmt(now_ms() + tonumber(ARGV[4])), member)
return 1
"#;

/// ARGV: 2.. pairs of (id, lease). Completes every task whose lease is still held, in one go.
/// Returns 1 or 0 (lease lost) per pair.
const COMPLETE_MANY: &str = r#"
local members, out, seen, done, ids = {}, {}, {}, {}, {}
local n = (#ARGV - 1) / 2
for i = 1, n do members[i] = ARGV[2 * i] .. ':' .. ARGV[2 * i + 1] end
local scores = redis.call('ZMSCORE', LEASED, unpack(members))
for i = 1, n do
  local m = members[i]
  if scores[i] and not seen[m] then
    seen[m] = true
    done[#done + 1] = m
    ids[#ids + 1] = ARGV[2 * i]
    out[i] = 1
  else
    out[i] = 0
  end
end
if #done > 0 then
  redis.call('ZREM', LEASED, unpack(done))
  forget(ids)
  redis.call('ZREM', PENDING, unpack(ids))
  redis.call('HINCRBY', STATS, 'completed', #done)
end
return out
"#;

/// ARGV: 2 id, 3 lease, 4 error, 5 retry_at ms or '' (dead-letter). Returns 1, or 0 if the
/// lease was lost.
const FAIL: &str = r#"
local id = ARGV[2]
if redis.call('ZREM', LEASED, id .. ':' .. ARGV[3]) == 0 then return 0 end
local max = meta(id)
if not max then
  -- The task's body is gone (evicted?): nothing left to retry or inspect.
  redis.call('ZREM', PENDING, id)
  forget({id})
  return 1
end
local attempts = tonumber(redis.call('HGET', ATT, id) or '0')
redis.call('HSET', ERR, id, ARGV[4])
if ARGV[5] ~= '' and attempts < max then
  redis.call('ZADD', READY, ARGV[5], id)
  redis.call('HINCRBY', STATS, 'retried', 1)
  wake()
else
  bury(id, now_ms())
end
return 1
"#;

/// Milliseconds until the earliest waiting task is due or the earliest lease expires (0 if
/// either has happened: a lease takes an expired one back), -1 if there is neither.
const NEXT_DUE: &str = r#"
local due = -1
for _, set in ipairs({READY, LEASED}) do
  local r = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
  if #r > 0 and (due < 0 or tonumber(r[2]) < due) then due = tonumber(r[2]) end
end
if due < 0 then return -1 end
return math.max(0, due - now_ms())
"#;

/// {queued, scheduled, running, dead, completed, retried}
const STATS_SCRIPT: &str = r#"
local now = now_ms()
prune(now)
local c = redis.call('HMGET', STATS, 'completed', 'retried')
return {
  redis.call('ZCOUNT', READY, '-inf', fmt(now)),
  redis.call('ZCOUNT', READY, '(' .. fmt(now), '+inf'),
  redis.call('ZCARD', LEASED),
  redis.call('ZCARD', DEAD),
  tonumber(c[1] or '0'),
  tonumber(c[2] or '0'),
}
"#;

/// ARGV: 2 id. The task's info, or nil.
const GET: &str = r#"
return info(ARGV[2], now_ms())
"#;

/// ARGV: 2 limit (>= 1). Unfinished tasks, oldest (lowest id) first.
const PENDING_SCRIPT: &str = r#"
local now = now_ms()
local out = {}
for _, id in ipairs(redis.call('ZRANGE', PENDING, 0, tonumber(ARGV[2]) - 1)) do
  local t = info(id, now)
  if t then out[#out + 1] = t end
end
return out
"#;

/// ARGV: 2 limit (>= 1). Dead tasks, newest first.
const DEAD_SCRIPT: &str = r#"
local now = now_ms()
prune(now)
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', DEAD, 0, tonumber(ARGV[2]) - 1)) do
  local t = info(id, now)
  if t then out[#out + 1] = t end
end
return out
"#;

/// ARGV: 2 id. Moves a dead task back to ready with fresh attempts; 1 if it did.
const REVIVE: &str = r#"
local id = ARGV[2]
if redis.call('ZREM', DEAD, id) == 0 then return 0 end
if redis.call('EXISTS', P .. 't:' .. id) == 0 then
  forget({id})
  return 0
end
redis.call('HDEL', ATT, id)
redis.call('ZADD', READY, fmt(now_ms()), id)
redis.call('ZADD', PENDING, id, id)
wake()
return 1
"#;

/// ARGV: 2 cutoff ms or '' (now), 3 '1' to revive or '0' to delete. Handles up to 500 tasks
/// that died at or before the cutoff. Returns {handled, scanned, cutoff}.
const DEAD_BATCH: &str = r#"
local now = fmt(now_ms())
local cutoff = ARGV[2]
if cutoff == '' then cutoff = now end
local ids = redis.call('ZRANGEBYSCORE', DEAD, '-inf', cutoff, 'LIMIT', 0, 500)
if #ids == 0 then return {0, 0, cutoff} end
redis.call('ZREM', DEAD, unpack(ids))
local n = 0
if ARGV[3] == '1' then
  local ready, pending, gone = {}, {}, {}
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', P .. 't:' .. id) == 1 then
      ready[#ready + 1] = now
      ready[#ready + 1] = id
      pending[#pending + 1] = id
      pending[#pending + 1] = id
      n = n + 1
    else
      gone[#gone + 1] = id
    end
  end
  forget(gone)
  if n > 0 then
    redis.call('HDEL', ATT, unpack(ids))
    redis.call('ZADD', READY, unpack(ready))
    redis.call('ZADD', PENDING, unpack(pending))
    wake()
  end
else
  n = forget(ids)
end
return {n, #ids, cutoff}
"#;

/// A script made of the prelude, optionally the helpers, and `body`.
fn script(helpers: bool, body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{}{body}", if helpers { HELPERS } else { "" }))
}

static SCHEMA_S: LazyLock<Script> = LazyLock::new(|| script(false, SCHEMA));
static ENQUEUE_MANY_S: LazyLock<Script> = LazyLock::new(|| script(true, ENQUEUE_MANY));
static LEASE_S: LazyLock<Script> = LazyLock::new(|| script(true, LEASE));
static HEARTBEAT_S: LazyLock<Script> = LazyLock::new(|| script(false, HEARTBEAT));
static COMPLETE_MANY_S: LazyLock<Script> = LazyLock::new(|| script(true, COMPLETE_MANY));
static FAIL_S: LazyLock<Script> = LazyLock::new(|| script(true, FAIL));
static NEXT_DUE_S: LazyLock<Script> = LazyLock::new(|| script(false, NEXT_DUE));
static STATS_S: LazyLock<Script> = LazyLock::new(|| script(true, STATS_SCRIPT));
static GET_S: LazyLock<Script> = LazyLock::new(|| script(true, GET));
static PENDING_S: LazyLock<Script> = LazyLock::new(|| script(true, PENDING_SCRIPT));
static DEAD_S: LazyLock<Script> = LazyLock::new(|| script(true, DEAD_SCRIPT));
static REVIVE_S: LazyLock<Script> = LazyLock::new(|| script(true, REVIVE));
static DEAD_BATCH_S: LazyLock<Script> = LazyLock::new(|| script(true, DEAD_BATCH));

/// A task queue in Redis, shared by every process connected to the same server and namespace.
///
/// Commands go through a [`ConnectionManager`] (one multiplexed connection that reconnects by
/// itself after a failure; calls fail with [`QueueError::Backend`] while the server is
/// unreachable, each within a few seconds). A second connection (RESP3) holds the
/// subscription to the namespace's wake-up channel, so idle workers are woken by enqueues from
/// any process. See the [module docs](self) for the key layout.
pub struct RedisQueue {
    ns: Ns,
    /// The RESP3 connection subscribed to the wake-up channel; also used for the idle
    /// `wait_for_work` probe so a silently dead connection is noticed and re-established.
    sub: ConnectionManager,
    wake: Arc<Notify>,
    /// Feed the group-commit tasks behind `enqueue` and `complete`.
    enqueues: Jobs<EnqueueReq, Enqueued>,
    completions: Jobs<(String, u64), bool>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("url", &self.ns.shown_url)
            .field("prefix", &self.ns.prefix)
            .finish_non_exhaustive()
    }
}

/// What a script call needs: the command connection and the namespace's keys.
#[derive(Clone)]
struct Ns {
    con: ConnectionManager,
    /// `githubapp:{ns}:`
    prefix: String,
    keys: [String; 9],
    /// The URL without its password, for error messages.
    shown_url: String,
}

/// An enqueue waiting for the group-commit task.
struct EnqueueReq {
    encoded: Vec<u8>,
    run_at: Option<u64>,
    key: Option<String>,
}

/// A request queued for a group-commit task, and where its result goes.
struct Job<R, T> {
    req: R,
    done: oneshot::Sender<Result<T, QueueError>>,
}

type Jobs<R, T> = mpsc::UnboundedSender<Job<R, T>>;

/// Batches of one group-commit task in flight at once. A second batch waits for the first
/// (up to [`BATCH_OVERLAP_AFTER`]) and takes everything that queued meanwhile, so under load
/// batches stay large; a stuck batch (a server gone silent) delays the next one only briefly.
const BATCHES_IN_FLIGHT: usize = 2;
const BATCH_OVERLAP_AFTER: Duration = Duration::from_millis(10);

/// Group commit: the requests that queue while a batch is in flight go out together in one
/// call to `run`. With no load a batch is one request (one round trip, as without batching);
/// under load the cost per request on the server and on the connection drops to a fraction of
/// a script call. Ends when the queue (the sender) is dropped.
async fn run_batches<R, T, F, Fut>(mut rx: mpsc::UnboundedReceiver<Job<R, T>>, limit: usize, run: F)
where
    R: Send + 'static,
    T: Send + 'static,
    F: Fn(Vec<R>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, QueueError>> + Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
    let finished = Arc::new(Notify::new());
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut jobs = Vec::with_capacity(limit);
        if rx.recv_many(&mut jobs, limit).await == 0 {
            return;
        }
        let other_done = finished.notified();
        tokio::pin!(other_done);
        other_done.as_mut().enable();
        if slots.available_permits() + 1 < BATCHES_IN_FLIGHT {
            // Another batch is in flight: let it finish first, then take what queued meanwhile.
            let _ = tokio::time::timeout(BATCH_OVERLAP_AFTER, other_done).await;
            while jobs.len() < limit {
                let Ok(job) = rx.try_recv() else { break };
                jobs.push(job);
            }
        }
        let (reqs, dones): (Vec<R>, Vec<_>) = jobs.into_iter().map(|j| (j.req, j.done)).unzip();
        let n = reqs.len();
        let call = run(reqs);
        let finished = finished.clone();
        tokio::spawn(async move {
            let result = call.await;
            drop(slot);
            finished.notify_waiters();
            match result {
                Ok(results) if results.len() == n => {
                    for (done, r) in dones.into_iter().zip(results) {
                        let _ = done.send(Ok(r));
                    }
                }
                other => {
                    let msg = match other {
                        Err(QueueError::Backend(m)) => m,
                        Err(e) => e.to_string(),
                        Ok(results) => format!("redis: {} results for {n} requests", results.len()),
                    };
                    for done in dones {
                        let _ = done.send(Err(QueueError::Backend(msg.clone())));
                    }
                }
            }
        });
    }
}

/// Hands `req` to a group-commit task and waits for its result.
async fn submit<R, T>(jobs: &Jobs<R, T>, op: &str, req: R) -> Result<T, QueueError> {
    let stopped = || QueueError::Backend(format!("redis {op}: the batching task has stopped"));
    let (done, result) = oneshot::channel();
    jobs.send(Job { req, done }).map_err(|_| stopped())?;
    result.await.map_err(|_| stopped())?
}

/// Checks a namespace against `^[a-z][a-z0-9_]{0,39}$`.
fn validate_namespace(ns: &str) -> Result<(), QueueError> {
    let mut chars = ns.chars();
    let ok = matches!(chars.next(), Some('a'..='z'))
        && ns.len() <= 40
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'));
    if ok {
        Ok(())
    } else {
        Err(QueueError::Backend(format!(
            "redis: invalid queue namespace {ns:?}: use 1 to 40 characters, lowercase ASCII letters, \
             digits and `_`, starting with a letter"
        )))
    }
}

/// The URL with its password (user info and `password=` query) replaced by `***`.
fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        // Everything before the last `@` is user info (a password may hold `/` or `@`).
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split_once(':').map_or("", |(u, _)| u);
                format!("{scheme}://{user}:***@{host}")
            }
            _ => base.to_string(),
        },
        None => base.to_string(),
    };
    if let Some(q) = query {
        let q: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("pass") => {
                    format!("{k}=***")
                }
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    out
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4)
}

/// Task ids are decimal integers; anything else names no task.
fn is_task_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// `<max attempts>|<installation>|<name length>|<name><payload>`: one string per task, so a
/// lease batch reads every task with one `MGET`.
fn encode_task(task: &NewTask) -> Vec<u8> {
    let inst = task.installation_id.map(|i| i.to_string()).unwrap_or_default();
    let head = format!("{}|{inst}|{}|", task.max_attempts.max(1), task.name.len());
    let mut out = Vec::with_capacity(head.len() + task.name.len() + task.payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(task.name.as_bytes());
    out.extend_from_slice(&task.payload);
    out
}

/// The decoded task: (max attempts, installation, name, payload).
fn decode_task(encoded: Vec<u8>) -> Option<(u32, Option<u64>, String, Bytes)> {
    let mut fields = [0usize; 3];
    let mut start = 0;
    for field in &mut fields {
        let bar = start + encoded.get(start..)?.iter().position(|&b| b == b'|')?;
        *field = bar;
        start = bar + 1;
    }
    let text = |from: usize, to: usize| std::str::from_utf8(encoded.get(from..to)?).ok();
    let max: u32 = text(0, fields[0])?.parse().ok()?;
    let inst = text(fields[0] + 1, fields[1])?;
    let inst = if inst.is_empty() { None } else { Some(inst.parse().ok()?) };
    let name_len: usize = text(fields[1] + 1, fields[2])?.parse().ok()?;
    let name_start = fields[2] + 1;
    let name = text(name_start, name_start.checked_add(name_len)?)?.to_string();
    let payload = Bytes::from(encoded).slice(name_start + name_len..);
    Some((max, inst, name, payload))
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        // A call made while the server is down waits for at most two connection attempts,
        // then fails; the next call starts a new round.
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_millis(500))
}

fn bad_reply(what: &str, v: &Value) -> QueueError {
    QueueError::Backend(format!("redis: unexpected reply to {what}: {v:?}"))
}

fn array(what: &str, v: Value) -> Result<Vec<Value>, QueueError> {
    match v {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(bad_reply(what, &other)),
    }
}

fn bytes_of(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

fn string_of(v: Value) -> Option<String> {
    bytes_of(v).map(|b| String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into()))
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

fn state_name(s: &str) -> &'static str {
    match s {
        "queued" => "queued",
        "scheduled" => "scheduled",
        "running" => "running",
        _ => "dead",
    }
}

/// Parses `{id, name, state, attempts, max_attempts, last_error}` (or nil).
fn task_info(v: Value) -> Result<Option<TaskInfo>, QueueError> {
    if matches!(v, Value::Nil) {
        return Ok(None);
    }
    let items = array("task info", v)?;
    let [id, name, state, attempts, max, err]: [Value; 6] =
        items.try_into().map_err(|_| QueueError::Backend("redis: malformed task info reply".into()))?;
    Ok(Some(TaskInfo {
        attempts: int_of(&attempts).unwrap_or(0) as u32,
        max_attempts: int_of(&max).unwrap_or(1) as u32,
        id: string_of(id).unwrap_or_default(),
        name: string_of(name).unwrap_or_default(),
        state: state_name(&string_of(state).unwrap_or_default()),
        last_error: string_of(err),
    }))
}

/// Parses `{id, encoded task, attempt, lease}`.
fn leased_task(v: Value) -> Result<LeasedTask, QueueError> {
    let items = array("lease", v)?;
    let malformed = || QueueError::Backend("redis: malformed lease reply".into());
    let [id, encoded, attempt, lease]: [Value; 4] = items.try_into().map_err(|_| malformed())?;
    let id = string_of(id).ok_or_else(malformed)?;
    let (max_attempts, installation_id, name, payload) = bytes_of(encoded)
        .and_then(decode_task)
        .ok_or_else(|| QueueError::Backend(format!("redis: task {id} is stored in an unknown format")))?;
    Ok(LeasedTask {
        id,
        name,
        payload,
        attempt: int_of(&attempt).ok_or_else(malformed)? as u32,
        max_attempts,
        installation_id,
        lease: int_of(&lease).ok_or_else(malformed)? as u64,
        tail: Bytes::new(),
    })
}

impl RedisQueue {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host[:port][/db]`,
    /// `rediss://` for TLS if the `redis` crate was built with TLS support) and uses the
    /// namespace `namespace` (`^[a-z][a-z0-9_]{0,39}$`), creating its schema version key if
    /// needed. Fails with [`QueueError::Backend`] naming the URL (without its password) when
    /// the server cannot be reached, and when the namespace was created by a newer version of
    /// this library.
    ///
    /// Must be called within a Tokio runtime, which runs the queue's background tasks (the
    /// connections and the batching of enqueues and completions) until the queue is dropped.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, QueueError> {
        validate_namespace(namespace)?;
        let shown_url = redact_url(url);
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            QueueError::Backend(format!("redis at {shown_url}: {what}: {e}"))
        };
        let info = url.into_connection_info().map_err(|e| fail("invalid URL", &e))?;
        let client = Client::open(info.clone()).map_err(|e| fail("invalid URL", &e))?;
        let con = tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            client.get_connection_manager_with_config(manager_config()),
        )
        .await
        .map_err(|_| fail("cannot connect", &"timed out"))?
        .map_err(|e| fail("cannot connect", &e))?;

        let prefix = format!("githubapp:{{{namespace}}}:");
        let keys = ["ready", "leased", "dead", "pending", "stats", "seq", "lseq", "att", "err"]
            .map(|k| format!("{prefix}{k}"));

        // The wake-up subscription: a RESP3 connection manager that resubscribes by itself
        // after reconnecting, and hands pushes to a closure that wakes the waiting workers.
        let wake = Arc::new(Notify::new());
        let sub_info = {
            let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
            info.set_redis_settings(settings)
        };
        let sub_client = Client::open(sub_info).map_err(|e| fail("invalid URL", &e))?;
        let notify = wake.clone();
        let on_push = move |push: PushInfo| -> Result<(), std::convert::Infallible> {
            // A message is an enqueue; after a disconnection or a (re)subscription messages
            // may have been missed, so waiters look at the queue again either way.
            if matches!(push.kind, PushKind::Message | PushKind::Disconnection | PushKind::Subscribe) {
                notify.notify_waiters();
                // Also store a permit, for a worker between its empty lease and its wait.
                notify.notify_one();
            }
            Ok(())
        };
        let sub_config = manager_config().set_push_sender(on_push).set_automatic_resubscription();
        let mut sub = tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            sub_client.get_connection_manager_with_config(sub_config),
        )
        .await
        .map_err(|_| fail("cannot connect", &"timed out"))?
        .map_err(|e| fail("cannot open the wake-up connection (RESP3 needs Redis 6.2 or later)", &e))?;
        sub.subscribe(format!("{prefix}wake")).await.map_err(|e| fail("cannot subscribe", &e))?;

        let ns = Ns { con, prefix, keys, shown_url };
        let mut inv = ns.invocation(&SCHEMA_S);
        inv.arg(SCHEMA_VERSION);
        let version: i64 = ns
            .run("schema check", inv)
            .await
            .and_then(|v| int_of(&v).ok_or_else(|| bad_reply("schema check", &v)))?;
        if version > SCHEMA_VERSION {
            return Err(QueueError::Backend(format!(
                "redis at {}: namespace {namespace:?} has schema version {version}, this version of \
                 githubapp understands up to {SCHEMA_VERSION}: upgrade githubapp",
                ns.shown_url
            )));
        }
        // Later schema versions migrate here (version < SCHEMA_VERSION), then store the new
        // version; version 1 is the first.

        let (enqueues, rx) = mpsc::unbounded_channel();
        let batch_ns = ns.clone();
        tokio::spawn(run_batches(rx, ENQUEUE_BATCH, move |reqs| {
            let ns = batch_ns.clone();
            async move { ns.enqueue_many(reqs).await }
        }));
        let (completions, rx) = mpsc::unbounded_channel();
        let batch_ns = ns.clone();
        tokio::spawn(run_batches(rx, COMPLETE_BATCH, move |reqs| {
            let ns = batch_ns.clone();
            async move { ns.complete_many(reqs).await }
        }));
        Ok(RedisQueue { ns, sub, wake, enqueues, completions })
    }
}

impl Ns {
    /// A script invocation with the namespace's keys and prefix (`KEYS[1..9]`, `ARGV[1]`).
    fn invocation<'a>(&self, script: &'a Script) -> ScriptInvocation<'a> {
        let mut inv = script.prepare_invoke();
        for k in &self.keys {
            inv.key(k.as_str());
        }
        inv.arg(self.prefix.as_str());
        inv
    }

    async fn run(&self, op: &str, inv: ScriptInvocation<'_>) -> Result<Value, QueueError> {
        let mut con = self.con.clone();
        inv.invoke_async::<Value>(&mut con).await.map_err(|e| self.error(op, &e))
    }

    fn error(&self, op: &str, e: &RedisError) -> QueueError {
        QueueError::Backend(format!("redis {op} at {}: {e}", self.shown_url))
    }

    /// Enqueues a batch, one script call per ~1 MiB of tasks.
    async fn enqueue_many(&self, reqs: Vec<EnqueueReq>) -> Result<Vec<Enqueued>, QueueError> {
        let mut out = Vec::with_capacity(reqs.len());
        let mut rest = &reqs[..];
        while !rest.is_empty() {
            let mut bytes = 0;
            let take = rest
                .iter()
                .position(|r| {
                    bytes += r.encoded.len();
                    bytes > ENQUEUE_BATCH_BYTES
                })
                .unwrap_or(rest.len())
                .max(1);
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            let mut inv = self.invocation(&ENQUEUE_MANY_S);
            inv.arg(duration_ms(IDEMPOTENCY_TTL));
            for r in chunk {
                inv.arg(r.encoded.as_slice())
                    .arg(r.run_at.map(|t| t.to_string()).unwrap_or_default())
                    .arg(if r.key.is_some() { "1" } else { "0" })
                    .arg(r.key.as_deref().unwrap_or(""));
            }
            for item in array("enqueue", self.run("enqueue", inv).await?)? {
                let pair = array("enqueue", item)?;
                let bad = || QueueError::Backend("redis: malformed enqueue reply".into());
                let [new, id]: [Value; 2] = pair.try_into().map_err(|_| bad())?;
                let id = string_of(id).ok_or_else(bad)?;
                out.push(if int_of(&new) == Some(1) { Enqueued::New(id) } else { Enqueued::Duplicate(id) });
            }
        }
        Ok(out)
    }

    async fn complete_many(&self, reqs: Vec<(String, u64)>) -> Result<Vec<bool>, QueueError> {
        let mut inv = self.invocation(&COMPLETE_MANY_S);
        for (id, lease) in &reqs {
            inv.arg(id.as_str()).arg(*lease);
        }
        let flags = array("complete", self.run("complete", inv).await?)?;
        Ok(flags.iter().map(|f| int_of(f) == Some(1)).collect())
    }
}

impl RedisQueue {
    async fn lease_tasks(&self, max: usize, lease_for: Duration) -> Result<Vec<LeasedTask>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut inv = self.ns.invocation(&LEASE_S);
        inv.arg(max.min(MAX_LEASE_BATCH)).arg(duration_ms(lease_for));
        let reply = self.ns.run("lease", inv).await?;
        array("lease", reply)?.into_iter().map(leased_task).collect()
    }

    /// Runs a lease-checked script; `0` means the lease was lost.
    async fn with_lease(
        &self,
        op: &str,
        task: &LeasedTask,
        inv: ScriptInvocation<'_>,
    ) -> Result<(), QueueError> {
        match self.ns.run(op, inv).await? {
            Value::Int(1) => Ok(()),
            Value::Int(0) => Err(QueueError::LeaseLost(task.id.clone())),
            other => Err(bad_reply(op, &other)),
        }
    }

    fn lease_invocation<'a>(
        &self,
        script: &'a Script,
        task: &LeasedTask,
    ) -> Result<ScriptInvocation<'a>, QueueError> {
        if !is_task_id(&task.id) {
            return Err(QueueError::NotFound(task.id.clone()));
        }
        let mut inv = self.ns.invocation(script);
        inv.arg(task.id.as_str()).arg(task.lease);
        Ok(inv)
    }

    async fn wait(&self, timeout: Duration) {
        let notified = self.wake.notified();
        tokio::pin!(notified);
        // Registered before looking at the queue, so a wake-up in between is not missed.
        notified.as_mut().enable();
        let _ = tokio::time::timeout(timeout, async {
            // Do not sleep past the earliest delayed task. This goes over the subscribed
            // connection, so a dead one fails here and is re-established (and resubscribed).
            let mut sub = self.sub.clone();
            let due = self.ns.invocation(&NEXT_DUE_S).invoke_async::<i64>(&mut sub).await;
            match due {
                Ok(0) => {}
                Ok(ms) if ms > 0 => {
                    let _ = tokio::time::timeout(Duration::from_millis(ms as u64), notified).await;
                }
                Ok(_) => notified.await,
                Err(e) => {
                    tracing::debug!(error = %self.ns.error("wait_for_work", &e), "cannot probe the queue");
                    notified.await
                }
            }
        })
        .await;
    }

    /// Retries (`revive`) or deletes every task dead at the time of the first batch.
    async fn dead_batches(&self, op: &str, revive: bool) -> Result<u64, QueueError> {
        let mut cutoff = String::new();
        let mut total = 0u64;
        loop {
            let mut inv = self.ns.invocation(&DEAD_BATCH_S);
            inv.arg(cutoff.as_str()).arg(if revive { "1" } else { "0" });
            let reply = self.ns.run(op, inv).await?;
            let items = array(op, reply)?;
            let [handled, scanned, at]: [Value; 3] =
                items.try_into().map_err(|_| QueueError::Backend(format!("redis: malformed {op} reply")))?;
            total += int_of(&handled).unwrap_or(0) as u64;
            if int_of(&scanned).unwrap_or(0) == 0 {
                return Ok(total);
            }
            cutoff = string_of(at).unwrap_or_default();
        }
    }

    async fn list(&self, op: &str, script: &Script, limit: usize) -> Result<Vec<TaskInfo>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut inv = self.ns.invocation(script);
        inv.arg(limit.min(MAX_LIST));
        let reply = self.ns.run(op, inv).await?;
        array(op, reply)?.into_iter().filter_map(|v| task_info(v).transpose()).collect()
    }
}

impl Queue for RedisQueue {
    fn enqueue(&self, task: NewTask) -> BoxFuture<'_, Result<Enqueued, QueueError>> {
        let req = EnqueueReq {
            encoded: encode_task(&task),
            run_at: task.run_at.map(to_ms),
            key: task.idempotency_key,
        };
        Box::pin(submit(&self.enqueues, "enqueue", req))
    }

    fn lease(&self, max: usize, lease_for: Duration) -> BoxFuture<'_, Result<Vec<LeasedTask>, QueueError>> {
        Box::pin(self.lease_tasks(max, lease_for))
    }

    fn heartbeat<'a>(
        &'a self,
        task: &'a LeasedTask,
        lease_for: Duration,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut inv = self.lease_invocation(&HEARTBEAT_S, task)?;
            inv.arg(duration_ms(lease_for));
            self.with_lease("heartbeat", task, inv).await
        })
    }

    fn complete<'a>(&'a self, task: &'a LeasedTask) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            if !is_task_id(&task.id) {
                return Err(QueueError::NotFound(task.id.clone()));
            }
            match submit(&self.completions, "complete", (task.id.clone(), task.lease)).await? {
                true => Ok(()),
                false => Err(QueueError::LeaseLost(task.id.clone())),
            }
        })
    }

    fn fail<'a>(
        &'a self,
        task: &'a LeasedTask,
        error: &'a str,
        retry_at: Option<SystemTime>,
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut inv = self.lease_invocation(&FAIL_S, task)?;
            inv.arg(error).arg(retry_at.map(|t| to_ms(t).to_string()).unwrap_or_default());
            self.with_lease("fail", task, inv).await
        })
    }

    fn wait_for_work(&self, timeout: Duration) -> BoxFuture<'_, ()> {
        Box::pin(self.wait(timeout))
    }

    fn mark_delivery<'a>(
        &'a self,
        delivery_id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(async move {
            let mut con = self.ns.con.clone();
            let reply: Value = redis::cmd("SET")
                .arg(format!("{}dlv:{delivery_id}", self.ns.prefix))
                .arg("1")
                .arg("NX")
                .arg("PX")
                .arg(duration_ms(ttl).max(1))
                .query_async(&mut con)
                .await
                .map_err(|e| self.ns.error("mark_delivery", &e))?;
            match reply {
                Value::Nil => Ok(false),
                Value::Okay | Value::SimpleString(_) => Ok(true),
                other => Err(bad_reply("mark_delivery", &other)),
            }
        })
    }

    fn forget_delivery<'a>(&'a self, delivery_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut con = self.ns.con.clone();
            redis::cmd("DEL")
                .arg(format!("{}dlv:{delivery_id}", self.ns.prefix))
                .query_async::<Value>(&mut con)
                .await
                .map_err(|e| self.ns.error("forget_delivery", &e))?;
            Ok(())
        })
    }

    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, QueueError>> {
        Box::pin(async move {
            let reply = self.ns.run("stats", self.ns.invocation(&STATS_S)).await?;
            let n: Vec<u64> = array("stats", reply)?.iter().map(|v| int_of(v).unwrap_or(0) as u64).collect();
            let [queued, scheduled, running, dead, completed, retried]: [u64; 6] =
                n.try_into().map_err(|_| QueueError::Backend("redis: malformed stats reply".into()))?;
            Ok(QueueStats { queued, scheduled, running, dead, completed, retried })
        })
    }

    fn dead(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
        Box::pin(self.list("dead", &DEAD_S, limit))
    }

    fn pending(&self, limit: usize) -> BoxFuture<'_, Result<Vec<TaskInfo>, QueueError>> {
        Box::pin(self.list("pending", &PENDING_S, limit))
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<TaskInfo>, QueueError>> {
        Box::pin(async move {
            if !is_task_id(id) {
                return Ok(None);
            }
            let mut inv = self.ns.invocation(&GET_S);
            inv.arg(id);
            task_info(self.ns.run("get", inv).await?)
        })
    }

    fn retry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(async move {
            if !is_task_id(id) {
                return Ok(false);
            }
            let mut inv = self.ns.invocation(&REVIVE_S);
            inv.arg(id);
            let reply = self.ns.run("retry", inv).await?;
            Ok(int_of(&reply) == Some(1))
        })
    }

    fn retry_all_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.dead_batches("retry_all_dead", true))
    }

    fn purge_dead(&self) -> BoxFuture<'_, Result<u64, QueueError>> {
        Box::pin(self.dead_batches("purge_dead", false))
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server URL, or `None` (with a loud skip line) when the variable is unset.
    fn server_url(test: &str) -> Option<String> {
        match std::env::var("GITHUBAPP_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                eprintln!("!!!!! SKIPPED redis test `{test}`: GITHUBAPP_TEST_REDIS_URL is not set !!!!!");
                None
            }
        }
    }

    #[test]
    fn namespaces_are_validated() {
        for ok in ["a", "myapp", "app_2", &format!("a{}", "b".repeat(39))] {
            assert!(validate_namespace(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1app", "_a", "App", "my-app", "a:b", "a{b}", &format!("a{}", "b".repeat(40))] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact_url("redis://u:secret@h:1/2"), "redis://u:***@h:1/2");
        assert_eq!(redact_url("redis://:secret@h"), "redis://:***@h");
        assert_eq!(redact_url("redis://u:se/c@ret@h/1"), "redis://u:***@h/1");
        assert_eq!(redact_url("rediss://user@h"), "rediss://user@h");
        assert_eq!(redact_url("redis://h/0?password=secret&x=1"), "redis://h/0?password=***&x=1");
    }

    #[test]
    fn tasks_are_encoded_and_decoded() {
        let payload = Bytes::from_static(b"|12|\xff\x00 binary");
        for (name, inst) in [("", None), ("webhook:a::b", Some(0)), ("x|y", Some(u64::MAX))] {
            let task = NewTask::new(name, payload.clone()).installation(inst).max_attempts(7);
            let (max, i, n, p) = decode_task(encode_task(&task)).expect("decodes");
            assert_eq!((max, i, n.as_str(), p), (7, inst, name, payload.clone()));
        }
        assert!(decode_task(b"7|x|3|abc".to_vec()).is_none());
        assert!(decode_task(b"7||30|abc".to_vec()).is_none());
    }

    #[tokio::test]
    async fn bad_namespace_is_rejected() {
        // Checked before connecting, so no server is needed.
        for ns in ["Bad", "has-dash", ""] {
            let err = RedisQueue::connect("redis://127.0.0.1:1", ns).await.expect_err("rejected");
            assert!(matches!(&err, QueueError::Backend(m) if m.contains("invalid queue namespace")), "{err}");
        }
    }

    #[tokio::test]
    async fn dead_address_fails_quickly() {
        let start = std::time::Instant::now();
        let err =
            RedisQueue::connect("redis://user:hunter2@127.0.0.1:1", "deadaddr").await.expect_err("no server");
        let msg = err.to_string();
        assert!(matches!(err, QueueError::Backend(_)), "{msg}");
        assert!(msg.contains("redis") && msg.contains("127.0.0.1:1"), "names backend and URL: {msg}");
        assert!(!msg.contains("hunter2"), "password is not shown: {msg}");
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    }

    #[tokio::test]
    async fn conformance() {
        let Some(url) = server_url("conformance") else { return };
        let used = Arc::new(std::sync::Mutex::new(Vec::new()));
        crate::testing::queue_conformance::run_all(|ns| {
            let url = url.clone();
            used.lock().unwrap().push(ns.clone());
            async move { Arc::new(RedisQueue::connect(&url, &ns).await.expect("connect")) as Arc<dyn Queue> }
        })
        .await;
        let namespaces = used.lock().unwrap().clone();
        for ns in namespaces {
            cleanup(&RedisQueue::connect(&url, &ns).await.unwrap()).await;
        }
    }

    async fn fresh(url: &str, ns: &str) -> RedisQueue {
        let ns = format!("{ns}_{:08x}", fastrand::u32(..));
        RedisQueue::connect(url, &ns).await.expect("connect")
    }

    /// A waiting worker wakes when a lease expires, to take the task back, not at its next
    /// poll (a lease takes back at most 500 expired leases; the rest must not wait a poll).
    #[tokio::test]
    async fn wait_for_work_wakes_when_a_lease_expires() {
        let Some(url) = server_url("wait_for_work_wakes_when_a_lease_expires") else { return };
        let q = fresh(&url, "expiry").await;
        q.enqueue(NewTask::new("stalls", "1").max_attempts(3)).await.unwrap();
        let first = q.lease(1, Duration::from_millis(300)).await.unwrap();
        assert_eq!(first.len(), 1);
        let start = std::time::Instant::now();
        let mut again = Vec::new();
        while again.is_empty() && start.elapsed() < Duration::from_secs(10) {
            // (the first wake-up may be the enqueue's)
            tokio::time::timeout(Duration::from_secs(10), q.wait_for_work(Duration::from_secs(60)))
                .await
                .expect("woken before the poll interval");
            again = q.lease(1, Duration::from_secs(30)).await.unwrap();
        }
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempt, 2);
        cleanup(&q).await;
    }

    #[tokio::test]
    async fn schema_version_is_checked() {
        let Some(url) = server_url("schema_version_is_checked") else { return };
        let q = fresh(&url, "schema").await;
        // Connecting again is idempotent.
        let ns = q.ns.prefix.trim_start_matches("githubapp:{").trim_end_matches("}:").to_string();
        RedisQueue::connect(&url, &ns).await.expect("reconnect");
        let mut con = q.ns.con.clone();
        let _: () = redis::cmd("SET")
            .arg(format!("{}schema", q.ns.prefix))
            .arg(99)
            .query_async(&mut con)
            .await
            .unwrap();
        let err = RedisQueue::connect(&url, &ns).await.expect_err("newer schema");
        assert!(err.to_string().contains("schema version 99"), "{err}");
        let _: () =
            redis::cmd("DEL").arg(format!("{}schema", q.ns.prefix)).query_async(&mut con).await.unwrap();
        cleanup(&q).await;
    }

    #[tokio::test]
    async fn idempotency_and_delivery_keys_expire() {
        let Some(url) = server_url("idempotency_and_delivery_keys_expire") else { return };
        let q = fresh(&url, "ttl").await;
        let a = q.enqueue(NewTask::new("a", "1").idempotency_key("k")).await.unwrap();
        q.mark_delivery("d", Duration::from_secs(60)).await.unwrap();
        let mut con = q.ns.con.clone();
        let ttl: i64 =
            redis::cmd("PTTL").arg(format!("{}idem:k", q.ns.prefix)).query_async(&mut con).await.unwrap();
        let full = IDEMPOTENCY_TTL.as_millis() as i64;
        assert!(ttl > full - 3600 * 1000 && ttl <= full, "{ttl}");
        let ttl: i64 =
            redis::cmd("PTTL").arg(format!("{}dlv:d", q.ns.prefix)).query_async(&mut con).await.unwrap();
        assert!(ttl > 50_000 && ttl <= 60_000, "{ttl}");
        // The empty string is a key like any other.
        let e = q.enqueue(NewTask::new("a", "1").idempotency_key("")).await.unwrap();
        assert!(matches!(e, Enqueued::New(_)));
        let e2 = q.enqueue(NewTask::new("a", "1").idempotency_key("")).await.unwrap();
        assert_eq!(e2, Enqueued::Duplicate(e.id().to_string()));
        // A completed task leaves nothing behind but its idempotency key.
        for t in q.lease(10, Duration::from_secs(30)).await.unwrap() {
            q.complete(&t).await.unwrap();
        }
        let exists: i64 = redis::cmd("EXISTS")
            .arg(format!("{}t:{}", q.ns.prefix, a.id()))
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(exists, 0);
        let att: i64 = redis::cmd("HEXISTS")
            .arg(format!("{}att", q.ns.prefix))
            .arg(a.id())
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(att, 0, "attempts are forgotten");
        assert!(q.pending(10).await.unwrap().is_empty());
        cleanup(&q).await;
    }

    #[tokio::test]
    async fn old_dead_tasks_are_pruned() {
        let Some(url) = server_url("old_dead_tasks_are_pruned") else { return };
        let q = fresh(&url, "prune").await;
        let a = q.enqueue(NewTask::new("a", "1")).await.unwrap();
        let t = q.lease(1, Duration::from_secs(30)).await.unwrap().remove(0);
        q.fail(&t, "boom", None).await.unwrap();
        // Pretend it died 8 days ago.
        let mut con = q.ns.con.clone();
        let _: () = redis::cmd("ZADD")
            .arg(format!("{}dead", q.ns.prefix))
            .arg(to_ms(SystemTime::now() - Duration::from_secs(8 * 24 * 3600)))
            .arg(a.id())
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(q.stats().await.unwrap().dead, 0, "pruned");
        assert!(q.get(a.id()).await.unwrap().is_none(), "its hash is gone too");
        cleanup(&q).await;
    }

    #[tokio::test]
    async fn get_reports_states_and_pending_is_oldest_first() {
        let Some(url) = server_url("get_reports_states") else { return };
        let q = fresh(&url, "states").await;
        let a = q.enqueue(NewTask::new("a", "1").max_attempts(3)).await.unwrap();
        let b = q.enqueue(NewTask::new("b", "1").delay(Duration::from_secs(3600))).await.unwrap();
        assert_eq!(q.get(b.id()).await.unwrap().unwrap().state, "scheduled");
        let t = q.lease(10, Duration::from_secs(30)).await.unwrap().remove(0);
        assert_eq!(t.id, a.id());
        assert_eq!(q.get(a.id()).await.unwrap().unwrap().state, "running");
        q.fail(&t, "e1", Some(SystemTime::now() + Duration::from_secs(60))).await.unwrap();
        let info = q.get(a.id()).await.unwrap().unwrap();
        assert_eq!((info.state, info.attempts, info.last_error.as_deref()), ("scheduled", 1, Some("e1")));
        let c = q.enqueue(NewTask::new("c", "1")).await.unwrap();
        let ids: Vec<String> = q.pending(10).await.unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, [a.id(), b.id(), c.id()]);
        assert_eq!(q.pending(2).await.unwrap().len(), 2);
        let st = q.stats().await.unwrap();
        assert_eq!((st.queued, st.scheduled, st.running, st.retried), (1, 2, 0, 1), "{st:?}");
        // heartbeat with a stale lease is rejected
        let mut stale = t.clone();
        stale.lease += 1000;
        assert!(matches!(q.heartbeat(&stale, Duration::from_secs(1)).await, Err(QueueError::LeaseLost(_))));
        cleanup(&q).await;
    }

    #[tokio::test]
    async fn concurrent_completes_are_batched_and_checked() {
        let Some(url) = server_url("concurrent_completes") else { return };
        let q = Arc::new(fresh(&url, "batch").await);
        for i in 0..100 {
            q.enqueue(NewTask::new(format!("t{i}"), "x")).await.unwrap();
        }
        let tasks = q.lease(100, Duration::from_secs(30)).await.unwrap();
        assert_eq!(tasks.len(), 100);
        // Every task completed twice at once: exactly one of each pair wins.
        let mut set = tokio::task::JoinSet::new();
        for t in tasks.iter().chain(&tasks) {
            let (q, t) = (q.clone(), t.clone());
            set.spawn(async move { q.complete(&t).await });
        }
        let results = set.join_all().await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 100);
        assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(QueueError::LeaseLost(_)))));
        let st = q.stats().await.unwrap();
        assert_eq!((st.running, st.completed), (0, 100), "{st:?}");
        assert!(q.pending(10).await.unwrap().is_empty());
        cleanup(&q).await;
    }

    #[tokio::test]
    async fn concurrent_enqueues_share_idempotency_keys() {
        let Some(url) = server_url("concurrent_enqueues") else { return };
        let q = Arc::new(fresh(&url, "idembatch").await);
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            let q = q.clone();
            let key = format!("k{}", i % 5);
            set.spawn(async move { q.enqueue(NewTask::new("t", "x").idempotency_key(key)).await.unwrap() });
        }
        let results = set.join_all().await;
        let new: Vec<&Enqueued> = results.iter().filter(|e| matches!(e, Enqueued::New(_))).collect();
        assert_eq!(new.len(), 5, "one task per key");
        let mut ids: Vec<&str> = results.iter().map(|e| e.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5, "duplicates name the task of their key");
        assert_eq!(q.lease(100, Duration::from_secs(30)).await.unwrap().len(), 5);
        cleanup(&q).await;
    }

    #[tokio::test]
    async fn long_names_and_dead_details() {
        let Some(url) = server_url("long_names") else { return };
        let q = fresh(&url, "longname").await;
        let name = "n".repeat(1000);
        let a = q.enqueue(NewTask::new(name.clone(), "p").max_attempts(3)).await.unwrap();
        let t = q.lease(1, Duration::from_secs(30)).await.unwrap().remove(0);
        assert_eq!(t.name, name);
        q.fail(&t, "gave up", None).await.unwrap();
        let dead = q.dead(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].id.as_str(), dead[0].name.as_str(), dead[0].attempts, dead[0].max_attempts),
            (a.id(), name.as_str(), 1, 3)
        );
        assert!(q.retry(a.id()).await.unwrap());
        let info = q.get(a.id()).await.unwrap().unwrap();
        assert_eq!((info.state, info.attempts, info.last_error.as_deref()), ("queued", 0, Some("gave up")));
        assert!(!q.retry(a.id()).await.unwrap(), "no longer dead");
        assert_eq!(q.purge_dead().await.unwrap(), 0);
        cleanup(&q).await;
    }

    /// A TCP proxy to the Redis server: forwards, or (`blackhole`) accepts and never answers.
    /// Aborting the handle closes the listener and every connection.
    fn spawn_proxy(
        listener: tokio::net::TcpListener,
        target: std::net::SocketAddr,
        blackhole: bool,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                conns.spawn(async move {
                    if blackhole {
                        let mut buf = [0u8; 1024];
                        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut inbound, &mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    } else if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        })
    }

    /// Calls fail with `Backend` (never hang) while Redis is unreachable or silent, and the
    /// queue, including its wake-ups, recovers by itself.
    #[tokio::test]
    async fn outages_fail_fast_and_recover() {
        let Some(url) = server_url("outages_fail_fast_and_recover") else { return };
        let info = url.as_str().into_connection_info().unwrap();
        let target = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => {
                tokio::net::lookup_host((host.as_str(), *port)).await.unwrap().next().unwrap()
            }
            other => panic!("needs a TCP Redis URL, got {other:?}"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy = spawn_proxy(listener, target, false);
        let ns = format!("outage_{:08x}", fastrand::u32(..));
        let q = RedisQueue::connect(&format!("redis://{addr}"), &ns).await.expect("connect via proxy");
        q.enqueue(NewTask::new("before", "1")).await.unwrap();

        let within = |limit: Duration, start: std::time::Instant| {
            assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
        };
        // 1. Connection refused.
        proxy.abort();
        let _ = proxy.await;
        for _ in 0..2 {
            let start = std::time::Instant::now();
            let err = q.enqueue(NewTask::new("during", "1")).await.expect_err("server is gone");
            assert!(matches!(&err, QueueError::Backend(m) if m.contains("redis")), "{err}");
            assert!(q.lease(10, Duration::from_secs(30)).await.is_err());
            assert!(q.stats().await.is_err());
            within(Duration::from_secs(10), start);
        }
        let start = std::time::Instant::now();
        q.wait_for_work(Duration::from_millis(300)).await;
        within(Duration::from_secs(2), start);

        // 2. Back: the next calls reconnect.
        let proxy = spawn_proxy(tokio::net::TcpListener::bind(addr).await.unwrap(), target, false);
        let start = std::time::Instant::now();
        while q.enqueue(NewTask::new("after", "1")).await.is_err() {
            within(Duration::from_secs(15), start);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = q.lease(10, Duration::from_secs(30)).await.unwrap();
        assert_eq!(got.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["before", "after"]);
        for t in &got {
            q.complete(t).await.unwrap();
        }
        // Wake-ups work again once the subscription is back (the idle probe restores it).
        for _ in 0..3 {
            q.wait_for_work(Duration::from_millis(200)).await;
        }
        let q = Arc::new(q);
        let q2 = q.clone();
        let enqueuer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            q2.enqueue(NewTask::new("wake", "1")).await.unwrap();
        });
        let start = std::time::Instant::now();
        q.wait_for_work(Duration::from_secs(10)).await;
        within(Duration::from_secs(3), start);
        enqueuer.await.unwrap();

        // 3. A server that accepts but never answers: calls time out instead of hanging.
        proxy.abort();
        let _ = proxy.await;
        let proxy = spawn_proxy(tokio::net::TcpListener::bind(addr).await.unwrap(), target, true);
        // The first calls fail at once on the dropped connection; the later ones reconnect to
        // the silent server and must time out.
        let mut slow = Vec::new();
        for _ in 0..4 {
            let start = std::time::Instant::now();
            let (a, b) =
                tokio::join!(q.enqueue(NewTask::new("silent", "1")), q.lease(1, Duration::from_secs(30)));
            assert!(a.is_err() && b.is_err(), "{a:?} {b:?}");
            within(Duration::from_secs(6), start);
            slow.push(start.elapsed());
        }
        println!("calls against a silent server failed after {slow:?}");
        assert!(slow.iter().any(|d| *d > Duration::from_secs(1)), "the silent server was reached: {slow:?}");
        let start = std::time::Instant::now();
        let err = RedisQueue::connect(&format!("redis://{addr}"), &ns).await.expect_err("silent server");
        println!("connecting to a silent server failed after {:?}: {err}", start.elapsed());
        within(Duration::from_secs(6), start);
        proxy.abort();
        let _ = proxy.await;
        // Clean up through a direct connection.
        let direct = RedisQueue::connect(&url, &ns).await.unwrap();
        cleanup(&direct).await;
    }

    /// Deletes what a test namespace left behind (idempotency and delivery keys expire by
    /// themselves).
    async fn cleanup(q: &RedisQueue) {
        let mut con = q.ns.con.clone();
        let p = &q.ns.prefix;
        let seq: Option<u64> = redis::cmd("GET").arg(format!("{p}seq")).query_async(&mut con).await.unwrap();
        let mut keys: Vec<String> = (1..=seq.unwrap_or(0)).map(|id| format!("{p}t:{id}")).collect();
        keys.extend(q.ns.keys.iter().cloned());
        keys.push(format!("{p}schema"));
        for chunk in keys.chunks(1000) {
            let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut con).await.unwrap();
        }
    }

    /// Throughput and idle pickup latency. Run with
    /// `GITHUBAPP_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo test --release -p githubapp --lib
    /// --features redis tasks::redis::tests::throughput -- --ignored --nocapture`
    /// (`BENCH_TASKS` sets the backlog, default 20000).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark"]
    async fn throughput() {
        let Some(url) = server_url("throughput") else { return };
        let n: usize = std::env::var("BENCH_TASKS").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000);
        let q = Arc::new(fresh(&url, "bench").await);
        let lease = Duration::from_secs(30);

        let start = std::time::Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for w in 0..16 {
            let q = q.clone();
            set.spawn(async move {
                for i in (w..n).step_by(16) {
                    q.enqueue(NewTask::new("noop", format!("{{\"i\":{i}}}"))).await.expect("enqueue");
                }
            });
        }
        set.join_all().await;
        let enq = start.elapsed();
        println!("enqueued {n} in {enq:?}: {:.0}/s", n as f64 / enq.as_secs_f64());

        let start = std::time::Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let q = q.clone();
            set.spawn(async move {
                let mut done = 0usize;
                loop {
                    let batch = q.lease(16, lease).await.expect("lease");
                    if batch.is_empty() {
                        break done;
                    }
                    for t in &batch {
                        q.complete(t).await.expect("complete");
                    }
                    done += batch.len();
                }
            });
        }
        let done: usize = set.join_all().await.into_iter().sum();
        let drain = start.elapsed();
        assert_eq!(done, n);
        println!("completed {done} in {drain:?}: {:.0}/s", done as f64 / drain.as_secs_f64());
        let st = q.stats().await.unwrap();
        assert_eq!((st.queued, st.running, st.completed), (0, 0, n as u64), "{st:?}");

        // Idle pickup: a loop waits in wait_for_work; measure enqueue -> leased.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<std::time::Instant>();
        let waiter = {
            let q = q.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while lat.len() < 50 {
                    let got = q.lease(1, lease).await.expect("lease");
                    if got.is_empty() {
                        q.wait_for_work(Duration::from_secs(10)).await;
                        continue;
                    }
                    let sent = rx.recv().await.expect("sent");
                    lat.push(sent.elapsed());
                    q.complete(&got[0]).await.expect("complete");
                }
                lat
            })
        };
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100 + fastrand::u64(..50))).await;
            tx.send(std::time::Instant::now()).unwrap();
            q.enqueue(NewTask::new("wake", "{}")).await.unwrap();
        }
        let mut lat = waiter.await.unwrap();
        lat.sort();
        println!("idle pickup over 50: p50 {:?}, p90 {:?}, max {:?}", lat[25], lat[45], lat[49]);
        assert!(lat[25] < Duration::from_millis(100));
        cleanup(&q).await;
    }
}
