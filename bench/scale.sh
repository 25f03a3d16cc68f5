#!/usr/bin/env bash
# bench/scale.sh [OUT_DIR] — Lifeboat beside restic at scale (issue 13): a
# tree of many small files, and a repository of many snapshots. Run from the
# project root.
#
# Files mode (MODE=files or both, the default):
#   the tree: COUNT small files (default 1,000,000), made once by
#   bench/scalegen (deterministic: same COUNT and seed, same tree; 100 files
#   per directory, 16 B..4 KiB, ~570 B on average, each file a distinct
#   blob, fixed mtimes) into $BENCH_HOME/data/scale-<COUNT>. (The shared
#   datagen makes at most 4,000 tiny files, hence a generator of our own.)
#   Per engine order (restic first, then Lifeboat first; ORDERS=one: only the
#   ENGINES order), on a brand-new loop-mounted ext4 (../shared/bench/
#   freshfs.sh; FRESH_FS=1, the default as root) holding a copy of the tree:
#     init (untimed), then timed per engine:
#       backup1  initial backup
#       backup2  no-change backup
#     then the tree is changed once (scalegen mutate: 1 % of the files
#     rewritten), the same for both engines, and timed per engine:
#       backup3  backup after the 1 % change
#       ls       list the snapshot (`ls latest`, output discarded)
#       restore  restore of the latest snapshot onto another brand-new ext4,
#                compared with the tree (datagen manifest: content, modes,
#                symlinks, mtimes) — every restore, both engines, both orders
#       verify   `check --read-data`
#   Indexed blobs per engine: restic `stats --mode raw-data` total_blob_count,
#   Lifeboat the sum of its snapshots' blobs_added. Bytes per indexed blob =
#   a step's peak RSS / indexed blobs (the issue's measure, for backup2 and
#   verify).
# Snapshots mode (MODE=snapshots or both): per engine order, SNAPSHOTS
#   (default 300) backups of a small tree (SMALL files, default 200, made by
#   scalegen; CHANGE=1, the default, rewrites one file before every round so
#   that every backup also stores a little, as real ones do; CHANGE=0 backs
#   up the unchanged tree), each engine in turn, every backup timed. Printed
#   per engine: the least-squares slope of CPU (user+sys) and of wall time
#   against the number of existing snapshots (ms per snapshot), the fitted
#   cost at 1 snapshot and at SNAPSHOTS, and the ratio of the slopes; the
#   rows are in snapshots.tsv. (The same effect in-process, without CLI
#   start-up noise: go test -bench BackupHistory ./engine/backup/.)
# Every timed step runs under /usr/bin/time -v (wall, user+sys CPU, peak RSS).
# The machine is shared: compare the engines only within a run, as ratios
# (summed over both orders, as ../shared/bench/ratios.sh does).
#
# Env: COUNT (1000000; e.g. 20000 for a quick run), MODE (both | files |
#      snapshots), SNAPSHOTS (300), SMALL (200), CHANGE (1), ORDERS (both |
#      one), ENGINES ("restic lifeboat"), BENCH_HOME ($TMPDIR/lifeboat-bench),
#      FRESH_FS (1 as root), KEEP=1 keeps WORK.
# Output: OUT_DIR (default $BENCH_HOME/results/scale-<COUNT>-<stamp>) with
#      results.tsv (one row per timed step and order), blobs.tsv,
#      snapshots.tsv, logs/ and results.md (tables and ratios), also printed.
set -uo pipefail
shared=$(cd "$(dirname "$0")/../../shared/bench" 2>/dev/null && pwd) || shared=/work/shared/bench
[[ -x $shared/peers.sh ]] || { echo "scale.sh: ../shared/bench not found" >&2; exit 1; }
proj=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_HOME=${BENCH_HOME:-${TMPDIR:-/tmp}/lifeboat-bench}
export BIN=$BENCH_HOME/bin
COUNT=${COUNT:-1000000} MODE=${MODE:-both} SNAPSHOTS=${SNAPSHOTS:-300} SMALL=${SMALL:-200} CHANGE=${CHANGE:-1}
ENGINES=${ENGINES:-restic lifeboat}
stamp=$(date +%Y%m%d-%H%M%S)
OUT=${1:-$BENCH_HOME/results/scale-$COUNT-$stamp}
export WORK=${WORK:-$BENCH_HOME/work-scale}
export SRC=$WORK/src
export REPO_TYPE=local
export PATH=$BIN:$PATH
FRESH_FS=${FRESH_FS:-$([[ $EUID == 0 ]] && command -v losetup >/dev/null && echo 1 || echo 0)}

