#!/usr/bin/env bash
# A real Slurm on this machine, end to end: installs Debian's slurm-wlm and munge (if missing), starts a one-node
# cluster (munged, slurmctld and slurmd as root, state and spool under a temporary folder), plans a 4-run tiny sweep,
# submits it with sbatch as a job array, requeues one task in the middle of its training with `scontrol requeue`,
# waits for every task, collects the sweep, and checks that every run's checkpoint tensors are bit-identical to the
# same run done locally without interruption. Then it tears the cluster down.
#
# It installs system packages and starts daemons, so it is not part of .ci/run. Run it as root from anywhere:
#   bash deploy/slurm/check.sh
# The last lines it prints say whether every run matched.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/iwae-slurm.XXXXXX)"
node="$(hostname -s)"
conf="$work/slurm.conf"
export SLURM_CONF="$conf"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

teardown() {
  set +e
  [ -n "${job:-}" ] && scancel "$job" 2>/dev/null
  [ -f "$work/slurmd.pid" ] && kill "$(cat "$work/slurmd.pid")" 2>/dev/null
  [ -f "$work/slurmctld.pid" ] && kill "$(cat "$work/slurmctld.pid")" 2>/dev/null
  sleep 1
  pkill -f "slurmd -f $conf" 2>/dev/null; pkill -f "slurmctld -f $conf" 2>/dev/null
  [ -n "${keep:-}" ] || rm -rf "$work"
}
trap teardown EXIT

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# 2. munge: a key in /etc/munge, then the daemon.
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key 2>/dev/null || true
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
if ! pgrep -x munged >/dev/null; then
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged --force 2>/dev/null || /usr/sbin/munged --force
fi

# 3. A one-node cluster: what works in a container or VM without cgroups.
mkdir -p "$work/state" "$work/spool" "$work/log"
cat > "$conf" <<CONF
ClusterName=iwae
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ReturnToService=2
MpiDefault=none
KillWait=30
NodeName=$node CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
log "starting slurmctld and slurmd ($node, 2 CPUs)"
slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 1 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
  sleep 1
done
sinfo

# 4. The program, built once; the sweep: 4 runs of a small model, long enough to be interrupted.
log "building iwae"
dotnet build "$repo/Iwae.Cli" -c Release -v q -nologo >/dev/null
iwae=(dotnet "$repo/Iwae.Cli/bin/Release/net10.0/iwae.dll")
plan=(sweep plan --grid "model=vae,iwae;seed=1,2" --epochs 25 --hidden 32 --latent 4 --k 3 --eval-k 50 --threads 1 --no-estimate)
"${iwae[@]}" "${plan[@]}" --out "$work/cluster" >/dev/null
"${iwae[@]}" "${plan[@]}" --out "$work/local" >/dev/null

# 5. Submit: one array task per run, one CPU each (two run at a time on this node).
"${iwae[@]}" sweep slurm "$work/cluster" --cpus 1 --time 00:30:00 --command "dotnet $repo/Iwae.Cli/bin/Release/net10.0/iwae.dll"
job="$(sbatch --parsable "$work/cluster/sweep.sbatch")"
log "submitted job array $job"

# 6. Requeue task 1 once it has trained a few epochs: Slurm sends SIGTERM, the run checkpoints and exits 130, and
#    the task starts again from the queue and resumes.
metrics="$work/cluster/runs/vae-s2/vae-metrics.jsonl"
for _ in $(seq 1 600); do
  [ -f "$metrics" ] && [ "$(wc -l < "$metrics")" -ge 5 ] && break
  sleep 0.5
done
epochs_before="$(wc -l < "$metrics")"
log "requeueing ${job}_1 after $epochs_before epochs"
scontrol requeue "${job}_1"

# 7. Meanwhile the same runs here, uninterrupted.
log "running the same sweep locally"
"${iwae[@]}" sweep run "$work/local" --all --threads 1 >/dev/null

# 8. Wait for the array to finish.
for _ in $(seq 1 1200); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 1
done
sacct -j "$job" -n -o JobID,State,ExitCode 2>/dev/null || true
"${iwae[@]}" sweep status "$work/cluster"
"${iwae[@]}" sweep collect "$work/cluster" >/dev/null
log "log of the requeued task:"
grep -h -E "resuming|interrupted|test NLL" "$work"/cluster/logs/*_1.out || true

# 9. Every run's checkpoint tensors, cluster against local.
python3 - "$work/cluster" "$work/local" <<'PY'
import json, struct, sys, hashlib, pathlib
def tensors(path):
    b = path.read_bytes(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); data = b[8 + n:]
    m = hashlib.sha256()
    for k in sorted(x for x in h if x != '__metadata__'):
        s, e = h[k]['data_offsets']; m.update(k.encode()); m.update(data[s:e])
    return m.hexdigest()[:16]
cluster, local = map(pathlib.Path, sys.argv[1:])
ok = True
for run in sorted((cluster / 'runs').iterdir()):
    ckpt = next(run.glob('*.safetensors'))
    a, b = tensors(ckpt), tensors(local / 'runs' / run.name / ckpt.name)
    done = (run / 'results.json').exists()
    print(f'{run.name:10} cluster {a}  local {b}  {"identical" if a == b and done else "DIFFERENT"}')
    ok &= a == b and done
print('every run bit-identical to its uninterrupted local twin' if ok else 'MISMATCH')
sys.exit(0 if ok else 1)
PY
