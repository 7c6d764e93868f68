#!/usr/bin/env bash
# Dataflow benchmark: jobs written with the dataflow API beside their MapReduce and plain-C
# counterparts, on the same machine and data. Two sections:
#   wordcount: jobs/wordcount_df (dataflow) against jobs/wordcount (MapReduce) on the text of
#     bench/local.sh; their part-* files must be byte-identical.
#   pagerank:  jobs/pagerank on a generated web-like graph, against bench/pagerank_ref.c (a
#     single-threaded in-memory C PageRank, cc -O2) as baseline and oracle: the same pages and
#     every rank within 1e-9 of the reference's; and against the peer engine Thrill's PageRank in
#     its default configuration and its best (jemalloc on transparent huge pages).
#
# Usage: bench/dataflow.sh [--small] [--data DIR] [--build DIR] [--runs N] [--sections "wordcount pagerank"]
#          [--thrill DIR]
#   --small     CI smoke size: 32 MiB of text, a 20k-page 200k-edge graph, 1 run per command;
#               seconds. Its figures mean nothing. Default: 1 GiB of Zipf text (75k-word
#               vocabulary), a 1M-page 10M-edge graph, 3 runs.
#   --data      where the generated data lives (default BUILD/bench-data, --small:
#               BUILD/bench-smoke-data: bench/local.sh's, so the text is shared with it); reused
#               when its stamps match. Timed outputs go to DATA/run.XXXXXX, removed at exit.
#   --build     build directory with sawmill and jobs/ (default build; run ./scripts/build release).
#   --runs      runs per timed command (default 3, or 1 with --small).
#   --sections  what to run (default "wordcount pagerank"); binaries are needed for those only.
#   --thrill    Thrill's build examples/ directory (default $THRILL_EXAMPLES, else
#               /tmp/peers/thrill-build/examples); `--thrill no` or no page_rank_run there: a
#               line says Thrill is not available and its rows and target are left out (not an
#               error).
# Commands (wall clock of the whole process, LC_ALL=C, the input read once beforehand so it is in
# the page cache; wordcount and wordcount_df, pagerank, pagerank_ref and Thrill's alternate run by
# run so that drift hits them alike):
#   wordcount[_df] --input TEXT --output OUT --threads 2 --reducers 1 --overwrite
#     (--reducers given: wordcount's default follows --threads and the input, wordcount_df's is 1)
#   pagerank --input EDGES --output OUT --iterations 10 --damping 0.85 --threads 2 --overwrite
#     (the default --partitions, 4)
#   pagerank_ref --input EDGES --output RANKS.tsv --iterations 10 --damping 0.85
#   THRILL_LOCAL=1 THRILL_WORKERS_PER_HOST=2 page_rank/page_rank_run -n 10 -o OUT/pr-@@@@-####.txt EDGES
#     (one process, 2 worker threads; its damping is 0.85 too), "thrill best" with
#     MALLOC_CONF=thp:always,metadata_thp:always; its output must have a line per page (its ranks
#     are not compared: it leaves the dangling pages' rank mass out), else a warning
# Text: `sawmill gen text --bytes B --vocabulary 75000 --seed 1` (as bench/local.sh). Graph
# (bench/graph_gen.c, compiled with cc -O2 into DATA): graph.tsv, lines src<TAB>dst, pages named
# 0..N-1, exactly N distinct pages, 7% of them dangling (no out-edges), sources uniform over the
# others, destinations Zipf(0.9)-skewed, no self-loops, duplicate edges possible.
# PageRank: N distinct pages, ranks start at 1/N, each iteration
#   rank(p) = (1-d)/N + d * (sum over edges q->p of rank(q)/outdeg(q) + dangling rank mass / N).
# Sawmill's ranks are read with `sawmill cat OUT` (page<TAB>rank as decimal text).
# Prints min and median seconds, MB/s (text bytes, 1 MB = 10^6 bytes) or M edge-iterations/s
# (edges * 10 / seconds), the ratios and the targets, judged on the median:
#   wordcount_df within 10% of wordcount (median seconds ratio <= 1.10);
#   PageRank >= 1.5x Thrill best (Thrill best's median seconds / pagerank's; > 1: Sawmill faster).
# A missed target is reported, not an error. Exit 1 on a missing binary, a failed run or an output
# mismatch (wordcount parts not byte-identical, PageRank ranks off the reference).
set -euo pipefail
source "$(dirname "$0")/common.sh"

