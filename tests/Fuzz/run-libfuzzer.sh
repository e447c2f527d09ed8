#!/usr/bin/env bash
# Coverage-guided fuzzing of one tests/Fuzz target with libFuzzer and SharpFuzz (docs/reliability.md).
#
#   tests/Fuzz/run-libfuzzer.sh TARGET [SECONDS] [libFuzzer options...]
#
# Builds tests/Fuzz (Release), instruments the MlPipelines assemblies with SharpFuzz (so their branches feed
# libFuzzer's coverage map), compiles tests/Fuzz/libfuzzer/dotnet-bridge.c with clang's libFuzzer, writes the target's
# seed files, and fuzzes for SECONDS (default 600). Every input is checked against the same contract as the mutation
# runner; a violation, a crash of the .NET process, or an input running past -timeout (10 s) stops the run and leaves
# the input in WORK/TARGET/findings/ (check it with: dotnet WORK/bin/MlPipelines.Fuzz.dll --replay FILE --target TARGET).
# The corpus grows in WORK/TARGET/corpus and is reused by the next run. WORK is $MLPIPE_FUZZ_WORK or
# /tmp/mlpipe-libfuzzer.
#
# Needs clang with libFuzzer (Debian 12: apt-get install clang libclang-rt-14-dev) and the SharpFuzz.CommandLine
# dotnet tool, which this script installs into WORK/tools from the NuGet feed.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
target=$1
seconds=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${MLPIPE_FUZZ_WORK:-/tmp/mlpipe-libfuzzer}
mkdir -p "$work"

clang=$(command -v clang || command -v clang-14 || true)
if [[ -z $clang ]]; then
  echo "run-libfuzzer.sh: clang not found; install it (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
if ! "$clang" -O2 -fsanitize=fuzzer "$repo/tests/Fuzz/libfuzzer/dotnet-bridge.c" -o "$work/dotnet-bridge" 2> "$work/clang.log"; then
  echo "run-libfuzzer.sh: clang could not link libFuzzer (see $work/clang.log); on Debian 12: apt-get install libclang-rt-14-dev" >&2
  exit 2
fi

if [[ ! -x $work/tools/sharpfuzz ]]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$work/tools" > /dev/null
fi

# A fresh copy of the build each time: SharpFuzz instruments in place, and refuses an assembly it already instrumented.
dotnet build "$repo/tests/Fuzz/Fuzz.csproj" -c Release -o "$work/build" -nologo -v quiet > "$work/build.log" ||
  { cat "$work/build.log" >&2; exit 2; }
rm -rf "$work/bin"
cp -r "$work/build" "$work/bin"
for dll in "$work"/bin/MlPipelines.*.dll; do
  [[ $dll == */MlPipelines.Fuzz.dll ]] && continue   # the harness itself: its branches are not the code under test
  "$work/tools/sharpfuzz" "$dll" > /dev/null
done

fuzz="$work/bin/MlPipelines.Fuzz.dll"
mkdir -p "$work/$target/corpus" "$work/$target/seeds" "$work/$target/findings"
dotnet "$fuzz" --write-seeds "$work/$target/seeds" --target "$target" --repo "$repo"

export MLPIPE_FUZZ_DLL=$fuzz MLPIPE_FUZZ_TARGET=$target MLPIPE_FUZZ_REPO=$repo
# The first corpus folder is where libFuzzer adds inputs that reach new code; the seeds folder is only read.
exec "$work/dotnet-bridge" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/$target/findings/" "$@" "$work/$target/corpus" "$work/$target/seeds"
