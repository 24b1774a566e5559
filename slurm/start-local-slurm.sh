#!/bin/bash
# Start a single-node SLURM on this Debian machine, configured like the course's partition, for the tests:
# partition exercise-eml (a 12-hour limit, as the course's; its job script asks 30:00), one node with every core, its memory and four `gpu` GRES backed
# by dummy device files (so that --gres=gpu:1 is accepted by several tasks at once, as on a course node with
# its 8 GPUs; the code then finds no CUDA). Needs root.
#   bash slurm/start-local-slurm.sh          install (apt) if needed, configure, start; idempotent
# Stop it with: pkill slurmctld; pkill slurmd
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "start-local-slurm: needs root (it installs packages and starts daemons)" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
   || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: authentication between the daemons and the clients.
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
fi
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged

host=$(hostname -s)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))   # MB, leaving 1 GB to the system
install -d /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
for i in 0 1 2 3; do [ -e /dev/eml-fake-gpu$i ] || touch /dev/eml-fake-gpu$i; done  # /dev/nvidiaN: no CUDA behind
old_conf=$(cat /etc/slurm/slurm.conf /etc/slurm/gres.conf 2>/dev/null || true)
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=eml-local
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
JobRequeue=1
MinJobAge=300
SchedulerParameters=sched_interval=2
MessageTimeout=30
NodeName=${host} CPUs=${cpus} RealMemory=${memory} Gres=gpu:4 State=UNKNOWN
PartitionName=exercise-eml Nodes=${host} Default=YES MaxTime=12:00:00 State=UP
CONF
cat > /etc/slurm/gres.conf <<CONF
NodeName=${host} Name=gpu File=/dev/eml-fake-gpu[0-3]
CONF
if [ "$old_conf" != "$(cat /etc/slurm/slurm.conf /etc/slurm/gres.conf)" ]; then  # changed: restart the daemons
  pkill -x slurmd || true; pkill -x slurmctld || true
  for _ in $(seq 30); do pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || break; sleep 1; done
fi

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
  if sinfo --noheader --format=%T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    scontrol update nodename="${host}" state=resume >/dev/null 2>&1 || true
    sinfo
    exit 0
  fi
  sleep 1
done
echo "start-local-slurm: the node did not come up; see /var/log/slurm/" >&2
sinfo -R >&2 || true
exit 1