sections="wordcount pagerank"
bench_accepts="--small --smoke --data --build --runs --thrill"
while [[ $# -gt 0 ]]; do
  case $1 in
    --sections) sections=$2; shift 2 ;;
    *) bench_arg "$@"; shift "$nargs" ;;
  esac
done
if [[ $small -eq 1 ]]; then
  text_bytes=$((32 << 20)); pages=20000; edges=200000; runs=${runs:-1}
else
  text_bytes=$((1 << 30)); pages=1000000; edges=10000000; runs=${runs:-3}
fi
threads=2
iterations=10
damping=0.85
tolerance=1e-9
positive "--runs wants a positive number" "$runs"
do_wc=0 do_pr=0
for s in $sections; do
  case $s in
    wordcount) do_wc=1 ;;
    pagerank) do_pr=1 ;;
    *) echo "$me: --sections: wordcount and/or pagerank, not $s" >&2; exit 2 ;;
  esac
done
[[ $do_wc -eq 1 || $do_pr -eq 1 ]] || { echo "$me: --sections names nothing to run" >&2; exit 2; }
absolute_build "run ./scripts/build release"
default_data bench-smoke-data bench-data
sawmill=$build/sawmill
jobs=$build/jobs
missing=()
[[ -x $sawmill ]] || missing+=("$sawmill")
if [[ $do_wc -eq 1 ]]; then
  for b in "$jobs/wordcount" "$jobs/wordcount_df"; do [[ -x $b ]] || missing+=("$b"); done
fi
if [[ $do_pr -eq 1 ]]; then
  [[ -x $jobs/pagerank ]] || missing+=("$jobs/pagerank")
  for tool in cc md5sum; do command -v "$tool" >/dev/null || missing+=("$tool"); done
fi
report_missing "run ./scripts/build release; or --sections to run the other section"
thrill_ok=0
[[ $do_pr -eq 0 ]] || ! thrill_has page_rank/page_rank_run || thrill_ok=1
run_dir

# --- data (reused when the stamp matches; the graph's stamp names the generator's source too) ---
graph=$data/graph.tsv
if [[ $do_wc -eq 1 ]]; then
  text_data "$text_bytes" "$((text_bytes >> 20)) MiB"
fi
if [[ $do_pr -eq 1 ]]; then
  compile pagerank_ref
  compile graph_gen
  graph_stamp="graph_gen --pages $pages --edges $edges --seed 1 src=$src_hash"
  if [[ $(cat "$data/graph.stamp" 2>/dev/null) != "$graph_stamp" || ! -s $graph ]]; then
    echo "generating $graph: $graph_stamp ..." >&2
    rm -f "$data/graph.stamp"
    t0=$(now_ns)
    "$data/graph_gen" --pages "$pages" --edges "$edges" --seed 1 >"$data/graph.tmp" 2>"$out/graph_gen.err" || {
      cat "$out/graph_gen.err" >&2; echo "$me: graph_gen failed" >&2; exit 1; }
    mv "$data/graph.tmp" "$graph"
    echo "$graph_stamp" >"$data/graph.stamp"
    echo "  graph.tsv: $(file_size "$graph") bytes in $(secs_since "$t0") s" >&2
  fi
  graph_size=$(file_size "$graph")
fi

# --- timing ---
# timed NAME CMD...: runs CMD once (run_timed); appends the job's summary seconds (if it prints a
# summary line) to $out/NAME.job, and its loop seconds to $out/NAME.loop. Returns 1 if the run
# fails (the rest goes on; the script exits 1 at the end).
failed=()
timed() {
  local name=$1
  run_timed "$@" || { echo "$me: $name failed: ${*:2}" >&2; failed+=("$name"); return 1; }
  keep_field "$name" seconds job
  keep_field "$name" loop_seconds loop
  echo "  $name run $(wc -l <"$out/$name.times"): $(tail -n 1 "$out/$name.times") s" >&2
}
median_of() { stat_median "$out/$1.times"; }
have_times() { [[ -s $out/$1.times ]]; }

