#!/usr/bin/env bash
# Task queue benchmark (issue #3): enqueue and completion rates of a no-op `#[github::task]`
# through the real Worker, idle pickup latency, and a 100,000-task drain, per backend.
#
# Usage:   bench/queue.sh [memory] [sqlite] [redis] [postgres]     (default: all four)
# Env:     BENCH_REDIS_URL     default redis://127.0.0.1:6379
#          BENCH_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/test
#          ENQUEUE_TASKS=20000 BACKLOG=20000 DRAIN=100000 PICKUPS=50   NO_BUILD=1 (skip cargo build)
#
# Targets on a 2-core machine: completed/s at concurrency 16 >= 200,000 (memory),
# 2,000 (sqlite), 20,000 (redis), 5,000 (postgres); idle pickup p50 <= 100 ms; the drain
# loses nothing. Each run uses fresh namespaces; completed tasks leave nothing behind.
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
export BENCH_DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
BIN="$(bench_bin queue)"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if (( $# == 0 )); then set -- memory sqlite redis postgres; fi
RUST_LOG="${RUST_LOG:-error}" "$BIN" "$@"
