#!/usr/bin/env bash
# bench/regions.sh DATA_DIR [OUT] — multi-region cost on real S3 servers:
# the same backup to 1 and to 3 versitygw regions (127.0.0.1), restores from
# 3 healthy regions, and restores with region 1's server killed. Prints
# wall/CPU/RSS per step (and the servers' CPU) and the ratios the S3-regions
# issue asks for. Needs versitygw (scripts/install-versitygw.sh),
# /usr/bin/time.
#
# Steps run in ABBA order (1 region, 3, 3, 1; healthy, killed, killed,
# healthy) and each ratio is of the pairs' sums: on this kind of machine
# every step runs slower than the one before it (the page cache grows by
# what each step writes, and new pages cost more), and the symmetric order
# cancels that drift instead of charging it to whichever step runs second.
# An uncounted warm-up backup runs first.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=$(cd "${1:?usage: regions.sh DATA_DIR [OUT]}" && pwd)
work=${WORK:-${TMPDIR:-/tmp}/lifeboat-regions-bench}
out=${2:-$work/results.md}
vgw=$("$here/scripts/install-versitygw.sh")
bin=$work/bin/lifeboat
# As root, $work is a brand-new ext4 (../shared/bench/freshfs.sh): on a
# file system without a journal, files created in the minutes after a mass
# delete (the previous run's) cost the servers several times the CPU.
freshfs=$here/../shared/bench/freshfs.sh
fresh=0
if [[ $EUID == 0 && -x $freshfs ]] && command -v losetup >/dev/null; then
  fresh=1
  "$freshfs" mount "$work" $((10 * $(du -sb "$data" | cut -f1) + 4 * 1073741824))
else
  echo "regions.sh: $work is a plain directory (not root, or no freshfs.sh): results vary more" >&2
  rm -rf "$work"