echo "bench/dataflow: $(nproc) cores, $(cpu_model), $runs run(s) each" >&2
load0=$(cut -d" " -f1-3 /proc/loadavg)
mismatch=()

# --- wordcount: MapReduce against dataflow, alternating, then their part files compared ---
wc_parts=""
if [[ $do_wc -eq 1 ]]; then
  cat "$text" >/dev/null
  run_wordcount() { "$jobs/$1" --input "$text" --output "$out/$1.out" --threads "$threads" --reducers 1 --overwrite; }
  for ((r = 1; r <= runs; r++)); do
    timed wordcount run_wordcount wordcount || break
    timed wordcount_df run_wordcount wordcount_df || break
  done
  if have_times wordcount && have_times wordcount_df; then
    a=$out/wordcount.out b=$out/wordcount_df.out
    names_a=$( (cd "$a" && ls part-*) 2>/dev/null) || names_a=""
    names_b=$( (cd "$b" && ls part-*) 2>/dev/null) || names_b=""
    if [[ -z $names_a ]]; then
      mismatch+=("wordcount: no part-* files in wordcount's output")
    elif [[ $names_a != "$names_b" ]]; then
      mismatch+=("wordcount: part files differ: wordcount has [$(paste -s -d' ' <<<"$names_a")], wordcount_df has [$(paste -s -d' ' <<<"$names_b")]")
    else
      for p in $names_a; do
        if ! cmp -s "$a/$p" "$b/$p"; then
          first=$(cmp "$a/$p" "$b/$p" 2>&1 | head -n 1) || true
          mismatch+=("wordcount: $p differs between wordcount and wordcount_df ($first)")
        fi
      done
      wc_parts=$(wc -w <<<"$names_a" | tr -d ' ')
    fi
  fi
  rm -rf "$out/wordcount.out" "$out/wordcount_df.out"
fi

