#!/usr/bin/env bash
# bench/prune.sh [OUT_DIR] — Lifeboat's forget+prune beside restic's on the
# same data (issue 11). Run from the project root.
#
# Per engine order (restic first, then Lifeboat first; ORDERS=one: only the
# ENGINES order), on a brand-new loop-mounted ext4 (../shared/bench/freshfs.sh,
# FRESH_FS=1, the default as root):
#   1. copy the generated tree (mkdata.sh, SIZE, seed 1) to $WORK/src, init a
#      local repository per engine;
#   2. N rounds: before every round but the first, mutate the tree once
#      (datagen mutate, seed = round + 1: ~1% changed, 50 files added under
#      new/, 20 deleted; the previous round's new/ is removed first, because
#      mutate refuses a tree that has one, so files added in a round live for
#      one round), then back up with each engine in the order. Both engines
#      back up the very same tree each round. mutate gives changed files the
#      same fixed mtimes every round, so a file changed twice in place (the
#      disk image keeps its size) would look unchanged to both scanners: every
#      entry whose ctime moved during the mutation gets a round-specific mtime;
#   3. timed, per engine:
#        restic:   restic forget --keep-last K --prune          (step "prune")
#        lifeboat: lifeboat forget --keep-last K                (step "forget")
#                  lifeboat prune --grace 1ns --min-pack-age 1ns  (step "mark")
#                  lifeboat prune --grace 1ns --min-pack-age 1ns  (step "sweep")
#      Lifeboat's prune is two-phase (mark, then a sweep once --grace has
#      passed) and never condemns packs younger than --min-pack-age (24h by
#      default), so `forget --prune` with the defaults would delete nothing on
#      a fresh repository; the three runs together do what restic's one does
#      and are compared, summed, with it. 1ns, not 0s: prune takes a zero
#      --grace or --min-pack-age as "use the default" (24h);
#   4. untimed: repository size (du -sb) before and after, `check` of each
#      repository, and a restore of each of the VERIFY latest snapshots of
#      each engine, compared (datagen manifest: content, modes, symlinks,
#      mtimes) with the tree as it was when that snapshot was taken.
#   5. MILLION=1 (or MILLION=only: this step alone): a repository of
#      1,000,000 tiny data blobs (engine/prune BenchmarkMarkMemory with
#      LIFEBOAT_BENCH_KEEP, which also prints the mark's peak Go heap), then
#      the timed CLI mark and sweep on it (steps "mark-1M", "sweep-1M"; the
#      issue's target: within 300 MiB RSS).
# Every timed step runs under /usr/bin/time -v (wall, user+sys CPU, peak RSS).
# The machine is shared: compare the engines only within a run, as ratios.
#
# Env: SIZE (1GiB; e.g. 200MiB for a quick run), N (30 backups), KEEP_LAST
#      (5), VERIFY (restores checked per engine, 5; 0 = none), ORDERS (both |
#      one), ENGINES ("restic lifeboat"), BENCH_HOME ($TMPDIR/lifeboat-bench),
#      FRESH_FS (1 as root), KEEP=1 keeps WORK, MILLION (0 | 1 | only).
# Output: OUT_DIR (default $BENCH_HOME/results/prune-<size>-n<N>-<stamp>) with
#      results.tsv (one row per step and order), logs/, and results.md (the
#      table and the ratios), also printed.
set -uo pipefail
shared=$(cd "$(dirname "$0")/../../shared/bench" 2>/dev/null && pwd) || shared=/work/shared/bench
[[ -x $shared/peers.sh ]] || { echo "prune.sh: ../shared/bench not found" >&2; exit 1; }
proj=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_HOME=${BENCH_HOME:-${TMPDIR:-/tmp}/lifeboat-bench}
export BIN=$BENCH_HOME/bin
SIZE=${SIZE:-1GiB} N=${N:-30} KEEP_LAST=${KEEP_LAST:-5} VERIFY=${VERIFY:-5}
ENGINES=${ENGINES:-restic lifeboat}
stamp=$(date +%Y%m%d-%H%M%S)
OUT=${1:-$BENCH_HOME/results/prune-$SIZE-n$N-$stamp}
export WORK=${WORK:-$BENCH_HOME/work-prune}
export SRC=$WORK/src
export REPO_TYPE=local
export PATH=$BIN:$PATH
FRESH_FS=${FRESH_FS:-$([[ $EUID == 0 ]] && command -v losetup >/dev/null && echo 1 || echo 0)}

