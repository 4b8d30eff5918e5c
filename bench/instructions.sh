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
#   allocs      heap allocations (malloc + posix_memalign calls)
#
# and the ratios verify-scan / mode, with and without the SHA-256 instructions. Real CPUs run
# SHA-256 at very different speeds (SHA-NI hardware is ~10x faster than software SHA-256,
# which is what valgrind runs), so the time ratio on a given machine lies between the two.
# Not counted: the kernel (socket work, about the same in every mode) and cache misses.
#
# Usage:   bench/instructions.sh             (from anywhere in the repository; needs valgrind)
# Env:     DELIVERIES=500   measured deliveries per mode (after WARMUP=200)
#          MODES="verify-scan noop ingest"    PORT=18797   NO_BUILD=1 (skip cargo build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DELIVERIES="${DELIVERIES:-500}"
WARMUP="${WARMUP:-200}"
MODES="${MODES:-verify-scan noop ingest}"
PORT="${PORT:-18797}"
export BENCH_SECRET="${BENCH_SECRET:-githubapp-bench-secret}"

die() { echo "instructions.sh: $*" >&2; exit 1; }
command -v valgrind >/dev/null 2>&1 || die "valgrind is not installed: apt-get install valgrind"
command -v callgrind_control >/dev/null 2>&1 || die "callgrind_control (package valgrind) is missing"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

if [[ "${NO_BUILD:-0}" != 1 ]]; then
    echo "== building bench (release)"
    (cd "$ROOT" && nice -n 10 cargo build --release -p bench --quiet)
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/bench"
[[ -x "$BIN" ]] || die "no binary at $BIN"

FIXTURES="$ROOT/fixtures/github-webhooks/payloads/pull_request"
PAYLOAD="${PAYLOAD:-$FIXTURES/opened.with-organization.json}"
[[ -f "$PAYLOAD" ]] || die "payload $PAYLOAD not found"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/githubapp-instr.XXXXXX")"
VG_PID=""
cleanup() {
    if [[ -n "$VG_PID" ]] && kill -0 "$VG_PID" 2>/dev/null; then
        kill "$VG_PID" 2>/dev/null || true
        wait "$VG_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sends <n> signed deliveries over one keep-alive connection; fails on any answer but 200/202.
cat >"$WORK/send.py" <<'PY'
import hashlib, hmac, json, os, socket, sys, uuid
port, n, payload = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
body = json.dumps(json.load(open(payload, "rb")), separators=(",", ":"), ensure_ascii=False).encode()
sig = hmac.new(os.environ["BENCH_SECRET"].encode(), body, hashlib.sha256).hexdigest()
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")
for _ in range(n):
    head = ("POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
            "Content-Type: application/json\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Hook-ID: 1\r\n"
            f"X-Hub-Signature-256: sha256={sig}\r\nContent-Length: {len(body)}\r\n"
            f"X-GitHub-Delivery: {uuid.uuid4()}\r\n\r\n")
    s.sendall(head.encode() + body)
    status = f.readline().split()
    if len(status) < 2 or status[1] not in (b"200", b"202"):
        sys.exit(f"unexpected answer {status!r}")
    length = 0
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    f.read(length)
print(len(body))
PY

# Totals of one callgrind dump: all instructions, SHA-256 compression's own instructions,
# and calls to the allocator.
cat >"$WORK/count.py" <<'PY'
import re, sys
names, fn, total, sha, allocs = {}, None, 0, 0, 0
ALLOC = {"malloc", "posix_memalign", "aligned_alloc", "calloc", "realloc"}
def name(kind_value):
    m = re.match(r"\((\d+)\)(?: (.*))?", kind_value)
    if not m:
        return kind_value
    if m.group(2) is not None:
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), "")
skip_next_cost = False
callee = None
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("fn="):
        fn = name(line[3:].strip())
    elif line.startswith("cfn="):
        callee = name(line[4:].strip())
    elif line.startswith("calls="):
        if callee in ALLOC:
            allocs += int(line[6:].split()[0])
        skip_next_cost = True  # the next cost line is the call's inclusive cost
    elif line[:1].isdigit() or line[:1] in "+-*":
        if skip_next_cost:
            skip_next_cost = False
            continue
        parts = line.split()
        if len(parts) >= 2:
            cost = int(parts[1])
            total += cost
            if fn and "compress256" in fn:
                sha += cost
print(total, sha, allocs)
PY

: >"$WORK/results.tsv"
for mode in $MODES; do
    echo "== $mode: $WARMUP warm-up + $DELIVERIES measured deliveries under callgrind"
    BENCH_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$mode" \
        "$BIN" "$mode" "$PORT" >"$WORK/server-$mode.log" 2>&1 &
    VG_PID=$!
    up=0
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
        kill -0 "$VG_PID" 2>/dev/null || break
        sleep 0.1
    done
    [[ "$up" == 1 ]] || { cat "$WORK/server-$mode.log" >&2; die "$mode: server did not start"; }
    python3 "$WORK/send.py" "$PORT" "$WARMUP" "$PAYLOAD" >/dev/null || die "$mode: warm-up failed"
    sleep 0.5 # background workers finish the warm-up
    callgrind_control --zero "$VG_PID" >/dev/null 2>&1
    bytes=$(python3 "$WORK/send.py" "$PORT" "$DELIVERIES" "$PAYLOAD") || die "$mode: deliveries failed"
    sleep 0.5 # and the measured deliveries
    callgrind_control --dump "$VG_PID" >/dev/null 2>&1
    for _ in $(seq 50); do [[ -s "$WORK/cg.$mode.1" ]] && break; sleep 0.1; done
    kill "$VG_PID"; wait "$VG_PID" 2>/dev/null || true; VG_PID=""
    [[ -s "$WORK/cg.$mode.1" ]] || die "$mode: callgrind wrote no dump"
    read -r total sha allocs < <(python3 "$WORK/count.py" "$WORK/cg.$mode.1")
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
