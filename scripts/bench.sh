#!/usr/bin/env bash
# Runs the benchmarks behind BENCHMARKS.md and leaves their reports in target/bench/:
#
#   micro        criterion: the sandbox beside raw wasmtime, compile vs. load from the disk
#                cache, and the store queries (target/criterion/)
#   embedded     bazaar-loadgen against `bazaar` in embedded mode (SQLite, in-process queue)
#   distributed  bazaar-loadgen against results + 2 workers + gateway as separate processes
#                (PostgreSQL, RabbitMQ, S3 on loopback)
#   search       100,000 synthetic agents, then search latency per class of term, on SQLite
#                and on PostgreSQL
#   memory       worker RSS while it meets 400 distinct agents, and gateway RSS under a long
#                load (BENCH_SOAK_SECONDS, 600 by default)
#
# With no arguments it runs them all (about 25 minutes); name phases to run only those:
#   scripts/bench.sh embedded distributed
# It needs what scripts/test.sh needs (it calls scripts/services.sh) plus psql and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT="${BENCH_OUT:-$PWD/target/bench}"
SOAK_SECONDS="${BENCH_SOAK_SECONDS:-600}"
PG_ADMIN_URL="${BAZAAR_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_SERVER="${PG_ADMIN_URL%/*}"
AMQP_URL="${BAZAAR_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
S3_ENDPOINT="${BAZAAR_TEST_S3_ENDPOINT:-http://127.0.0.1:9000}"
BIN="$CARGO_TARGET_DIR/release"
PHASES=("$@")
[ ${#PHASES[@]} -eq 0 ] && PHASES=(micro embedded distributed search memory)

mkdir -p "$OUT"
PIDS=()
DATABASES=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for database in "${DATABASES[@]}"; do
        psql "$PG_ADMIN_URL" -qc "drop database if exists $database with (force)" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

say() { echo "bench: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() { # url
    for _ in $(seq 600); do
        curl -fs "$1/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    say "nothing ready at $1"; return 1
}

# Samples a process's resident set every $2 seconds into $3 (seconds since start, KiB).
sample_rss() { # pid interval file
    local started; started=$(date +%s)
    echo "seconds,rss_kib" >"$3"
    while kill -0 "$1" 2>/dev/null; do
        echo "$(( $(date +%s) - started )),$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null)" >>"$3"
        sleep "$2"
    done
}

# The shared environment of one distributed deployment, in a fresh database, queues and bucket.
distributed_env() { # name
    local database="bazaar_bench_$1_$$"
    psql "$PG_ADMIN_URL" -qc "create database $database" >/dev/null
    DATABASES+=("$database")
    export BAZAAR_DATABASE__URL="$PG_SERVER/$database" \
        BAZAAR_QUEUE__URL="$AMQP_URL" \
        BAZAAR_QUEUE__PREFIX="bazaar-bench-$1-$$" \
        BAZAAR_BLOBS__URL="s3://bazaar-bench-$1-$$" \
        AWS_ENDPOINT_URL="$S3_ENDPOINT" AWS_REGION=us-east-1 \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        BAZAAR_LOG__FILTER=warn
}

# Starts results, 2 workers and a gateway; sets GATEWAY (its URL) and WORKER_PIDS.
start_distributed() { # name
    local grpc http
    grpc=$(free_port); http=$(free_port)
    export BAZAAR_RESULTS__LISTEN="127.0.0.1:$grpc" BAZAAR_RESULTS__URL="http://127.0.0.1:$grpc"
    BAZAAR_OPS__LISTEN="127.0.0.1:$(free_port)" "$BIN/bazaar" --target results >"$OUT/$1-results.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$grpc") 2>/dev/null && break; sleep 0.1; done
    WORKER_PIDS=()
    for index in 1 2; do
        BAZAAR_OPS__LISTEN="127.0.0.1:$(free_port)" BAZAAR_DATA_DIR="$WORK/$1-worker-$index" \
            "$BIN/bazaar" --target worker >"$OUT/$1-worker-$index.log" 2>&1 &
        PIDS+=($!); WORKER_PIDS+=($!)
    done
    BAZAAR_HTTP__LISTEN="127.0.0.1:$http" "$BIN/bazaar" --target gateway >"$OUT/$1-gateway.log" 2>&1 &
    PIDS+=($!); GATEWAY_PID=$!
    GATEWAY="http://127.0.0.1:$http"
    wait_ready "$GATEWAY"
    sleep 1 # the workers subscribe
}

# Forgets the settings a distributed phase exported, so that the next phase starts clean.
clear_env() {
    local name
    for name in $(compgen -e); do
        case "$name" in BAZAAR_TEST_*) ;; BAZAAR_*|AWS_*) unset "$name" ;; esac
    done
}

stop_all() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

WORK=$(mktemp -d)
say "building (release)"
cargo build --release -p bazaar -p bazaar-loadgen
scripts/services.sh >&2
{ echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)";
  echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)";
  echo "date: $(date -u +%FT%TZ)"; echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (modified)')";
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"; } >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

for phase in "${PHASES[@]}"; do
    clear_env
    case "$phase" in
    micro)
        say "criterion: sandbox"
        cargo bench -p bazaar-sandbox --bench sandbox 2>&1 | tee "$OUT/criterion-sandbox.txt"
        say "criterion: stores"
        BAZAAR_BENCH_POSTGRES_URL="$PG_ADMIN_URL" cargo bench -p bazaar-database --bench store 2>&1 \
            | tee "$OUT/criterion-store.txt"
        ;;
    embedded)
        say "embedded mode"
        port=$(free_port)
        "$BIN/bazaar" --data-dir "$WORK/embedded" --listen "127.0.0.1:$port" >"$OUT/embedded.log" 2>&1 &
        PIDS+=($!)
        wait_ready "http://127.0.0.1:$port"
        "$BIN/bazaar-loadgen" execute --url "http://127.0.0.1:$port" --mode embedded --name embedded \
            --out-dir "$OUT" --sequential-requests 2000 --duration-secs 15 --async-tasks 10000
        stop_all
        ;;
    distributed)
        say "distributed mode"
        distributed_env distributed
        start_distributed distributed
        "$BIN/bazaar-loadgen" execute --url "$GATEWAY" --mode distributed --name distributed \
            --out-dir "$OUT" --sequential-requests 2000 --duration-secs 15 --async-tasks 10000
        stop_all
        ;;
    search)
        say "search at 100,000 agents: SQLite"
        mkdir -p "$WORK/search"
        "$BIN/bazaar-loadgen" seed-agents --database-url "sqlite://$WORK/search/bazaar.db" --count 100000
        port=$(free_port)
        "$BIN/bazaar" --data-dir "$WORK/search" --listen "127.0.0.1:$port" >"$OUT/search-sqlite.log" 2>&1 &
        PIDS+=($!)
        wait_ready "http://127.0.0.1:$port"
        "$BIN/bazaar-loadgen" search --url "http://127.0.0.1:$port" --out-dir "$OUT" --name search-sqlite --mode embedded
        stop_all
        say "search at 100,000 agents: PostgreSQL"
        database="bazaar_bench_search_$$"
        psql "$PG_ADMIN_URL" -qc "create database $database" >/dev/null
        DATABASES+=("$database")
        "$BIN/bazaar-loadgen" seed-agents --database-url "$PG_SERVER/$database" --count 100000 --concurrency 16
        # Planner statistics, as autovacuum would gather them on a server that runs it.
        psql "$PG_SERVER/$database" -qc "vacuum analyze" >/dev/null
        port=$(free_port)
        BAZAAR_DATABASE__URL="$PG_SERVER/$database" "$BIN/bazaar" --data-dir "$WORK/search-pg" \
            --listen "127.0.0.1:$port" >"$OUT/search-postgres.log" 2>&1 &
        PIDS+=($!)
        wait_ready "http://127.0.0.1:$port"
        "$BIN/bazaar-loadgen" search --url "http://127.0.0.1:$port" --out-dir "$OUT" --name search-postgres --mode postgres
        stop_all
        ;;
    memory)
        say "memory: a worker meeting 400 distinct agents (module cache of 64)"
        distributed_env memory
        export BAZAAR_SANDBOX__MODULE_CACHE_CAPACITY=64
        start_distributed memory
        unset BAZAAR_SANDBOX__MODULE_CACHE_CAPACITY
        sample_rss "${WORKER_PIDS[0]}" 2 "$OUT/memory-worker-1-rss.csv" &
        sample_rss "${WORKER_PIDS[1]}" 2 "$OUT/memory-worker-2-rss.csv" &
        "$BIN/bazaar-loadgen" distinct-agents --url "$GATEWAY" --count 400 --out-dir "$OUT" --name memory-distinct-agents
        say "memory: gateway under load for $SOAK_SECONDS s"
        sample_rss "$GATEWAY_PID" 10 "$OUT/memory-gateway-rss.csv" &
        "$BIN/bazaar-loadgen" execute --url "$GATEWAY" --mode distributed --name memory-soak \
            --out-dir "$OUT" --sequential-requests 0 --warmup-requests 0 --duration-secs "$SOAK_SECONDS"
        stop_all
        ;;
    *)
        say "unknown phase $phase (micro, embedded, distributed, search, memory)"; exit 2 ;;
    esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
say "reports are in $OUT"
