#!/usr/bin/env bash
# Throughput of distributed embedding: one single-thread silo against two, on this machine (issue #18's yardstick).
# Starts a one-silo cluster and a two-silo cluster side by side (each silo --threads 1, the model preloaded), then
# submits the same job to each in turn, ROUNDS times, interleaved, and prints the rows/s each job reports (submission
# to the last shard; the merge is not counted).
#   bench/cluster-throughput.sh MLPIPE_DLL MODEL ROWS [ROUNDS] [SHARD_ROWS]
# e.g. bench/cluster-throughput.sh /tmp/rel/mlpipe.dll /tmp/q/15m-f32.gguf 4000 3 256
set -euo pipefail
cli="$1"; model="$2"; rows="$3"; rounds="${4:-3}"; shard="${5:-256}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mlpipe-cluster-bench.XXXXXX")"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$work/in.txt" "$rows" <<'PY'
import random, sys
r = random.Random(1)
words = "once upon a time there was a little girl named lily she loved to play with her dog in the park one day the sun was big and red".split()
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[2])):
        f.write(" ".join(r.choice(words) for _ in range(r.randint(8, 40))) + "\n")
PY
silo() {  # cluster-id silo-port gateway-port primary-port name
  dotnet "$cli" silo --cluster-id "$1" --silo-port "$2" --gateway-port "$3" --primary-port "$4" --threads 1 \
    --models "$model" --state "$work/state-$1" --name "$5" >"$work/$5.log" 2>&1 &
  pids+=($!)
}
silo one 22001 32001 22001 one-a
silo two 22011 32011 22011 two-a
silo two 22012 32012 22011 two-b
for log in one-a two-a two-b; do
  until grep -q joined "$work/$log.log"; do sleep 0.5; done
done
sleep 5   # the preloaded model
job() {  # cluster gateways round
  dotnet "$cli" embed --cluster "$1" --gateways "$2" --model "$model" -i "$work/in.txt" -o "$work/out-$1-$3.csv" \
    --shard-rows "$shard" --batch-size 16 >"$work/job-$1-$3.log" 2>&1
  # The job's rate (submission to the last shard), then each silo's own rate (its embedding time).
  echo "$(grep -o '[0-9,]* rows/s' "$work/job-$1-$3.log" | tail -1) [$(grep ' completed: ' "$work/job-$1-$3.log" | tail -1 | sed 's/.*rows (\(.*\))/\1/')]"
}
echo "date: $(date -u +%FT%TZ); $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p'); $rows rows; model $model"
plain() {  # the machine's own ceiling: one-process `mlpipe embed --threads 1`, alone and two side by side
  dotnet "$cli" embed --model "$model" -i "$work/in.txt" -o "$work/plain-$1.csv" --threads 1 --batch-size 16 2>&1 | grep -o '[0-9,]* rows/s' | tail -1
  rm -f "$work/plain-$1.csv"
}
for ((r = 1; r <= rounds; r++)); do
  one=$(job one 32001 "$r"); two=$(job two 32011,32012 "$r")
  alone=$(plain a); pair=$( (plain b & plain c; wait) | tr '\n' ' ')
  echo "round $r: one silo $one, two silos $two; one process alone $alone, two processes side by side $pair"
done
cmp "$work/out-one-1.csv" "$work/out-two-1.csv" && echo "outputs identical"
