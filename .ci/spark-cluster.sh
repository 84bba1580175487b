#!/usr/bin/env bash
# A Spark standalone cluster on this machine, for the cluster differential
# (tests/test_spark_cluster.py, issue 27): one master on 127.0.0.1:7077 and ONE
# worker (1 core, 1 GiB for executors), started by pyspark's own launch script
# (site-packages/pyspark/sbin/spark-daemon.sh; pip's pyspark ships no
# start-master.sh/start-worker.sh, which only wrap it with these class names).
#
#   bash .ci/spark-cluster.sh start    start (or find running) and wait until the worker has registered
#   bash .ci/spark-cluster.sh stop     stop the worker and the master; fine when already stopped
#   bash .ci/spark-cluster.sh status   say whether each daemon runs
#
# Then: CPTKG_SPARK_MASTER=spark://127.0.0.1:7077 cptkg batch ... --engine spark
#
# Logs, pid files, the executors' work folders and an empty conf folder live in
# CPTKG_SPARK_CLUSTER_DIR (default /tmp/cptkg-spark-cluster-$UID), nothing in the venv.
# Settings: CPTKG_SPARK_PORT (7077), CPTKG_SPARK_WORKER_MEMORY (1g),
# CPTKG_SPARK_CLUSTER_TIMEOUT (seconds to wait for the worker, 120). Both web UIs
# take a free port (0); the worker's registration is read from its log.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${CPTKG_PYTHON:-$PWD/.venv/bin/python}"
dir="${CPTKG_SPARK_CLUSTER_DIR:-${TMPDIR:-/tmp}/cptkg-spark-cluster-$(id -u)}"
port="${CPTKG_SPARK_PORT:-7077}"
master_url="spark://127.0.0.1:$port"
timeout="${CPTKG_SPARK_CLUSTER_TIMEOUT:-120}"
MASTER=org.apache.spark.deploy.master.Master
WORKER=org.apache.spark.deploy.worker.Worker

SPARK_HOME="$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null)" || {
  echo "spark-cluster: pyspark is not installed in $PY (bash .ci/provision.sh)" >&2; exit 2; }
daemon="$SPARK_HOME/sbin/spark-daemon.sh"
[ -f "$daemon" ] || { echo "spark-cluster: $daemon is missing (pyspark without its launch scripts)" >&2; exit 2; }
mkdir -p "$dir/logs" "$dir/pids" "$dir/work" "$dir/conf"
export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 SPARK_MASTER_HOST=127.0.0.1 \
       SPARK_LOG_DIR="$dir/logs" SPARK_PID_DIR="$dir/pids" SPARK_WORKER_DIR="$dir/work" \
       SPARK_CONF_DIR="$dir/conf" SPARK_IDENT_STRING=cptkg \
       SPARK_DAEMON_MEMORY="${SPARK_DAEMON_MEMORY:-256m}"
# the executors start Python workers with the driver's PYSPARK_PYTHON; the venv's python3
# first on the worker's PATH serves a driver that sets none
export PATH="$(dirname "$PY"):$PATH"

pid_of() {  # the running daemon's pid, or nothing
  local f="$SPARK_PID_DIR/spark-$SPARK_IDENT_STRING-$1-1.pid" p
  [ -f "$f" ] || return 0
  p="$(cat "$f")"
  if [[ "$(ps -p "$p" -o comm= 2>/dev/null)" =~ java ]]; then echo "$p"; fi
}
log_of() { ls -t "$SPARK_LOG_DIR"/spark-"$SPARK_IDENT_STRING"-"$1"-1-*.out 2>/dev/null | head -1; }

wait_for() {  # wait_for CLASS PATTERN WHAT: until the daemon's log has PATTERN, or fail with its log's tail
  local cls="$1" pattern="$2" what="$3" waited=0 log
  while :; do
    log="$(log_of "$cls")"
    if [ -n "$log" ] && grep -q "$pattern" "$log"; then return 0; fi
    if [ -z "$(pid_of "$cls")" ]; then
      echo "spark-cluster: the ${cls##*.} stopped before $what; its log ($log):" >&2
      [ -n "$log" ] && tail -20 "$log" >&2
      return 1
    fi
    if [ "$waited" -ge "$timeout" ]; then
      echo "spark-cluster: no $what after ${timeout}s; the ${cls##*.}'s log ($log):" >&2
      [ -n "$log" ] && tail -20 "$log" >&2
      return 1
    fi
    sleep 1; waited=$((waited + 1))
  done
}

start() {
  local t0=$SECONDS
  if [ -n "$(pid_of $MASTER)" ] && [ -n "$(pid_of $WORKER)" ] \
     && grep -q "Successfully registered with master" "$(log_of $WORKER)" 2>/dev/null; then
    echo "spark-cluster: already running at $master_url (logs in $SPARK_LOG_DIR)"; return 0
  fi
  command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] || {
    echo "spark-cluster: no Java runtime (bash .ci/provision.sh installs openjdk-17-jre-headless)" >&2; exit 2; }
  if [ -z "$(pid_of $MASTER)" ]; then
    bash "$daemon" start $MASTER 1 --host 127.0.0.1 --port "$port" --webui-port 0 >/dev/null
    wait_for $MASTER "Starting Spark master at\|I have been elected leader" "master on $master_url" || { stop; exit 1; }
  fi
  if [ -z "$(pid_of $WORKER)" ]; then
    bash "$daemon" start $WORKER 1 --host 127.0.0.1 --webui-port 0 --cores 1 \
      --memory "${CPTKG_SPARK_WORKER_MEMORY:-1g}" --work-dir "$SPARK_WORKER_DIR" "$master_url" >/dev/null
  fi
  wait_for $WORKER "Successfully registered with master" "worker registered with $master_url" || { stop; exit 1; }
  echo "spark-cluster: master $master_url and one worker (1 core) up in $((SECONDS - t0))s (logs in $SPARK_LOG_DIR)"
}

stop() {
  local cls p
  for cls in $WORKER $MASTER; do
    p="$(pid_of "$cls")"
    bash "$daemon" stop "$cls" 1 >/dev/null 2>&1 || true
    if [ -n "$p" ]; then  # the daemons stop on SIGTERM within seconds; never leave one behind
      for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
    fi
  done
  echo "spark-cluster: stopped"
}

status() {
  local cls p rc=0
  for cls in $MASTER $WORKER; do
    p="$(pid_of "$cls")"
    if [ -n "$p" ]; then echo "${cls##*.}: running (pid $p)"; else echo "${cls##*.}: stopped"; rc=3; fi
  done
  return $rc
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: bash .ci/spark-cluster.sh start|stop|status" >&2; exit 2 ;;
esac
