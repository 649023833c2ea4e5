#!/usr/bin/env bash
# One table per instruction set (docs/performance.md): `quick` under each path setting, the settings in turn, for a
# few sittings, then each figure's range over the sittings and its fraction of the same sitting's one-thread peak.
#
#   scripts/bench/paths.sh [SITTINGS] [SETTING...]
#   scripts/bench/paths.sh --summary LOG...      the summary again, over the saved output of several runs
#
# SETTING is `default` or one VAR=VALUE, as in scripts/isa/compare-paths.sh (default: the default path, AVX-512 off where
# the CPU has it, IWAE_SIMD=128 and IWAE_SIMD=scalar). SITTINGS defaults to 2. Each sitting runs, per setting,
# `quick gemm shapes=1000x784x200 acc=0` (with its `peak` lines), `quick step shapes=20x1,20x50` and
# `quick eval images=40`, on 1 and 2 threads. Nothing else may run meanwhile: the figures are only as quiet as the
# machine. Raw lines go to stdout as they come (prefixed with the setting); the summary comes last.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

summary() {   # summary SETTING... -- LOG...: ranges over every sitting of every log
python3 - "$@" <<'PY'
import re, sys
from collections import defaultdict
sep = sys.argv.index("--")
settings, logs = sys.argv[1:sep], sys.argv[sep + 1:]
fig = defaultdict(list)        # (setting, name, threads) -> [(sitting, value, gflops)]
for n, log in enumerate(logs):
  for line in open(log):
    if not line.startswith("sitting="): continue
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    kind = line.split()[2]
    s, st, t = (n, int(kv["sitting"])), kv["setting"], int(kv["threads"])
    if kind == "peak": fig[st, "peak", t].append((s, float(kv["gflops"]), float(kv["gflops"])))
    elif kind == "gemm": fig[st, "gemm " + kv["form"], t].append((s, float(kv["gflops"]), float(kv["gflops"])))
    elif kind == "step": fig[st, f"step k={kv['k']}", t].append((s, float(kv["ms"]), float(kv["gflops"])))
    elif kind == "eval": fig[st, "eval", t].append((s, float(kv["ms_per_image"]), float(kv["gflops"])))

def rng(xs, fmt):
    lo, hi = min(xs), max(xs)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else fmt.format(lo) + "-" + fmt.format(hi)

def peak1(st, s):               # the one-thread peak of that setting's sitting (the first peak line, its gemm run)
    return next(v for (ss, v, _) in fig[st, "peak", 1] if ss == s)

print("\nsetting, threads: peak | GEMM NN / NT / TN GFLOP/s | step k=1 ms | step k=50 ms (GFLOP/s; of 1-thread peak)"
      " | eval ms per image (GFLOP/s; of peak)")
for st in settings:
    for t in (1, 2):
        cells = [rng([v for _, v, _ in fig[st, "peak", t]], "{:.1f}"),
                 " / ".join(rng([v for _, v, _ in fig[st, "gemm " + f, t]], "{:.0f}") for f in ("NN", "NT", "TN")),
                 rng([v for _, v, _ in fig[st, "step k=1", t]], "{:.2f}")]
        for name in ("step k=50", "eval"):
            rows = fig[st, name, t]
            cell = f"{rng([v for _, v, _ in rows], '{:.1f}')} ({rng([g for _, _, g in rows], '{:.0f}')}"
            if t == 1: cell += "; " + rng([g / peak1(st, s) for s, _, g in rows], "{:.2f}")
            cells.append(cell + ")")
        print(f"{st:28} {t}: " + " | ".join(cells))
if len(settings) > 1:
    base = settings[0]
    print(f"\none thread, each setting over {base} in the same sitting (GEMM NN, step k=50 throughput, eval throughput):")
    for st in settings[1:]:
        def ratio(name, by_time):
            out = []
            for (s, v, g) in fig[st, name, 1]:
                b = next((bv, bg) for (bs, bv, bg) in fig[base, name, 1] if bs == s)
                out.append(b[0] / v if by_time else g / b[1])
            return rng(out, "{:.2f}")
        print(f"{st:28} {ratio('gemm NN', False)} | {ratio('step k=50', True)} | {ratio('eval', True)}")
PY
}

if [ "${1:-}" = --summary ]; then
    shift
    settings=($(grep -h -o '^sitting=[0-9]* setting=[^ ]*' "$@" | cut -d' ' -f2 | cut -d= -f2- | awk '!seen[$0]++'))
    summary "${settings[@]}" -- "$@"
    exit
fi

cd "$ROOT"
SITTINGS=${1:-2}
[ $# -gt 0 ] && shift
settings=("$@")
if [ ${#settings[@]} -eq 0 ]; then
    settings=(default)
    grep -q avx512f /proc/cpuinfo && settings+=(DOTNET_EnableAVX512=0)
    settings+=(IWAE_SIMD=128 IWAE_SIMD=scalar)
fi
dotnet build Iwae.Bench -c Release -nologo -v quiet >/dev/null
DLL=Iwae.Bench/bin/Release/net10.0/Iwae.Bench.dll
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

lscpu | grep -E '^Model name|^CPU family|^Model:' | tr -s ' '
for ((s = 1; s <= SITTINGS; s++)); do
    for setting in "${settings[@]}"; do
        env=(); [ "$setting" != default ] && read -r -a env <<< "$setting"
        for args in "gemm shapes=1000x784x200 acc=0" "step shapes=20x1,20x50" "eval images=40"; do
            # shellcheck disable=SC2086
            env "${env[@]}" dotnet "$DLL" quick $args | grep -E '^(peak|gemm|step|eval) ' \
                | sed "s/^/sitting=$s setting=$setting /" | tee -a "$LOG"
        done
    done
done

summary "${settings[@]}" -- "$LOG"
