#!/usr/bin/env bash
# The default `compare` under several instruction-set settings, then one table: every setting must print the same
# figures and write checkpoints with the same bytes (issue 26: the same bits on every path).
#
#   scripts/isa/compare-paths.sh OUT [SETTING...] [-- compare options...]
#
# SETTING is `default` or VAR=VALUE (several separated by spaces, in one argument), e.g. IWAE_SIMD=scalar, IWAE_SIMD=128,
# DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0, DOTNET_EnableAVX=0 (default: all of those this CPU can switch). The
# runtime's knobs do not reach the C library, which picks its own exp/log by CPUID: add
# GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA to a knob to run what a machine without AVX2 and FMA runs. Each runs
# in OUT/<setting>; a setting whose folder already holds results.json is not run again, so the slow ones (without FMA
# hardware every multiply-add is emulated) can run at another time or in parallel (IWAE_COMPARE_JOBS=2: two at once,
# each on one thread; the same bits on any thread count). Options after -- go to every compare (default: none, the
# main job). Exits 1 when two settings differ.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:?usage: compare-paths.sh OUT [SETTING...] [-- compare options...]}
shift
settings=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do settings+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
options=("$@")
if [ ${#settings[@]} -eq 0 ]; then
    settings=(default)
    grep -q avx512f /proc/cpuinfo && settings+=(DOTNET_EnableAVX512=0)
    settings+=(DOTNET_EnableAVX2=0 DOTNET_EnableAVX=0 IWAE_SIMD=128 IWAE_SIMD=scalar)
fi
jobs=${IWAE_COMPARE_JOBS:-1}
threads=(); [ "$jobs" -gt 1 ] && threads=(--threads 1)

cd "$ROOT"
dotnet build Iwae.Cli -c Release -nologo -v quiet >/dev/null
mkdir -p "$OUT"
# A private copy: a build in the working tree while the slow settings run must not swap assemblies under them.
rm -rf "$OUT/.cli" && cp -r Iwae.Cli/bin/Release/net10.0 "$OUT/.cli"
CLI=$OUT/.cli/iwae.dll
lscpu | grep -E '^Model name|^CPU family|^Model:|^Flags' | sed -E 's/^Flags: .*/flags: '"$(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"'/' | tr -s ' '

run() {
    local setting=$1 name=${1//[= ,]/_}
    local dir=$OUT/$name
    if [ -f "$dir/results.json" ]; then echo "# $setting: done before, in $dir"; return; fi
    local env=(); [ "$setting" != default ] && read -r -a env <<< "$setting"
    echo "# $setting: running in $dir ($(date -u +%H:%M:%S))"
    rm -rf "$dir.partial"
    if env "${env[@]}" dotnet "$CLI" compare --out "$dir.partial" "${threads[@]}" "${options[@]}" > "$OUT/$name.log" 2>&1; then
        mv "$dir.partial" "$dir"
        echo "# $setting: finished ($(date -u +%H:%M:%S))"
    else
        echo "# $setting: compare failed, see $OUT/$name.log"; tail -3 "$OUT/$name.log"
    fi
}
running=0
for s in "${settings[@]}"; do
    run "$s" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

python3 - "$OUT" "${settings[@]}" <<'PY'
import hashlib, json, os, sys
out, settings = sys.argv[1], sys.argv[2:]
keys = ["test_nll", "test_bound_k1", "test_bound_k", "active_units", "final_train_bound", "unit_variances"]
rows, first = [], None
for s in settings:
    d = os.path.join(out, s.replace("=", "_").replace(",", "_").replace(" ", "_"))
    if not os.path.exists(os.path.join(d, "results.json")):
        print(f"{s:28} not finished"); continue
    res = json.load(open(os.path.join(d, "results.json")))
    figures = {m["model"]: {k: m.get(k) for k in keys} for m in res["models"]}
    hashes = {f: hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()[:16]
              for f in sorted(os.listdir(d)) if f.endswith(".safetensors")}
    rows.append((s, figures, hashes))
    nll = "  ".join(f"{m} NLL {v['test_nll']:.2f} AU {v['active_units']}" for m, v in figures.items())
    print(f"{s:28} kernels {res.get('kernels', '?'):10} {nll}  " + " ".join(f"{f} {h}" for f, h in hashes.items()))
same = all(r[1] == rows[0][1] and r[2] == rows[0][2] for r in rows) if rows else False
print(f"same figures and checkpoint bytes under {len(rows)} settings" if same and len(rows) == len(settings)
      else "DIFFERENT" if not same else f"same so far ({len(rows)} of {len(settings)} settings finished)")
sys.exit(0 if same else 1)
PY
