#!/usr/bin/env bash
# Iwae.NET against PyTorch on this machine, in one run: the same training step (B x k = 20x1, 20x5, 20x50, 100x50)
# and the same k = 5000 evaluation, on 1 and 2 threads, then one table.
#
#   scripts/peer/compare.sh [table.txt]
#
# 1. installs the peer if missing: Debian's python3-torch (its GEMMs go to OpenBLAS through libblas.so.3, so
#    libopenblas0-pthread as well, else it falls back to the reference BLAS) and python3-numpy;
# 2. builds Iwae.Bench in Release;
# 3. runs `quick gemm` (for its `peak` lines, the FMA ceiling the VM delivers right now), `quick step`, `quick eval`,
#    then scripts/peer/torch_step.py, one after the other, so the two never share the cores;
# 4. prints the table (and writes it to $1 if given). Raw output of every run is printed as it comes.
#
# Threads. Ours: each bench takes threads=1,2 itself (a ComputeContext per count); nothing in the environment.
# Torch: torch_step.py sets OPENBLAS_NUM_THREADS=1 before importing torch, then torch.set_num_threads(T). Debian's
# torch has two thread pools, its OpenMP one (elementwise ops) and OpenBLAS's pthreads (GEMMs); left at their
# defaults OpenBLAS starts a thread per core beside torch's, and on a 2-core machine they contend. The
# set_num_threads(T) figure is "torch 2t" below; since it leaves the GEMMs on one thread, torch_step.py also times
# OpenBLAS at T (with torch at 1 and at T), and the table shows the best of those as "torch best 2t" and compares
# with both. The all-defaults figure (k = 50) comes after the table for reference.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PY=/usr/bin/python3                  # Debian's interpreter: a pyenv python3 on PATH has no python3-torch
OUT=${1:-}

need=()
for p in python3-torch python3-numpy libopenblas0-pthread; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
    SUDO=
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "# installing ${need[*]}"
    # An image with empty package lists cannot install anything: update first then, else only if the install fails.
    if ! compgen -G "/var/lib/apt/lists/*Packages" >/dev/null; then $SUDO apt-get update; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${need[@]}" \
        || { $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${need[@]}"; }
fi

echo "# building Iwae.Bench (Release)"
dotnet build Iwae.Bench -c Release -nologo -v quiet
DLL=Iwae.Bench/bin/Release/net10.0/Iwae.Bench.dll

LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT
dotnet "$DLL" quick gemm shapes=1000x784x200 forms=NN | tee "$LOG/gemm.txt"
dotnet "$DLL" quick step | tee "$LOG/step.txt"
dotnet "$DLL" quick eval | tee "$LOG/eval.txt"
"$PY" scripts/peer/torch_step.py | tee "$LOG/torch.txt"

"$PY" - "$LOG" "$OUT" <<'EOF'
import os, re, sys

log, out = sys.argv[1], sys.argv[2]

def lines(name):
    with open(os.path.join(log, name)) as f:
        return f.read().splitlines()

def kv(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))

ours, torch, torch_alt, peak = {}, {}, {}, {}
header = [l for l in lines("torch.txt") if l.startswith("# torch")]
default = [l for l in lines("torch.txt") if "threads=default" in l]
for l in lines("gemm.txt"):
    if l.startswith("peak "):
        d = kv(l)
        th = int(d["threads"])
        peak[th] = max(peak.get(th, 0.0), float(d["gflops"]))      # best of the readings before and after
for l in lines("step.txt") + lines("eval.txt") + lines("torch.txt"):
    words = l.split()
    if not words or "threads=default" in l:
        continue
    is_torch = words[0] == "torch"
    what = words[1] if is_torch else words[0]
    if what not in ("step", "eval"):
        continue
    d = kv(l)
    key = f"step {d['batch']}x{d['k']}" if what == "step" else f"eval k={d['k']}"
    ms = float(d["ms"] if what == "step" else d["ms_per_image"])
    cell = (ms, float(d["gflops"]))
    th = int(d["threads"])
    if not is_torch:
        ours[key, th] = cell
    elif "blas_threads" not in d:
        torch[key, th] = cell
    else:
        label = f"t{d['torch_threads']}b{d['blas_threads']}"
        torch_alt.setdefault((key, th), []).append(cell + (label,))

keys = []
for k, _ in list(ours) + list(torch):
    if k not in keys:
        keys.append(k)

def fmt(c):
    return f"{c[0]:.2f} ({c[1]:.0f})" if c else "-"

def ratio(a, b):
    return f"{b[0] / a[0]:.2f}x" if a and b else "-"

def frac(c, th):
    return f"{100 * c[1] / peak[th]:.0f}%" if c and th in peak else "-"

rows = [["scenario", "ours 1t", "ours 2t", "torch 1t", "torch 2t", "torch best 2t", "ours/torch 2t", "ours/torch best 2t", "ours % peak 1t/2t"]]
for k in keys:
    o1, o2, t1, t2 = ours.get((k, 1)), ours.get((k, 2)), torch.get((k, 1)), torch.get((k, 2))
    cands = ([t2 + ("t2b1",)] if t2 else []) + torch_alt.get((k, 2), [])
    best = min(cands, key=lambda c: c[0]) if cands else None
    rows.append([k, fmt(o1), fmt(o2), fmt(t1), fmt(t2), f"{fmt(best)} {best[2]}" if best else "-",
                 ratio(o2, t2), ratio(o2, best), f"{frac(o1, 1)}/{frac(o2, 2)}"])
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
text = [" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
text.insert(1, "-|-".join("-" * w for w in widths))
notes = [
    "ms per step (step) or per test image (eval), GEMM GFLOP/s in brackets (Scenarios.StepFlops/EvalFlops for both);",
    "ours/torch = torch ms / ours ms (above 1: ours faster). torch 2t = torch.set_num_threads(2), OpenBLAS at 1 thread;",
    "torch best 2t = the fastest of t2b1, t1b2, t2b2 (torch intra-op threads t, OpenBLAS threads b).",
    "peak: " + ", ".join(f"{th} thread{'s' if th > 1 else ''} {g:.1f} GFLOP/s" for th, g in sorted(peak.items()))
    + " (quick gemm's FMA loop on the default path, best reading).",
]
notes += [h.lstrip("# ") for h in header] + [f"reference, all thread settings at their defaults: {l}" for l in default]
table = "\n".join(text + [""] + notes)
print()
print(table)
if out:
    with open(out, "w") as f:
        f.write(table + "\n")
EOF