die() { echo "prune.sh: $*" >&2; exit 1; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (apt-get install time)"
command -v jq >/dev/null || die "jq missing (apt-get install jq)"
((N > KEEP_LAST && VERIFY <= KEEP_LAST)) || die "need N > KEEP_LAST >= VERIFY"
mkdir -p "$BIN" "$OUT/logs"
"$shared/install-restic.sh" >/dev/null || die "cannot install restic"
(cd "$proj" && go build -o "$BIN/lifeboat" ./cmd/lifeboat) || die "cannot build lifeboat"
DG=$("$shared/build-datagen.sh") || die "cannot build datagen"
DATA=$BENCH_HOME/data/d$SIZE
[[ -d $DATA ]] || { mkdir -p "$BENCH_HOME/data"; "$shared/mkdata.sh" "$DATA" "$SIZE" 1 >&2 || die "mkdata failed"; }

source "$shared/engines.d/restic.sh"
source "$proj/bench/engines.d/lifeboat.sh"
# the steps this benchmark adds to the engines' peers.sh interface
restic_prune()     { restic forget --keep-last "$KEEP_LAST" --prune; }
restic_check()     { restic check; }
restic_ids()       { restic snapshots --json | jq -r 'sort_by(.time) | .[].id'; }
restic_restore_id() { restic restore "$1:$SRC" --target "$2"; }
lifeboat_forget()  { lifeboat_lb forget --keep-last "$KEEP_LAST"; }
lifeboat_mark()    { lifeboat_lb prune --grace 1ns --min-pack-age 1ns; }
lifeboat_sweep()   { lifeboat_lb prune --grace 1ns --min-pack-age 1ns; }
lifeboat_check()   { lifeboat_lb check; }
lifeboat_ids()     { lifeboat_lb --json snapshots | jq -r 'sort_by(.time) | .[].id'; }
lifeboat_restore_id() {
  lifeboat_lb restore "$1" --target "$2.tmp" || return
  if [[ -d $2.tmp/$SRC ]]; then mv "$2.tmp/$SRC" "$2" && rm -rf "$2.tmp"; else mv "$2.tmp" "$2"; fi
}
export -f $(declare -F | awk '{print $3}')
export KEEP_LAST

TSV=$OUT/results.tsv
printf 'order\tengine\tstep\twall_s\tuser_s\tsys_s\tcpu_s\tpeak_rss_mib\trc\tload1\n' >"$TSV"

# timed ORDER ENGINE STEP FN [ARGS]: runs ENGINE_FN under /usr/bin/time in a
# child bash with the engine's environment, appends a row to results.tsv.
timed() {
  local o=$1 e=$2 step=$3 fn=$4; shift 4
  local log=$OUT/logs/$o.$e.$step.log tf=$OUT/logs/$o.$e.$step.time rc row load1
  sync
  load1=$(cut -d' ' -f1 /proc/loadavg)
  ( export ENGINE=$e EDIR=$WORK/$e; "${e}_env"
    /usr/bin/time -v -o "$tf" bash -c "${e}_$fn \"\$@\"" _ "$@" ) >"$log" 2>&1
  rc=$?
  row=$(awk -F': ' '
    /User time/ {u=$2} /System time/ {s=$2} /Maximum resident set size/ {r=$2}
    /Elapsed \(wall clock\)/ {n=split($NF,a,":"); w=0; for(i=1;i<=n;i++) w=w*60+a[i]}
    END {printf "%.2f\t%.2f\t%.2f\t%.2f\t%.0f", w, u, s, u+s, r/1024}' "$tf")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$o" "$e" "$step" "$row" "$rc" "$load1" >>"$TSV"
  echo "  [$o] $e $step: rc=$rc wall/user/sys/cpu/rss: $(tr '\t' ' ' <<<"$row")" >&2
  return $rc
}
# untimed ENGINE FN [ARGS]: the same without measurement, output to stdout
untimed() {
  local e=$1 fn=$2; shift 2
  ( export ENGINE=$e EDIR=$WORK/$e; "${e}_env"; "${e}_$fn" "$@" )
}
repo_bytes() { du -sb "$WORK/$1/repo" | cut -f1; }

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm); $(nproc) CPUs; $(free -g | awk '/Mem:/{print $2}') GiB RAM; shared with other work (noisy)"
  echo "data: $DATA ($(du -sb "$DATA" | cut -f1) bytes); N=$N backups, forget --keep-last $KEEP_LAST"
  echo "restic: $(restic version | head -1)"
  echo "lifeboat: $(lifeboat version | head -1) ($(git -C "$proj" rev-parse --short HEAD))"
  echo "WORK: $([[ $FRESH_FS == 1 ]] && echo "fresh journaled ext4 on a loop device" || echo "plain directory") at $WORK"
} | tee "$OUT/env.txt" >&2

