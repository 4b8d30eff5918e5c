#!/usr/bin/env bash
# Instructions per delivery, under callgrind: the webhook benchmark without the noise.
#
# `bench/load.sh` measures time, and on a shared VM the CPU's speed can drift by half within
# seconds, more than the 10% the ingest target is about. Instruction counts do not drift: this
# runs each bench server (same binary and modes as load.sh, one tokio thread) under
# `valgrind --tool=callgrind`, sends the same signed ~24 KB `pull_request.opened` delivery
# (unique X-GitHub-Delivery each) over one keep-alive connection, and counts, per delivery:
#
#   instr       everything the server process executed in user space (workers included)
#   sha256      of which SHA-256 compression (the HMAC; the same code in every mode)
#   allocs      heap allocations: calls to Rust's allocator (alloc, alloc_zeroed, realloc)
#
# and the ratios verify-scan / mode, with and without the SHA-256 instructions. Real CPUs run
# SHA-256 at very different speeds (SHA-NI hardware is ~10x faster than software SHA-256,
# which is what valgrind runs): if time followed instructions, a machine's ratio would lie
# between the two. Not counted: the kernel (socket work, about the same in every mode) and
# cache misses. Two runs differ by less than 0.01%.
#
# Usage:   bench/instructions.sh             (from anywhere in the repository; needs valgrind)
# Env:     DELIVERIES=500   measured deliveries per mode (after WARMUP=200)
#          MODES="verify-scan noop ingest value typed"    PORT=18797   NO_BUILD=1 (skip cargo build)
set -euo pipefail

# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
DELIVERIES="${DELIVERIES:-500}"
WARMUP="${WARMUP:-200}"
MODES="${MODES:-verify-scan noop ingest value typed}"
PORT="${PORT:-18797}"
export BENCH_SECRET="${BENCH_SECRET:-githubapp-bench-secret}"

command -v valgrind >/dev/null 2>&1 || die "valgrind is not installed: apt-get install valgrind"
command -v callgrind_control >/dev/null 2>&1 || die "callgrind_control (package valgrind) is missing"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

BIN="$(bench_bin bench)"
[[ -f "$PAYLOAD" ]] || die "payload $PAYLOAD not found"
bench_workdir instr

# Sends <n> signed deliveries over one keep-alive connection; fails on any answer but <status>.
cat >"$WORK/send.py" <<'PY'
import hashlib, hmac, json, os, socket, sys, uuid
port, n, payload, want = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
body = json.dumps(json.load(open(payload, "rb")), separators=(",", ":"), ensure_ascii=False).encode()
sig = hmac.new(os.environ["BENCH_SECRET"].encode(), body, hashlib.sha256).hexdigest()
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")
for _ in range(n):
    head = ("POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
            "Content-Type: application/json\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Hook-ID: 1\r\n"
            f"X-Hub-Signature-256: sha256={sig}\r\nContent-Length: {len(body)}\r\n"
            f"X-GitHub-Delivery: {uuid.uuid1()}\r\n\r\n")
    s.sendall(head.encode() + body)
    status = f.readline().split()
    if len(status) < 2 or status[1] != want:
        sys.exit(f"answered {status!r}, expected {want.decode()}")
    length = 0
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    f.read(length)
print(len(body))
PY

# Waits until the server has handled <n> deliveries in all and its queue is empty (one GET
# per 0.2 s, usually one in all: the GETs are counted too, but cost ~0.01% of the deliveries).
cat >"$WORK/wait.py" <<'PY'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(300):
    time.sleep(0.2)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/bench/stats")
    s = json.loads(c.getresponse().read())
    q = s.get("queue") or {}
    if s["handled"] >= n and q.get("queued", 0) == 0 and q.get("running", 0) == 0:
        sys.exit(0)
sys.exit(f"after 60 s: {s}, expected {n} handled and an empty queue")
PY

# Totals of one callgrind dump: all instructions, SHA-256 compression's own instructions,
# and calls into Rust's allocator.
cat >"$WORK/count.py" <<'PY'
import re, sys
names, fn, callee, summed, sha, allocs, totals = {}, None, None, 0, 0, 0, None
ALLOC = {"__rustc::__rust_alloc", "__rustc::__rust_alloc_zeroed", "__rustc::__rust_realloc"}
def name(value):  # "(id) name" defines a compressed name, "(id)" refers to it
    m = re.match(r"\((\d+)\)(?: (.*))?$", value)
    if not m:
        return value
    if m.group(2) is not None:
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), "")
skip_next_cost = False
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    if line.startswith(("positions:", "events:")) and line.split(":", 1)[1].split() != (["line"] if line.startswith("p") else ["Ir"]):
        sys.exit(f"unexpected callgrind format: {line}")
    if line.startswith("totals:"):
        totals = int(line.split()[1])
    elif line.startswith("fn="):
        fn = name(line[3:])
    elif line.startswith("cfn="):
        callee = name(line[4:])
    elif line.startswith("calls="):
        if callee in ALLOC:
            allocs += int(line[6:].split()[0])
        skip_next_cost = True  # the next cost line is the call's inclusive cost
    elif line[:1].isdigit() or line[:1] in "+-*":
        if skip_next_cost:
            skip_next_cost = False
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        cost = int(parts[1])
        summed += cost
        if fn and "compress256" in fn:
            sha += cost
