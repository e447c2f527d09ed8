#!/usr/bin/env bash
# The ML.NET issue's consumer check: builds samples/ConsumerApp outside the repository (no Directory.Build.props or
# central package management of ours above it), saves a pipeline in one folder, reloads it in another process from
# another working directory, and requires identical output, batched and through CreatePredictionEngine.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/mlpipe-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/app" "$work/first" "$work/second"
cp "$repo/samples/ConsumerApp/Program.cs" "$repo/samples/ConsumerApp/ConsumerApp.csproj" "$work/app/"
dotnet build "$work/app" -c Release -o "$work/bin" -p:MlPipelinesRepo="$repo" -v q -nologo
(cd "$work/first" && dotnet "$work/bin/ConsumerApp.dll" save "$repo/models" pipeline.zip out.txt)
(cd "$work/second" && dotnet "$work/bin/ConsumerApp.dll" load ../first/pipeline.zip out.txt)
if cmp -s "$work/first/out.txt" "$work/second/out.txt"; then
  cat "$work/first/out.txt"
  echo "consumer-check: identical output after reload ($(wc -l < "$work/first/out.txt") lines)"
else
  diff "$work/first/out.txt" "$work/second/out.txt" || true
  echo "consumer-check: outputs differ" >&2; exit 1
fi
# Single rows through the PredictionEngine give what the batched Transform gives.
half=$(( $(wc -l < "$work/first/out.txt") / 2 ))
if ! diff <(head -n "$half" "$work/first/out.txt") <(tail -n "$half" "$work/first/out.txt" | sed 's/^single row: //'); then
  echo "consumer-check: single rows differ from the batched transform" >&2; exit 1
fi
echo "consumer-check: single rows equal the batched transform"
