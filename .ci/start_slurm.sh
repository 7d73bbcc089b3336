#!/usr/bin/env bash
# Start a one-node Slurm cluster (Debian's slurm-wlm and munge) on loopback for the launcher's
# tests, and print the folder its config lives in (export it as SLURM_CONF's folder). Runs as
# root; installs the packages when missing. The node offers 6 task slots on whatever cores the
# machine has (config_overrides), so three array tasks run at once even on 2 cores.
set -euo pipefail

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

state=$(mktemp -d /tmp/hpo-slurm.XXXXXX)
chmod 755 "$state"  # munged runs as munge and must reach its folder
mkdir -p "$state/spool" "$state/ctld" "$state/log" "$state/munge"
host=$(hostname -s)

# munge: its own key and socket, so a munged left by an earlier run is not in the way.
dd if=/dev/urandom of="$state/munge/munge.key" bs=1 count=1024 status=none
chown -R munge:munge "$state/munge" 2>/dev/null || true
chmod 700 "$state/munge"
chmod 400 "$state/munge/munge.key"
runuser -u munge -- /usr/sbin/munged --key-file="$state/munge/munge.key" \
    --socket="$state/munge/munge.socket" --pid-file="$state/munge/munged.pid" \
    --log-file="$state/munge/munged.log" --seed-file="$state/munge/munged.seed" --force

# Free ports, so a cluster left running by an earlier run does not get in the way.
read -r ctld_port slurmd_port < <(python3 -c '
import socket
ports = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ports.append(s.getsockname()[1]); s.close()
print(*ports)')

cat >"$state/slurm.conf" <<EOF
ClusterName=hpo-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool/slurmd-%n
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
JobRequeue=1
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=6 RealMemory=4000 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

export SLURM_CONF="$state/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "$state"
        exit 0
    fi
    sleep 0.5
done
echo ".ci/start_slurm.sh: the node did not come up; logs:" >&2
tail -n 20 "$state/log/"*.log >&2
exit 1