fi
mkdir -p "$work/bin"
(cd "$here" && go build -o "$bin" ./cmd/lifeboat)
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $fresh == 1 ]]; then
    [[ $out == "$work"/* ]] && cp "$out" "${TMPDIR:-/tmp}/lifeboat-regions-results.md" && echo "results copied to ${TMPDIR:-/tmp}/lifeboat-regions-results.md" >&2
    "$freshfs" umount "$work"
  fi
}
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
start() { # start N [PORT] -> sets PORT_N, PID_N
  local n=$1 p=${2:-}; [[ -n $p ]] || p=$(port); mkdir -p "$work/s$n/data/bench" "$work/s$n/ver"
  ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
    "$vgw" --port "127.0.0.1:$p" --health /health --quiet --keep-alive posix --versioning-dir "$work/s$n/ver" "$work/s$n/data" >"$work/s$n.log" 2>&1 &
  pids+=($!); eval "PORT_$n=$p PID_$n=$!"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/health" >/dev/null && return; sleep 0.1; done
  echo "versitygw $n did not start" >&2; exit 1
}
region() { # region NAME PORT PREFIX
  printf '  - name: %s\n    type: s3\n    endpoint: 127.0.0.1:%s\n    bucket: bench\n    prefix: %s\n    region: us-east-1\n    insecure: true\n    path_style: true\n    timeout: 5s\n    access_key_env: AWS_ACCESS_KEY_ID\n    secret_key_env: AWS_SECRET_ACCESS_KEY\n' "$1" "$2" "$3"
}
for n in 1 2 3; do start $n; done
echo pw >"$work/pass"
export LIFEBOAT_PASSPHRASE_FILE=$work/pass
{ echo "version: 1"; echo "regions:"; region one "$PORT_1" single; } >"$work/one.yaml"
{ echo "version: 1"; echo "regions:"; region r1 "$PORT_1" multi; region r2 "$PORT_2" multi; region r3 "$PORT_3" multi; } >"$work/three.yaml"
{ echo "version: 1"; echo "regions:"; region one "$PORT_1" single2; } >"$work/one-b.yaml"
{ echo "version: 1"; echo "regions:"; region r1 "$PORT_1" multi2; region r2 "$PORT_2" multi2; region r3 "$PORT_3" multi2; } >"$work/three-b.yaml"
servercpu() { # CPU seconds of the running servers so far
  local t=0 p
  for p in $(pgrep -f "$vgw --port 127.0.0.1:" || true); do
    t=$((t + $(awk '{print $14+$15+$16+$17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}
results=()
step() { # step NAME CONFIG ARGS...
  local name=$1 cfg=$2; shift 2; sync
  local s0; s0=$(servercpu)
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" "$bin" --config "$cfg" --cache-dir "$work/cache-$name" "$@" >"$work/$name.log" 2>&1 || { echo "$name failed:"; tail "$work/$name.log"; exit 1; }
  read -r wall user sys rss <"$work/$name.time"
  local srv; srv=$(echo "$(servercpu) - $s0" | bc)
  results+=("$name $wall $(echo "$user + $sys" | bc) $((rss/1024)) $srv")
  echo "$name: $wall s wall, $((rss/1024)) MiB, servers $srv CPU s"
}
step init1 "$work/one.yaml" init
step init3 "$work/three.yaml" init
step init1b "$work/one-b.yaml" init
step init3b "$work/three-b.yaml" init
# Warm-up, not counted: the first backup of a run pays for the page cache
# and memory the machine hands out for the first time (up to half again as
# long as the same step later), which would skew the first pair.
{ echo "version: 1"; echo "regions:"; region warm "$PORT_1" warmup; } >"$work/warm.yaml"
step init-warmup "$work/warm.yaml" init
step backup-warmup "$work/warm.yaml" backup "$data"
step backup-1-region "$work/one.yaml" backup "$data"
step backup-3-regions "$work/three.yaml" backup "$data"
step backup-3-regions-b "$work/three-b.yaml" backup "$data"
step backup-1-region-b "$work/one-b.yaml" backup "$data"
step restore-3-healthy "$work/three.yaml" restore latest --target "$work/restore-healthy"
kill -9 "$PID_1"; wait "$PID_1" 2>/dev/null || true
step restore-1-of-3-killed "$work/three.yaml" restore latest --target "$work/restore-killed"
step restore-1-of-3-killed-b "$work/three.yaml" restore latest --target "$work/restore-killed-b"
start 1 "$PORT_1"
step restore-3-healthy-b "$work/three.yaml" restore latest --target "$work/restore-healthy-b"
for d in restore-killed restore-killed-b restore-healthy-b; do
  diff -r --no-dereference "$work/restore-healthy" "$work/$d" >/dev/null || { echo "$d differs from restore-healthy"; exit 1; }
done
echo "restores identical"
get() { for r in "${results[@]}"; do set -- $r; if [[ $1 == "$WANT" ]]; then echo "$2"; fi; done; }
sum() { local t=0 w; for w in "$@"; do WANT=$w; t=$(echo "$t + $(get)" | bc); done; echo "$t"; }
b1=$(sum backup-1-region backup-1-region-b); b3=$(sum backup-3-regions backup-3-regions-b)
rh=$(sum restore-3-healthy restore-3-healthy-b); rk=$(sum restore-1-of-3-killed restore-1-of-3-killed-b)
{
  echo "| step | wall s | CPU s | peak RSS MiB | servers' CPU s |"; echo "|---|---:|---:|---:|---:|"
  for r in "${results[@]}"; do set -- $r; echo "| $1 | $2 | $3 | $4 | $5 |"; done
  echo
  echo "backup to 3 regions / to 1 region (sums of the ABBA pairs): $(echo "scale=2; $b3 / $b1" | bc)x (target <= 1.25)"
  echo "restore with region 1 killed / healthy (sums of the ABBA pairs): $(echo "scale=2; $rk / $rh" | bc)x (target <= 1.2)"
} | tee "$out"
