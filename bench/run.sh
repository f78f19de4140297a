#!/usr/bin/env bash
# omp's speed on workloads W1-W4, embedded and over RabbitMQ, against the floor
# of amqp091-go alone (see README.md). Every omp figure is the CLI as users run
# it: `omp run FILE` and `omp run FILE --broker URL` against one
# `omp worker --broker URL` with its default flags, echo served by the plugin
# host.
#
# Knobs (environment):
#   N=3                      repetitions per workload and mode; the median is printed
#   WORKLOADS="W1 W2 W3 W4"  which workloads
#   MODES="embedded broker"  which modes
#   BROKER=amqp://guest:guest@127.0.0.1:5672  the broker, without a vhost:
#                            the script makes a vhost of its own and deletes it
#   OMP=                     an omp binary to use instead of building one
#   PROFILE_DIR=             write CPU profiles of the worker and of each
#                            --broker run there ($OMP_CPUPROFILE)
#   WORKER_ARGS=             extra flags for omp worker, for experiments (the
#                            figures that count use none: its defaults)
#   KEEP=0                   1 keeps the work directory (logs, .omp files)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-3}
WORKLOADS=${WORKLOADS:-"W1 W2 W3 W4"}
MODES=${MODES:-"embedded broker"}
BROKER=${BROKER:-amqp://guest:guest@127.0.0.1:5672}
KEEP=${KEEP:-0}
WORK=$(mktemp -d -t omp-bench.XXXXXX)
VHOST=omp-bench-$$
URL=$BROKER/$VHOST

log() { echo "# $*" >&2; }

WORKER_PID=""
VHOST_MADE=0
cleanup() {
  if [[ -n "$WORKER_PID" ]] && kill -0 "$WORKER_PID" 2>/dev/null; then
    kill -TERM "$WORKER_PID" 2>/dev/null || true
    wait "$WORKER_PID" 2>/dev/null || true
  fi
  if [[ $VHOST_MADE == 1 ]]; then
    rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || log "could not delete vhost $VHOST"
  fi
  if [[ $KEEP == 1 ]]; then log "work directory: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
if [[ -z "${OMP:-}" ]]; then
  log "building omp"
  (cd "$ROOT" && go build -o "$WORK/omp" ./cmd/omp)
  OMP=$WORK/omp
  OMP_BUILT=$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- . ":!bench" || echo +dirty)
else
  OMP_BUILT=$OMP
fi
(cd "$ROOT" && go build -o "$WORK/floor" ./bench/floor)

# ---------------------------------------------------------------- workloads
gen() { # $1 workload -> the .omp file
  case $1 in
    W1) echo 'parallel < echo e(i) for i in 1..1000 > -> reduce count' ;;
    W2) echo 'sequence < echo e(i) for i in 1..200 >' ;;
    W3) echo 'parallel < echo e(i) for i in 1..10000 > -> reduce count' ;;
    W4) echo 'sequence < echo e(i) for i in 1..500 >' ;;
  esac >"$WORK/$1.omp"
}
expect() { # $1 workload -> the result line omp must print
  case $1 in W1) echo 1000 ;; W2) echo 200 ;; W3) echo 10000 ;; W4) echo 500 ;; esac
}
what() {
  case $1 in
    W1) echo "1000-fanout-reduce" ;; W2) echo "200-chain" ;;
    W3) echo "10000-fanout-reduce" ;; W4) echo "500-chain-per-hop" ;;
  esac
}

# ---------------------------------------------------------------- vhost, worker
if [[ $MODES == *broker* ]]; then
  rabbitmqctl -q add_vhost "$VHOST" >/dev/null
  VHOST_MADE=1
  user=$(sed -E 's|^amqps?://([^:@/]*).*|\1|' <<<"$BROKER")
  rabbitmqctl -q set_permissions -p "$VHOST" "${user:-guest}" '.*' '.*' '.*' >/dev/null
fi

