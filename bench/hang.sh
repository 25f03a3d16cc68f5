#!/usr/bin/env bash
# bench/hang.sh [ROUNDS] — what a hung region costs a restore: three
# versitygw regions on 127.0.0.1, a 120 MiB tree (../shared/bench/mkdata.sh)
# backed up to all three, then restores timed with every region healthy,
# with region r1 (preferred for reads) SIGSTOPped before the restore starts,
# and with r1 SIGSTOPped 1 s into the restore. SIGSTOP is a frozen host: the
# kernel still accepts connections, nothing is ever answered. The regions
# use the backends' default request timeout (30 s). Every restore is
# checked against the first (diff -r). ROUNDS (default 2) repeats the three
# restores; figures on a shared machine are noisy.
#
# Env: WORK (default $TMPDIR/lifeboat-hang-bench), DATA (an existing tree
# to use instead of generating one), SHARED_BENCH (where mkdata.sh is,
# default ../shared/bench), SIZE (default 120MiB), STOP_AFTER
# (default 1, seconds into the restore for the "during" case), BOUND
# (default 300: seconds after which a restore is killed and the run fails).
# Needs versitygw (scripts/install-versitygw.sh), curl, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-2}
work=${WORK:-${TMPDIR:-/tmp}/lifeboat-hang-bench}
size=${SIZE:-120MiB}
stop_after=${STOP_AFTER:-1}
bound=${BOUND:-300}
vgw=$("$here/scripts/install-versitygw.sh" | tail -1)
bin=$work/bin/lifeboat

rm -rf "$work/s1" "$work/s2" "$work/s3" "$work"/restore-* "$work"/*.log
mkdir -p "$work/bin"
(cd "$here" && go build -o "$bin" ./cmd/lifeboat)
data=${DATA:-$work/data}
if [[ ! -d $data ]]; then
  shared=${SHARED_BENCH:-$here/../shared/bench}
  [[ -d $shared ]] || shared=$here/../../shared/bench # from a git worktree
  "$shared/mkdata.sh" "$data" "$size" 1 >/dev/null
fi
data=$(cd "$data" && pwd)

export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret
pids=()
cleanup() {
  # A stopped server ignores SIGTERM: continue every one, then end them.
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
start() { # start N -> sets PORT_N, PID_N
  local n=$1 p; p=$(port); mkdir -p "$work/s$n/data/bench" "$work/s$n/ver"
  ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
    "$vgw" --port "127.0.0.1:$p" --health /health --quiet --keep-alive posix --versioning-dir "$work/s$n/ver" "$work/s$n/data" >"$work/s$n.log" 2>&1 &
  pids+=($!); eval "PORT_$n=$p PID_$n=$!"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/health" >/dev/null && return; sleep 0.1; done
  echo "versitygw $n did not start" >&2; exit 1
}
region() { # region NAME PORT (no timeout: the default 30 s)
  printf '  - name: %s\n    type: s3\n    endpoint: 127.0.0.1:%s\n    bucket: bench\n    region: us-east-1\n    insecure: true\n    path_style: true\n    access_key_env: AWS_ACCESS_KEY_ID\n    secret_key_env: AWS_SECRET_ACCESS_KEY\n' "$1" "$2"
}
for n in 1 2 3; do start $n; done
{ echo "version: 1"; echo "regions:"; region r1 "$PORT_1"; region r2 "$PORT_2"; region r3 "$PORT_3"; } >"$work/three.yaml"
echo pw >"$work/pass"
export LIFEBOAT_PASSPHRASE_FILE=$work/pass
lb() { "$bin" --config "$work/three.yaml" --no-cache "$@"; }
lb init >"$work/init.log" 2>&1
lb backup "$data" >"$work/backup.log" 2>&1 || { tail "$work/backup.log"; exit 1; }

now() { date +%s.%N; }
# restore NAME MODE: MODE is healthy, stop-at-start or stop-during.
restore() {
  local name=$1 mode=$2 t0 t1 rc=0 pid
  [[ $mode == stop-at-start ]] && kill -STOP "$PID_1"
  t0=$(now)
  timeout "$bound" "$bin" --config "$work/three.yaml" --no-cache restore latest --target "$work/restore-$name" >"$work/$name.log" 2>&1 &
  pid=$!
  if [[ $mode == stop-during ]]; then
    sleep "$stop_after"
    kill -STOP "$PID_1"
  fi
  wait "$pid" || rc=$?
  t1=$(now)
  kill -CONT "$PID_1"
  if [[ $rc != 0 ]]; then echo "$name: restore failed (exit $rc)"; tail "$work/$name.log"; exit 1; fi
  local fo; fo=$(grep -c '^failover:' "$work/$name.log" || true)
  printf '%-22s %7.2f s  (%s failovers)\n' "$name" "$(echo "$t1 - $t0" | bc)" "$fo"
  if [[ $name != healthy-1 ]]; then
    diff -r --no-dereference "$work/restore-healthy-1" "$work/restore-$name" >/dev/null || { echo "$name differs from healthy-1"; exit 1; }
    rm -rf "$work/restore-$name"
  fi
}
echo "tree: $data ($(du -sh "$data" | cut -f1)); r1 is stopped; lifeboat $(git -C "$here" rev-parse --short HEAD)"
for r in $(seq "$rounds"); do
  restore "healthy-$r" healthy
  restore "stop-at-start-$r" stop-at-start
  restore "stop-${stop_after}s-in-$r" stop-during
done
echo "restores identical"