die() { echo "scale.sh: $*" >&2; exit 1; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (apt-get install time)"
command -v jq >/dev/null || die "jq missing (apt-get install jq)"
[[ $MODE == both || $MODE == files || $MODE == snapshots ]] || die "MODE is both, files or snapshots"
((SNAPSHOTS >= 3)) || die "SNAPSHOTS must be at least 3"
mkdir -p "$BIN" "$OUT/logs"
"$shared/install-restic.sh" >/dev/null || die "cannot install restic"
(cd "$proj" && go build -o "$BIN/lifeboat" ./cmd/lifeboat) || die "cannot build lifeboat"
(cd "$proj/bench/scalegen" && go build -o "$BIN/scalegen" .) || die "cannot build scalegen"
DG=$("$shared/build-datagen.sh") || die "cannot build datagen"

source "$shared/engines.d/restic.sh"
source "$proj/bench/engines.d/lifeboat.sh"
# the steps this benchmark adds to the engines' peers.sh interface
restic_ls()      { restic ls latest >/dev/null; }
restic_blobs()   { restic stats --mode raw-data --json | jq .total_blob_count; }
restic_backup_small() { restic backup --host bench "$SMALLSRC"; }
lifeboat_ls()    { lifeboat_lb ls latest >/dev/null; }
lifeboat_blobs() { lifeboat_lb --json snapshots | jq '[.[].summary.blobs_added] | add'; }
lifeboat_backup_small() { lifeboat_lb backup --host bench "$SMALLSRC"; }
export -f $(declare -F | awk '{print $3}')

TSV=$OUT/results.tsv
printf 'order\tengine\tstep\twall_s\tuser_s\tsys_s\tcpu_s\tpeak_rss_mib\trc\tload1\n' >"$TSV"
printf 'order\tengine\tblobs\n' >"$OUT/blobs.tsv"
printf 'order\tengine\tsnapshots_before\twall_s\tcpu_s\tpeak_rss_mib\trc\n' >"$OUT/snapshots.tsv"

# measure ORDER ENGINE STEP FN [ARGS]: runs ENGINE_FN under /usr/bin/time in
# a child bash with the engine's environment; sets row (wall user sys cpu
# rss) and returns the step's exit code.
measure() {
  local o=$1 e=$2 step=$3 fn=$4; shift 4
  local log=$OUT/logs/$o.$e.$step.log tf=$OUT/logs/$o.$e.$step.time rc
  ( export ENGINE=$e EDIR=$WORK/$e; "${e}_env"
    /usr/bin/time -v -o "$tf" bash -c "${e}_$fn \"\$@\"" _ "$@" ) >"$log" 2>&1
  rc=$?
  row=$(awk -F': ' '
    /User time/ {u=$2} /System time/ {s=$2} /Maximum resident set size/ {r=$2}
    /Elapsed \(wall clock\)/ {n=split($NF,a,":"); w=0; for(i=1;i<=n;i++) w=w*60+a[i]}
    END {printf "%.2f\t%.2f\t%.2f\t%.2f\t%.0f", w, u, s, u+s, r/1024}' "$tf")
  return $rc
}
# timed ORDER ENGINE STEP FN [ARGS]: measure, then a row in results.tsv.
timed() {
  local o=$1 e=$2 step=$3 rc load1
  sync
  load1=$(cut -d' ' -f1 /proc/loadavg)
  measure "$@"
  rc=$?
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$o" "$e" "$step" "$row" "$rc" "$load1" >>"$TSV"
  echo "  [$o] $e $step: rc=$rc wall/user/sys/cpu/rss: $(tr '\t' ' ' <<<"$row")" >&2
  return $rc
}
# untimed ENGINE FN [ARGS]: the same without measurement, output to stdout
untimed() {
  local e=$1 fn=$2; shift 2
  ( export ENGINE=$e EDIR=$WORK/$e; "${e}_env"; "${e}_$fn" "$@" )
}
fresh() { # fresh DIR BYTES: a brand-new ext4 at DIR (or a plain directory)
  if [[ $FRESH_FS == 1 ]]; then "$shared/freshfs.sh" mount "$1" "$2" || die "freshfs failed"
  else rm -rf "$1"; mkdir -p "$1"; fi
}
unfresh() { # unfresh DIR
  if [[ $FRESH_FS == 1 ]]; then "$shared/freshfs.sh" umount "$1"; else rm -rf "$1"; fi
}

reversed=$(echo "$ENGINES" | awk '{for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "")}')
orders=("$ENGINES"); [[ ${ORDERS:-both} == both && $reversed != "$ENGINES" ]] && orders+=("$reversed")

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm); $(nproc) CPUs; $(free -g | awk '/Mem:/{print $2}') GiB RAM; shared with other work (noisy)"
  echo "mode: $MODE; COUNT=$COUNT files; SNAPSHOTS=$SNAPSHOTS backups of $SMALL files (CHANGE=$CHANGE)"
  echo "restic: $(restic version | head -1)"
  echo "lifeboat: $(lifeboat version | head -1) ($(git -C "$proj" rev-parse --short HEAD)$(git -C "$proj" diff --quiet || echo ", modified"))"
  echo "WORK: $([[ $FRESH_FS == 1 ]] && echo "fresh journaled ext4 on a loop device per order and per restore" || echo "plain directory") at $WORK"
} | tee "$OUT/env.txt" >&2

