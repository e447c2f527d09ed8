#!/usr/bin/env bash
# The managed engine against llama.cpp on the same GGUF files, side by side on this machine (issue #14's yardstick).
#
#   bench/side-by-side.sh LLAMA_BIN MLPIPE_DLL ROUNDS FILE.gguf...
#
# LLAMA_BIN is llama.cpp's build/bin (built from source here, native flags); MLPIPE_DLL a Release mlpipe.dll. For each
# round, file and thread count (1, 2): `llama-bench -t T -p 128 -n N -r R`, then `mlpipe bench --threads T
# --decode-tokens N --prefill 128 --runs R --warmup 1` — one process each, one right after the other, so both see the
# same minute of a noisy machine. N and R: 64 and 3, or 16 and 2 for files over 1 GB. Prints one line per measurement
# pair (tok/s and the ratio mlpipe ÷ llama.cpp), then per file, thread count and phase the median ratio over the rounds.
# Set SBS_THREADS (default "1 2") to measure other thread counts.
set -euo pipefail
bin="$1"; cli="$2"; rounds="$3"; shift 3
work="$(mktemp -d "${TMPDIR:-/tmp}/mlpipe-sbs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "date: $(date -u +%FT%TZ); $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p'); llama.cpp $("$bin/llama-cli" --version 2>&1 | head -1)"
for ((r = 1; r <= rounds; r++)); do
  for file in "$@"; do
    if (( $(stat -c %s "$file") > 1000000000 )); then n=16; runs=2; else n=64; runs=3; fi
    for t in ${SBS_THREADS:-1 2}; do
      "$bin/llama-bench" -m "$file" -t "$t" -p 128 -n "$n" -r "$runs" -o json > "$work/ll.json" 2> "$work/ll.err" ||
        { echo "llama-bench failed on $file:"; tail -3 "$work/ll.err"; exit 1; }
      dotnet "$cli" bench --model "$file" --threads "$t" --decode-tokens "$n" --prefill 128 --runs "$runs" --warmup 1 \
        --json "$work/mp.json" > /dev/null 2> "$work/mp.err" || { echo "mlpipe bench failed on $file:"; tail -3 "$work/mp.err"; exit 1; }
      python3 - "$work/ll.json" "$work/mp.json" "$(basename "$file")" "$t" "$r" <<'PY'
import json, sys
ll = json.load(open(sys.argv[1])); mp = json.load(open(sys.argv[2]))["rows"][0]
llama = {("prefill" if x["n_prompt"] else "decode"): x["avg_ts"] for x in ll}
ours = {"decode": mp["decodeTokensPerSecond"]["median"], "prefill": mp["prefill"][0]["tokensPerSecond"]["median"]}
for phase in ("decode", "prefill"):
    print(f"round {sys.argv[5]} {sys.argv[3]} t{sys.argv[4]} {phase}: mlpipe {ours[phase]:.1f} llama.cpp {llama[phase]:.1f} ratio {ours[phase] / llama[phase]:.2f}", flush=True)
PY
    done
  done
done | tee "$work/lines"
python3 - "$work/lines" <<'PY'
import collections, statistics, sys
ratios = collections.defaultdict(list)
for line in open(sys.argv[1]):
    w = line.split()
    ratios[(w[2], w[3], w[4].rstrip(":"))].append(float(w[-1]))
print("\nmedian ratio mlpipe / llama.cpp over the rounds (each round's ratio in brackets):")
for (f, t, phase), rs in ratios.items():
    flag = "" if statistics.median(rs) >= 1 else "   <-- behind"
    print(f"  {f:24} {t} {phase:8} {statistics.median(rs):.2f}  [{' / '.join(f'{x:.2f}' for x in rs)}]{flag}")
PY