# --- pagerank: Sawmill's job and the C reference, alternating, then the last ranks compared ---
pr_compare=""
if [[ $do_pr -eq 1 ]]; then
  cat "$graph" >/dev/null
  pagerank() {
    "$jobs/pagerank" --input "$graph" --output "$out/pagerank.out" --iterations "$iterations" --damping "$damping" \
      --threads "$threads" --overwrite
  }
  pagerank_ref() {
    "$data/pagerank_ref" --input "$graph" --output "$out/ref.tsv" --iterations "$iterations" --damping "$damping"
  }
  # thrill_pagerank DIR: into a fresh $out/DIR, a file per worker (and more when they are big).
  thrill_pagerank() {
    rm -rf "${out:?}/$1" && mkdir "$out/$1" && thrill_run page_rank/page_rank_run -n "$iterations" -o "$out/$1/pr-@@@@-####.txt" "$graph"
  }
  thrill_best_pagerank() { MALLOC_CONF=$thrill_best_conf thrill_pagerank thb-pr; }
  for ((r = 1; r <= runs; r++)); do
    timed pagerank pagerank || break
    timed pagerank_ref pagerank_ref || break
    [[ $thrill_ok -eq 1 ]] || continue
    timed thrill_pagerank thrill_pagerank th-pr || break
    timed thrill_best_pagerank thrill_best_pagerank || break
  done
  # Thrill's output, "page: rank" lines: one per page, else a warning (not an error).
  thrill_warnings=()
  for d in th-pr thb-pr; do
    [[ $thrill_ok -eq 1 && -d $out/$d ]] || continue
    n=$(cat "$out/$d"/pr-* | wc -l)
    [[ $n -eq $pages ]] || thrill_warnings+=("warning: thrill ($d) pagerank wrote $n lines for $pages pages")
  done
  ref_line=$(grep -m1 '^pagerank_ref:' "$out/pagerank_ref.err" 2>/dev/null) || ref_line=""
  if have_times pagerank && have_times pagerank_ref; then
    if ! "$sawmill" cat "$out/pagerank.out" >"$out/pagerank.tsv" 2>"$out/cat.err"; then
      mismatch+=("pagerank: sawmill cat of its output failed: $(head -n 1 "$out/cat.err")")
    else
      # ref.tsv first: every page once; then Sawmill's lines: page<TAB>rank, each page once.
      pr_compare=$(awk -F'\t' -v tol="$tolerance" '
        NR == FNR { ref[$1] = $2; n_ref++; next }
        {
          n_saw++
          if (NF != 2 || $2 !~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) { bad++; if (!ex) ex = "bad line " FNR ": " $0; next }
          if (!($1 in ref)) { extra++; if (!ex) ex = "page " $1 " not in the reference"; next }
          if ($1 in seen) { dup++; if (!ex) ex = "page " $1 " twice"; next }
          seen[$1] = 1; matched++; sum += $2
          d = $2 - ref[$1]; if (d < 0) d = -d
          if (d > max) { max = d; at = $1 }
        }
        END {
          missing = n_ref - matched
          ok = (bad + extra + dup + missing == 0 && max <= tol + 0) ? "OK" : "MISMATCH"
          if (!ex && missing) for (p in ref) if (!(p in seen)) { ex = "page " p " missing"; break }
          printf "%s %d %d %d %d %d %d %.3g %s %.12g %s\n", ok, n_ref, n_saw, missing, extra, dup, bad, max, (at == "" ? "-" : at), sum, (ex == "" ? "-" : ex)
        }' "$out/ref.tsv" "$out/pagerank.tsv")
      read -r pr_ok pr_ref_n pr_saw_n pr_missing pr_extra pr_dup pr_bad pr_max pr_max_at pr_sum pr_example <<<"$pr_compare"
      if [[ $pr_ok != OK ]]; then
        [[ $pr_example == - ]] && pr_example="" || pr_example="; e.g. $pr_example"
        mismatch+=("pagerank: $pr_saw_n lines against the reference's $pr_ref_n pages: $pr_missing missing, $pr_extra extra, $pr_dup repeated, $pr_bad unreadable; max |diff| $pr_max (tolerance $tolerance)$pr_example")
      fi
    fi
  fi
  rm -rf "$out/pagerank.out" "$out/pagerank.tsv" "$out/ref.tsv" "$out/th-pr" "$out/thb-pr"
fi

# --- report ---
# row LABEL NAME AMOUNT UNIT: runs, min/median wall seconds, AMOUNT/1e6 per second at min and
# median (MB/s or M edge-iterations/s), the job's own median seconds.
row() {
  local label=$1 name=$2 js="-"
  if ! have_times "$name"; then
    printf "%-30s %s\n" "$label" "FAILED or not run"
    return
  fi
  [[ -s $out/$name.job ]] && js=$(stat_median "$out/$name.job")
  awk -v l="$label" -v n="$(wc -l <"$out/$name.times")" -v mn="$(stat_min "$out/$name.times")" -v md="$(median_of "$name")" \
    -v a="$3" -v u="$4" -v js="$js" 'BEGIN {
    printf "%-30s %4d %9.3f %9.3f %11.1f %11.1f %-15s %8s\n", l, n, mn, md, a / 1e6 / mn, a / 1e6 / md, u, js
  }'
}
met() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "<=") ? (v <= t) : (v >= t); print ok ? "MET" : "NOT MET" }'; }
pass() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "PASS" : "MISS" }'; }  # as bench/local.sh's

echo
echo "Sawmill dataflow benchmark ($( [[ $small -eq 1 ]] && echo small || echo full ) size, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)," \
  "load average at the start $load0, at the end $(cut -d" " -f1-3 /proc/loadavg))"
[[ $do_wc -eq 1 ]] && echo "wordcount input: $text ($text_size bytes, $vocabulary-word Zipf vocabulary); --threads $threads"
if [[ $do_pr -eq 1 ]]; then
  echo "pagerank input: $graph ($graph_size bytes): $pages pages (7% dangling), $edges edges; $iterations iterations," \
    "damping $damping; --threads $threads (--ranks broadcast); pagerank_ref: 1 thread, cc -O2"
  [[ -n ${ref_line:-} ]] && echo "  $ref_line"
fi
edge_iters=$((edges * iterations))
printf "%-30s %4s %9s %9s %11s %11s %-15s %8s\n" "command" "runs" "min_s" "median_s" "rate_max" "rate_med" "unit" "job_s"
if [[ $do_wc -eq 1 ]]; then
  row "wordcount    (MapReduce)" wordcount "$text_size" "MB/s"
  row "wordcount_df (dataflow)" wordcount_df "$text_size" "MB/s"
