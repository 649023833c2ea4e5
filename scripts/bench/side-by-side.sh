#!/usr/bin/env bash
# Two threads against two one-thread processes side by side, per kernel path: how much of the machine's two-core
# throughput one two-thread process gets. On a VM whose two vCPUs share caches, memory bandwidth and turbo headroom,
# two independent one-thread processes are the ceiling a two-thread run can reach; issue 26 asks for 0.9 of it.
#
#   scripts/bench/side-by-side.sh [paths]        paths: IWAE_SIMD values, default "256 128 scalar"
#
# For each path and scenario (step B=20 k=50, eval k=5000 over 160 images: 8 groups of 20, an even share per thread): one 1-thread process alone, one 2-thread
# process alone, then two 1-thread processes at once; prints each figure and
#   ratio = (2-thread throughput) / (sum of the two side-by-side 1-thread throughputs).
# Nothing else may run meanwhile: the figures are only as quiet as the machine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PATHS=${1:-"256 128 scalar"}
dotnet build Iwae.Bench -c Release -nologo -v quiet >/dev/null
DLL=Iwae.Bench/bin/Release/net10.0/Iwae.Bench.dll
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The figure (ms per step, or per image) of a quick line.
ms() { grep -o -E 'ms(_per_image)?=[0-9.]+' "$1" | head -1 | cut -d= -f2; }

lscpu | grep -E '^Model name|^CPU family|^Model:' | tr -s ' '
for path in $PATHS; do
    for scenario in step eval; do
        if [ "$scenario" = step ]; then args=(step shapes=20x50 seconds=3); else args=(eval images=160); fi
        IWAE_SIMD=$path dotnet "$DLL" quick "${args[@]}" threads=1 > "$TMP/one"
        IWAE_SIMD=$path dotnet "$DLL" quick "${args[@]}" threads=2 > "$TMP/two"
        IWAE_SIMD=$path dotnet "$DLL" quick "${args[@]}" threads=1 > "$TMP/a" &
        IWAE_SIMD=$path dotnet "$DLL" quick "${args[@]}" threads=1 > "$TMP/b" &
        wait
        python3 - "$path" "$scenario" "$(ms "$TMP/one")" "$(ms "$TMP/two")" "$(ms "$TMP/a")" "$(ms "$TMP/b")" <<'PY'
import sys
path, scenario, one, two, a, b = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
pair = 1 / a + 1 / b          # work per ms of the two side-by-side processes together
print(f"path={path:6} {scenario:4} 1t alone {one:7.2f} ms | 2t {two:7.2f} ms | 1t side by side {a:7.2f}, {b:7.2f} ms"
      f" | 2t/1t {one / two:4.2f}x | ratio to side by side {(1 / two) / pair:4.2f}")
PY
    done
done
