# Shared by the bench scripts (sourced, not run): building the release binaries, the payload,
# a work directory and the server process that cleanup stops.
# shellcheck shell=bash

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "${0##*/}: $*" >&2; exit 1; }

# bench_bin <binary>: builds it in release mode (unless NO_BUILD=1) and prints its path.
bench_bin() {
    if [[ "${NO_BUILD:-0}" != 1 ]]; then
        echo "== building $1 (release)" >&2
        (cd "$BENCH_ROOT" && nice -n 10 cargo build --release -p bench --bin "$1" --quiet) || die "cargo build failed"
    fi
    local bin="${CARGO_TARGET_DIR:-$BENCH_ROOT/target}/release/$1"
    [[ -x "$bin" ]] || die "no binary at $bin"
    echo "$bin"
}

# The ~24 KB `pull_request.opened` delivery every webhook benchmark sends (PAYLOAD=... for
# another one).
PAYLOAD="${PAYLOAD:-$BENCH_ROOT/fixtures/github-webhooks/payloads/pull_request/opened.with-organization.json}"

# bench_workdir <name>: makes $WORK and, on exit, stops $SERVER_PID (and $IDLE_POLL_PID) and
# removes $WORK.
SERVER_PID=""
bench_workdir() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/githubapp-$1.XXXXXX")"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
bench_cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n "${IDLE_POLL_PID:-}" ]]; then kill "$IDLE_POLL_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