if totals is None or abs(summed - totals) > totals // 1000:
    sys.exit(f"{sys.argv[1]}: parsed {summed} instructions, the dump says {totals}")
if allocs == 0:
    sys.exit(f"{sys.argv[1]}: no calls into the allocator found: symbols changed?")
print(totals, sha, allocs)
PY

expected_status() {
    case "$1" in
        noop|typed|value|bare) echo 200 ;;
        verify-scan|ingest) echo 202 ;;
        *) die "unknown mode $1" ;;
    esac
}

control() { # control <zero|dump>: callgrind_control exits 0 even when it reached nothing
    local out
    out="$(callgrind_control "--$1" "$SERVER_PID" 2>&1)" || die "callgrind_control --$1: $out"
    grep -q OK <<<"$out" || die "callgrind_control --$1 did not reach pid $SERVER_PID: $out"
}

: >"$WORK/results.tsv"
for mode in $MODES; do
    want="$(expected_status "$mode")"
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        die "port $PORT is already in use (PORT=... to pick another)"
    fi
    echo "== $mode: $WARMUP warm-up + $DELIVERIES measured deliveries under callgrind"
    BENCH_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$mode" \
        "$BIN" "$mode" "$PORT" >"$WORK/server-$mode.log" 2>&1 &
    SERVER_PID=$!
    up=0
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    [[ "$up" == 1 ]] || { cat "$WORK/server-$mode.log" >&2; die "$mode: server did not start"; }
    python3 "$WORK/send.py" "$PORT" "$WARMUP" "$PAYLOAD" "$want" >/dev/null || die "$mode: warm-up failed"
    python3 "$WORK/wait.py" "$PORT" "$WARMUP" || die "$mode: warm-up not handled"
    control zero
    bytes=$(python3 "$WORK/send.py" "$PORT" "$DELIVERIES" "$PAYLOAD" "$want") || die "$mode: deliveries failed"
    python3 "$WORK/wait.py" "$PORT" $(( WARMUP + DELIVERIES )) || die "$mode: deliveries not handled"
    control dump
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    [[ -s "$WORK/cg.$mode.1" ]] || die "$mode: callgrind wrote no dump"
    counts="$(python3 "$WORK/count.py" "$WORK/cg.$mode.1")" || die "$mode: cannot read the callgrind dump"
    read -r total sha allocs <<<"$counts"
    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$total" "$sha" "$allocs" "$bytes" >>"$WORK/results.tsv"
done

python3 - "$WORK/results.tsv" "$DELIVERIES" <<'PY'
import sys
n = int(sys.argv[2])
rows = {}
for line in open(sys.argv[1]):
    mode, total, sha, allocs, size = line.split("\t")
    rows[mode] = (int(total) / n, int(sha) / n, int(allocs) / n, int(size))
size = next(iter(rows.values()))[3]
# Every mode but `bare` verifies the same signature over the same body: the SHA-256 work must
# match (and not be zero: a renamed SHA-256 function would read as zero everywhere).
shas = {round(r[1]) for mode, r in rows.items() if mode != "bare"}
if len(shas) > 1 or 0 in shas:
    sys.exit(f"SHA-256 instructions differ between modes or are missing ({sorted(shas)})")
print(f"\npayload: {size} bytes; per delivery, {n} deliveries per mode\n")
print(f"{'mode':<12} {'instr':>11} {'sha256':>11} {'other':>9} {'allocs':>7}")
for mode, (total, sha, allocs, _) in rows.items():
    print(f"{mode:<12} {total:>11,.0f} {sha:>11,.0f} {total - sha:>9,.0f} {allocs:>7.1f}")
ref = rows.get("verify-scan")
if ref:
    print()
    for mode, (total, sha, allocs, _) in rows.items():
        if mode == "verify-scan":
            continue
        print(f"verify-scan / {mode:<8} instructions {ref[0] / total:.3f}; without SHA-256 {(ref[0] - ref[1]) / (total - sha):.3f};"
              f" {total - ref[0]:+,.0f} instructions, {allocs - ref[2]:+.1f} allocations per delivery")
PY