fi
if [[ $do_pr -eq 1 ]]; then
  row "pagerank     (dataflow)" pagerank "$edge_iters" "M edge-iter/s"
  row "pagerank_ref (C, 1 thread)" pagerank_ref "$edge_iters" "M edge-iter/s"
  if [[ $thrill_ok -eq 1 ]]; then
    row "pagerank     (thrill)" thrill_pagerank "$edge_iters" "M edge-iter/s"
    row "pagerank     (thrill best)" thrill_best_pagerank "$edge_iters" "M edge-iter/s"
  else
    echo "$thrill_absent"
  fi
fi
echo "seconds: wall clock of the whole process; job_s: median of the job's own summary seconds"

targets=()
if [[ $do_wc -eq 1 ]]; then
  if have_times wordcount && have_times wordcount_df; then
    wc_ratio=$(awk -v a="$(median_of wordcount_df)" -v b="$(median_of wordcount)" 'BEGIN { printf "%.3f", a / b }')
    echo "wordcount_df / wordcount (median seconds): $wc_ratio"
    if [[ -n $wc_parts ]]; then
      echo "wordcount outputs: $wc_parts part file(s), byte-identical"
    else
      echo "wordcount outputs: MISMATCH (see below)"
    fi
    targets+=("target wordcount_df within 10% of wordcount (ratio <= 1.10): $wc_ratio $(met "$wc_ratio" 1.10 "<=")")
  else
    targets+=("target wordcount_df within 10% of wordcount (ratio <= 1.10): FAILED (a run failed)")
  fi
fi
if [[ $do_pr -eq 1 ]]; then
  if have_times pagerank; then
    if have_times pagerank_ref; then
      echo "pagerank / pagerank_ref edge-iterations/s (medians): $(awk -v r="$(median_of pagerank_ref)" \
        -v s="$(median_of pagerank)" 'BEGIN { printf "%.2f", r / s }')x"
    fi
    if [[ -n $pr_compare ]]; then
      at=""
      [[ $pr_max_at == - ]] || at=" (page $pr_max_at)"
      echo "pagerank ranks vs pagerank_ref: $pr_saw_n lines, $pr_ref_n pages in the reference; max |diff| $pr_max$at," \
        "wanted <= $tolerance; sum of Sawmill's ranks $pr_sum: $pr_ok"
    else
      echo "pagerank ranks vs pagerank_ref: not compared (see below)"
    fi
    if [[ -s $out/pagerank.loop ]]; then
      loop_s=$(stat_median "$out/pagerank.loop")
      echo "pagerank iterations alone (the loop's stages, median $loop_s s of the job): $(awk -v e="$edge_iters" \
        -v s="$loop_s" 'BEGIN { printf "%.1f", e / 1e6 / s }') M edge-iterations/s; the target is judged on the whole process"
    fi
    if [[ $thrill_ok -eq 1 ]]; then
      [[ ${#thrill_warnings[@]} -eq 0 ]] || printf '%s\n' "${thrill_warnings[@]}"
      if have_times thrill_best_pagerank; then
        pr_thrill=$(awk -v t="$(median_of thrill_best_pagerank)" -v s="$(median_of pagerank)" 'BEGIN { printf "%.2f", t / s }')
        echo "Sawmill/Thrill best throughput (median): pagerank ${pr_thrill}x"
        targets+=("target PageRank >= 1.5x Thrill best: $pr_thrill $(pass "$pr_thrill" 1.5)")
      else
        targets+=("target PageRank >= 1.5x Thrill best: FAILED (a run failed)")
      fi
    fi
  elif [[ $thrill_ok -eq 1 ]]; then
    targets+=("target PageRank >= 1.5x Thrill best: FAILED (a run failed)")
  fi
fi
[[ ${#targets[@]} -eq 0 ]] || printf '%s\n' "${targets[@]}"

status=0
if [[ ${#mismatch[@]} -gt 0 ]]; then
  for m in "${mismatch[@]}"; do echo "$me: MISMATCH: $m" >&2; done
  status=1
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "$me: failed runs: ${failed[*]}" >&2
  status=1
fi
exit $status