# ---- files mode
files_mode() {
  local data=$BENCH_HOME/data/scale-$COUNT bytes
  if [[ ! -d $data ]]; then
    mkdir -p "$BENCH_HOME/data"
    scalegen gen -count "$COUNT" "$data.tmp" >"$data.txt" || die "scalegen failed"
    mv "$data.tmp" "$data"
  fi
  echo "tree: $data: $(cat "$data.txt")" | tee -a "$OUT/env.txt" >&2
  # ext4 blocks of 4 KiB per small file, for the tree and the repositories
  bytes=$(((COUNT * 3 * 4096) + 2 * $(du -sb "$data" | cut -f1) + 2 * 1073741824))
  # mkfs.ext4 gives one inode per 16 KiB: enough for two copies of the
  # tree's files and directories (the image is sparse; 1,000,000 files need
  # 32 GiB of it, not of the disk)
  inodes=$(((COUNT + COUNT / 50 + 65536) * 2 * 16384))
  ((bytes >= inodes)) || bytes=$inodes
  for order in "${orders[@]}"; do
    local o=${order// /-} e d
    echo "== files, order: $order" >&2
    fresh "$WORK" "$bytes"
    cp -a "$data" "$SRC" || die "copy failed"
    for e in $order; do mkdir -p "$WORK/$e"; untimed "$e" init >"$OUT/logs/$o.$e.init.log" 2>&1 || die "$e init failed"; done
    for e in $order; do
      timed "$o" "$e" backup1 backup || die "$e backup1 failed (see $OUT/logs)"
      timed "$o" "$e" backup2 backup || die "$e backup2 failed (see $OUT/logs)"
    done
    scalegen mutate "$SRC" >"$OUT/logs/$o.mutate.log" 2>&1 || die "mutate failed"
    "$DG" manifest "$SRC" >"$WORK/manifest"
    for e in $order; do
      timed "$o" "$e" backup3 backup || die "$e backup3 failed (see $OUT/logs)"
      printf '%s\t%s\t%s\n' "$o" "$e" "$(untimed "$e" blobs 2>/dev/null)" >>"$OUT/blobs.tsv"
      timed "$o" "$e" ls ls
      d=$WORK/restore-$e
      fresh "$d" "$bytes"
      timed "$o" "$e" restore restore "$d/t"
      if "$DG" manifest "$d/t" | cmp -s - "$WORK/manifest"; then
        echo "[$o] $e: restore identical to the tree (datagen manifest)" | tee -a "$OUT/verify.txt" >&2
      else
        echo "[$o] $e: restore DIFFERS from the tree (see $OUT/logs/$o.$e.restore.log)" | tee -a "$OUT/verify.txt" >&2
      fi
      unfresh "$d"
      timed "$o" "$e" verify verify
    done
    [[ ${KEEP:-0} == 1 ]] || unfresh "$WORK"
  done
}

# ---- snapshots mode
snapshots_mode() {
  export SMALLSRC=$WORK/small
  for order in "${orders[@]}"; do
    local o=${order// /-} e i
    echo "== snapshots, order: $order" >&2
    fresh "$WORK" $((4 * 1073741824))
    scalegen gen -count "$SMALL" "$SMALLSRC" >/dev/null || die "scalegen failed"
    for e in $order; do mkdir -p "$WORK/$e"; untimed "$e" init >"$OUT/logs/$o.$e.init.log" 2>&1 || die "$e init failed"; done
    for ((i = 0; i < SNAPSHOTS; i++)); do
      if [[ $CHANGE == 1 ]]; then
        printf 'round %d\n' "$i" >"$SMALLSRC/changing"; touch -d "@$((1700000000 + i))" "$SMALLSRC/changing"
      fi
      for e in $order; do
        measure "$o" "$e" small backup_small || die "$e backup $i failed (see $OUT/logs/$o.$e.small.log)"
        printf '%s\t%s\t%s\t%s\n' "$o" "$e" "$i" "$(cut -f1,4,5 <<<"$row")	0" >>"$OUT/snapshots.tsv"
      done
      ((i % 50 == 0)) && echo "  [$o] $i snapshots" >&2
    done
    [[ ${KEEP:-0} == 1 ]] || unfresh "$WORK"
  done
  rm -f "$OUT"/logs/*.small.log "$OUT"/logs/*.small.time
}

[[ $MODE == snapshots ]] || files_mode
[[ $MODE == files ]] || snapshots_mode

# ---- report
{
  echo "# bench/scale.sh: $MODE"
  echo
  sed 's/^/    /' "$OUT/env.txt"
  echo
  if [[ $MODE != snapshots ]]; then
    echo "Files mode: $COUNT files. Per order and engine: wall s, CPU s (user+sys), peak RSS MiB, exit code"
    echo
    echo "| order | engine | step | wall s | CPU s | peak RSS MiB | rc | load |"
    echo "|---|---|---|---:|---:|---:|---:|---:|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s (%s+%s) | %s | %s | %s |\n", $1, $2, $3, $4, $7, $5, $6, $8, $9, $10 }' "$TSV"
    echo
    echo "Restores"
    echo
    sed 's/^/    /' "$OUT/verify.txt"
    echo
    echo "Same-run ratios lifeboat / restic over ${#orders[@]} order(s): summed wall and CPU seconds per step,"
    echo "the larger peak RSS of each; bytes per indexed blob = peak RSS / indexed blobs"
    echo
    awk -F'\t' '
      FNR == NR { if (FNR > 1) { b[$2] = $3 } next }
      FNR > 1 {
        e = $2; s = $3
        if (!(s in seen)) { seen[s] = 1; st[++n] = s }
        w[e, s] += $4; c[e, s] += $7; if ($8 > m[e, s]) m[e, s] = $8; if ($9 != 0) bad[s] = 1
      }
      END {
        print "| step | restic wall s | lifeboat wall s | wall ratio | CPU ratio | peak RSS MiB (restic / lifeboat) | RSS ratio | B per blob (restic / lifeboat) |"
        print "|---|---:|---:|---:|---:|---|---:|---|"
        line = "ratios:"
        for (i = 1; i <= n; i++) {
          s = st[i]
          if (!w["restic", s] || !c["restic", s] || !m["restic", s]) continue
          bpb = (b["restic"] > 0 && b["lifeboat"] > 0) ? sprintf("%.0f / %.0f", m["restic", s] * 1048576 / b["restic"], m["lifeboat", s] * 1048576 / b["lifeboat"]) : "-"
          printf "| %s | %.2f | %.2f | %.2f | %.2f | %d / %d | %.2f | %s |%s\n", s, w["restic", s], w["lifeboat", s], w["lifeboat", s] / w["restic", s], c["lifeboat", s] / c["restic", s], m["restic", s], m["lifeboat", s], m["lifeboat", s] / m["restic", s], bpb, (bad[s] ? " FAILED" : "")
          line = line sprintf(" %s %.2f", s, w["lifeboat", s] / w["restic", s])
        }
        printf "\nindexed blobs: restic %s, lifeboat %s\n\n%s\n", b["restic"], b["lifeboat"], line
      }' "$OUT/blobs.tsv" "$TSV"
    echo
  fi
  if [[ $MODE != files ]]; then
    echo "Snapshots mode: $SNAPSHOTS backups of $SMALL files (CHANGE=$CHANGE), every order. Least-squares fit"
    echo "of each backup's cost against the number of snapshots before it, over all orders"
    echo
    awk -F'\t' -v N="$SNAPSHOTS" '
      NR > 1 {
        e = $2; x = $3
        if (!(e in seen)) { seen[e] = 1; es[++ne] = e }
        k[e]++; sx[e] += x; sxx[e] += x * x; sc[e] += $5; sxc[e] += x * $5; sw[e] += $4; sxw[e] += x * $4
        if ($6 > rss[e]) rss[e] = $6
      }
      function slope(e, sy, sxy) { return (k[e] * sxy - sx[e] * sy) / (k[e] * sxx[e] - sx[e] * sx[e]) }
      END {
        print "| engine | CPU ms per snapshot | wall ms per snapshot | CPU s at 1 → at N | wall s at 1 → at N | peak RSS MiB |"
        print "|---|---:|---:|---|---|---:|"
        for (i = 1; i <= ne; i++) {
          e = es[i]
          cs[e] = slope(e, sc[e], sxc[e]); ws[e] = slope(e, sw[e], sxw[e])
          ci = (sc[e] - cs[e] * sx[e]) / k[e]; wi = (sw[e] - ws[e] * sx[e]) / k[e]
          printf "| %s | %.3f | %.3f | %.3f → %.3f | %.3f → %.3f | %d |\n", e, 1000 * cs[e], 1000 * ws[e], ci + cs[e], ci + cs[e] * N, wi + ws[e], wi + ws[e] * N, rss[e]
        }
        if (("restic" in cs) && ("lifeboat" in cs) && cs["restic"] != 0 && ws["restic"] != 0)
          printf "\nratios: snapshot-cpu-slope %.2f snapshot-wall-slope %.2f (lifeboat / restic)\n", cs["lifeboat"] / cs["restic"], ws["lifeboat"] / ws["restic"]
      }' "$OUT/snapshots.tsv"
  fi
} >"$OUT/results.md"
cat "$OUT/results.md"
echo "results in $OUT" >&2