reversed=$(echo "$ENGINES" | awk '{for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "")}')
orders=("$ENGINES"); [[ ${ORDERS:-both} == both && $reversed != "$ENGINES" ]] && orders+=("$reversed")
[[ ${MILLION:-0} == only ]] && orders=()
: >"$OUT/sizes.tsv"; : >"$OUT/verify.txt"

for order in "${orders[@]}"; do
  o=${order// /-}
  echo "== order: $order" >&2
  if [[ $FRESH_FS == 1 ]]; then
    "$shared/freshfs.sh" mount "$WORK" $((8 * $(du -sb "$DATA" | cut -f1) + 4 * 1073741824)) || die "freshfs failed"
  else
    rm -rf "$WORK"; mkdir -p "$WORK"
  fi
  cp -a "$DATA" "$SRC" || die "copy failed"
  for e in $order; do mkdir -p "$WORK/$e"; untimed "$e" init >"$OUT/logs/$o.$e.init.log" 2>&1 || die "$e init failed"; done
  for ((r = 1; r <= N; r++)); do
    if ((r > 1)); then
      rm -rf "$SRC/new"
      touch "$WORK/mutate.marker"; sleep 1
      "$DG" mutate -seed $((r + 1)) "$SRC" >>"$OUT/logs/$o.mutate.log" 2>&1 || die "mutate $r failed"
      # round-specific mtimes on everything the mutation touched (see header)
      find "$SRC" -cnewer "$WORK/mutate.marker" -exec touch -h -d "@$((1700000000 + r * 3600))" {} +
    fi
    if ((r > N - VERIFY)); then "$DG" manifest "$SRC" >"$WORK/manifest.$r"; fi
    for e in $order; do
      timed "$o" "$e" "backup$r" backup >/dev/null || die "$e backup $r failed (see $OUT/logs/$o.$e.backup$r.log)"
    done
  done
  for e in $order; do
    untimed "$e" ids >"$WORK/$e.ids.before" 2>/dev/null
    printf '%s\t%s\tbefore\t%s\t%s\n' "$o" "$e" "$(repo_bytes "$e")" "$(wc -l <"$WORK/$e.ids.before")" >>"$OUT/sizes.tsv"
  done
  for e in $order; do
    case $e in
    restic) timed "$o" restic prune prune >/dev/null ;;
    lifeboat) timed "$o" lifeboat forget forget >/dev/null && timed "$o" lifeboat mark mark >/dev/null &&
      timed "$o" lifeboat sweep sweep >/dev/null ;;
    *) die "no prune steps for engine $e" ;;
    esac || echo "  [$o] $e: prune step FAILED (see $OUT/logs)" >&2
  done
  for e in $order; do
    untimed "$e" ids >"$WORK/$e.ids.after" 2>/dev/null
    printf '%s\t%s\tafter\t%s\t%s\n' "$o" "$e" "$(repo_bytes "$e")" "$(wc -l <"$WORK/$e.ids.after")" >>"$OUT/sizes.tsv"
    if untimed "$e" check >"$OUT/logs/$o.$e.check.log" 2>&1; then c=ok; else c=FAILED; fi
    echo "[$o] $e: check after prune $c" | tee -a "$OUT/verify.txt" >&2
    # restore the VERIFY newest snapshots; snapshot N-VERIFY+i was taken of tree state N-VERIFY+i
    mapfile -t ids < <(tail -n "$VERIFY" "$WORK/$e.ids.after")
    for ((i = 0; i < ${#ids[@]}; i++)); do
      r=$((N - ${#ids[@]} + 1 + i)) d=$WORK/restore-$e
      rm -rf "$d" "$d.tmp"
      if untimed "$e" restore_id "${ids[i]}" "$d" >"$OUT/logs/$o.$e.restore$r.log" 2>&1 &&
        "$DG" manifest "$d" | cmp -s - "$WORK/manifest.$r"; then res=identical
      else res="DIFFERS (see $OUT/logs/$o.$e.restore$r.log)"; fi
      echo "[$o] $e: snapshot ${ids[i]:0:8} (backup $r) restored: $res to the tree at backup $r" | tee -a "$OUT/verify.txt" >&2
      rm -rf "$d" "$d.tmp"
    done
  done
  if [[ $FRESH_FS == 1 && ${KEEP:-0} != 1 ]]; then "$shared/freshfs.sh" umount "$WORK"; fi
done

# ---- 1,000,000 blobs
million() {
  local m=$WORK/million
  rm -rf "$m"; mkdir -p "$WORK"
  (cd "$proj" && LIFEBOAT_BENCH_KEEP=$m go test -run '^$' -bench 'MarkMemory/blobs=1000000$' -benchtime=1x ./engine/prune/) \
    >"$OUT/logs/million.bench.log" 2>&1 || die "BenchmarkMarkMemory failed (see $OUT/logs/million.bench.log)"
  grep '^Benchmark' "$OUT/logs/million.bench.log" >"$OUT/million.txt"
  echo "repository: $(du -sb "$m/repo" | cut -f1) bytes" >>"$OUT/million.txt"
  for step in mark sweep; do
    timed 1M lifeboat "$step-1M" million_prune >/dev/null || die "lifeboat $step on 1M blobs failed (see $OUT/logs)"
  done
  rm -rf "$m"
}
lifeboat_million_prune() { LIFEBOAT_CACHE_DIR=$WORK/million/cache lifeboat --repo "$WORK/million/repo" --identity "$WORK/million/identity" prune --grace 1ns --min-pack-age 1ns; }
export -f lifeboat_million_prune
if [[ ${MILLION:-0} != 0 ]]; then
  [[ $FRESH_FS == 1 ]] && { "$shared/freshfs.sh" mount "$WORK" $((4 * 1073741824)) || die "freshfs failed"; }
  million
  [[ $FRESH_FS == 1 ]] && "$shared/freshfs.sh" umount "$WORK"
fi

# ---- report
{
  echo "# bench/prune.sh: $N backups of $(basename "$DATA"), then forget --keep-last $KEEP_LAST and prune"
  echo
  sed 's/^/    /' "$OUT/env.txt"
  echo
  echo "Backups (sum over all $N backups, per order): wall s / CPU s / max peak RSS MiB"
  echo
  awk -F'\t' 'NR > 1 && $3 ~ /^backup/ { k = $1 " | " $2; w[k] += $4; c[k] += $7; if ($8 > m[k]) m[k] = $8; if (!(k in s)) { s[k] = 1; ks[++n] = k } }
    END { print "| order | engine | wall s | CPU s | peak RSS MiB |"; print "|---|---|---:|---:|---:|"
          for (i = 1; i <= n; i++) printf "| %s | %.1f | %.1f | %d |\n", ks[i], w[ks[i]], c[ks[i]], m[ks[i]] }' "$TSV"
  echo
  echo "Forget + prune steps: wall s, CPU s (user+sys), peak RSS MiB, exit code"
  echo
  echo "| order | engine | step | wall s | CPU s | peak RSS MiB | rc | load |"
  echo "|---|---|---|---:|---:|---:|---:|---:|"
  awk -F'\t' 'NR > 1 && $3 !~ /^backup/ { printf "| %s | %s | %s | %s | %s (%s+%s) | %s | %s | %s |\n", $1, $2, $3, $4, $7, $5, $6, $8, $9, $10 }' "$TSV"
  echo
  echo "Repository size (du -sb, MiB) and snapshot count"
  echo
  echo "| order | engine | before | after | snapshots before → after |"
  echo "|---|---|---:|---:|---|"
  awk -F'\t' '{ k = $1 " | " $2; if (!(k in s)) { s[k] = 1; ks[++n] = k } b[k, $3] = $4; c[k, $3] = $5 }
    END { for (i = 1; i <= n; i++) printf "| %s | %.1f | %.1f | %d → %d |\n", ks[i], b[ks[i], "before"] / 1048576, b[ks[i], "after"] / 1048576, c[ks[i], "before"], c[ks[i], "after"] }' "$OUT/sizes.tsv"
  echo
  echo "Restores after prune (datagen manifest against the tree at that backup) and checks"
  echo
  sed 's/^/    /' "$OUT/verify.txt"
  echo
  echo "Ratios lifeboat / restic over all orders (lifeboat = forget + mark + sweep summed;"
  echo "peak RSS = the largest of any of its steps; repo = size after, summed over orders)"
  echo
  if [[ -s $OUT/million.txt ]]; then
    echo "Prune of a repository of 1,000,000 blobs (in-process mark heap, then the CLI)"
    echo
    sed 's/^/    /' "$OUT/million.txt"
    echo
  fi
  awk -F'\t' -v runs=${#orders[@]} '
    FNR == NR { if (FNR > 1 && $3 !~ /^backup/ && $1 != "1M") { w[$2] += $4; c[$2] += $7; if ($8 > m[$2]) m[$2] = $8; if ($9 != 0) bad = 1 } next }
    $3 == "after" { sz[$2] += $4 }
    END {
      if (!w["restic"] || !c["restic"] || !m["restic"] || !sz["restic"]) { print "    (no restic figures)"; exit }
      printf "| | restic | lifeboat | ratio | issue 11 target |\n|---|---:|---:|---:|---|\n"
      printf "| wall s (sum of %d run(s)) | %.2f | %.2f | %.2f | ≤ 0.5 |\n", runs, w["restic"], w["lifeboat"], w["lifeboat"] / w["restic"]
      printf "| CPU s | %.2f | %.2f | %.2f | |\n", c["restic"], c["lifeboat"], c["lifeboat"] / c["restic"]
      printf "| peak RSS MiB | %d | %d | %.2f | ≤ 1 |\n", m["restic"], m["lifeboat"], m["lifeboat"] / m["restic"]
      printf "| repo MiB after | %.1f | %.1f | %.2f | ≤ 1 |\n", sz["restic"] / 1048576 / runs, sz["lifeboat"] / 1048576 / runs, sz["lifeboat"] / sz["restic"]
      printf "\nratios: prune-wall %.2f prune-cpu %.2f prune-rss %.2f repo-after %.2f%s\n", w["lifeboat"] / w["restic"], c["lifeboat"] / c["restic"], m["lifeboat"] / m["restic"], sz["lifeboat"] / sz["restic"], (bad ? " (A STEP FAILED)" : "")
    }' "$TSV" "$OUT/sizes.tsv"
} >"$OUT/results.md"
cat "$OUT/results.md"
echo "results in $OUT" >&2