start_worker() {
  local prof=()
  [[ -n "${PROFILE_DIR:-}" ]] && prof=(env OMP_CPUPROFILE="$PROFILE_DIR/worker.pprof")
  "${prof[@]}" "$OMP" worker --broker "$URL" ${WORKER_ARGS:-} >"$WORK/worker.log" 2>&1 &
  WORKER_PID=$!
  for _ in $(seq 1 100); do
    grep -q "serving" "$WORK/worker.log" && return 0
    kill -0 "$WORKER_PID" 2>/dev/null || { cat "$WORK/worker.log" >&2; exit 1; }
    sleep 0.1
  done
  log "the worker did not start within 10 s"; exit 1
}

# run_once MODE WORKLOAD REP -> "WALL_S RUN_S" (the CLI's wall time, and the
# run's own duration from --json, which leaves out compiling and starting)
run_once() {
  local mode=$1 w=$2 rep=$3 args=() env=()
  [[ $mode == broker ]] && args=(--broker "$URL")
  [[ $mode == broker && -n "${PROFILE_DIR:-}" ]] && env=(OMP_CPUPROFILE="$PROFILE_DIR/run-$w-$rep.pprof")
  local t0 t1
  t0=$(date +%s.%N)
  if ! env "${env[@]}" "$OMP" run "$WORK/$w.omp" --json "${args[@]}" >"$WORK/out.json" 2>"$WORK/err.log"; then
    log "$mode $w failed:"; tail -5 "$WORK/err.log" >&2; exit 1
  fi
  t1=$(date +%s.%N)
  local got
  got=$(jq -r '.results[0]' "$WORK/out.json")
  [[ $got == "$(expect "$w")" ]] || { log "$mode $w: result $got, want $(expect "$w")"; exit 1; }
  echo "$(echo "$t1 - $t0" | bc -l) $(jq -r '.duration' "$WORK/out.json")"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# ---------------------------------------------------------------- floor
# On the benchmark's vhost when there is one, else on the default one.
FLOOR_URL=$URL; [[ $VHOST_MADE == 1 ]] || FLOOR_URL=$BROKER/
read -r FLOOR < <("$WORK/floor" -url "$FLOOR_URL")
rtt=$(sed -E 's/.*rtt_ms=([0-9.]+).*/\1/' <<<"$FLOOR")
p1k=$(sed -E 's/.*pipe1000_s=([0-9.]+).*/\1/' <<<"$FLOOR")
p10k=$(sed -E 's/.*pipe10000_s=([0-9.]+).*/\1/' <<<"$FLOOR")
echo "# $(date -u +%FT%TZ) cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg) N=$N omp=$OMP_BUILT${WORKER_ARGS:+ worker_args=\"$WORKER_ARGS\"}"
echo "floor amqp091-go rtt_ms=$rtt pipe1000_s=$p1k pipe10000_s=$p10k"

floor_of() { # $1 workload -> the floor in the unit its line prints
  case $1 in
    W1) echo "$p1k" ;; W2) echo "$rtt * 200 / 1000" | bc -l ;;
    W3) echo "$p10k" ;; W4) echo "$rtt" ;;
  esac
}

[[ $MODES == *broker* ]] && start_worker
for w in $WORKLOADS; do
  gen "$w"
  for mode in $MODES; do
    walls=() runs=()
    for rep in $(seq 1 "$N"); do
      read -r wall run < <(run_once "$mode" "$w" "$rep")
      walls+=("$wall"); runs+=("$run")
    done
    mw=$(printf '%s\n' "${walls[@]}" | median)
    mr=$(printf '%s\n' "${runs[@]}" | median)
    f=$(floor_of "$w")
    if [[ $w == W4 ]]; then
      # per hop, in ms
      hop=$(echo "$mr * 1000 / 500" | bc -l)
      printf 'omp %-8s %s %-20s median_ms_per_hop=%.3f wall_s=%.3f floor_ms=%.3f ratio=%.1f runs_s=%s\n' \
        "$mode" "$w" "$(what "$w")" "$hop" "$mw" "$f" "$(echo "$hop / $f" | bc -l)" "$(IFS=,; echo "${runs[*]}")"
    else
      printf 'omp %-8s %s %-20s median_s=%.3f wall_s=%.3f floor_s=%.3f ratio=%.1f runs_s=%s\n' \
        "$mode" "$w" "$(what "$w")" "$mr" "$mw" "$f" "$(echo "$mr / $f" | bc -l)" "$(IFS=,; echo "${runs[*]}")"
    fi
  done
done
