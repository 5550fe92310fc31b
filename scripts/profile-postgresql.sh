#!/bin/bash
# Which statements a burst costs on the PostgreSQL store (docs/performance.md, "PostgreSQL backend"):
# starts a throwaway cluster with pg_stat_statements, the simulator and the release daemon, drops N
# request files at once, waits until every outcome file is written, then prints transactions per job
# (and deadlocks), the daemon's and the server's CPU per job, planning and execution time, and the
# statements by their planning plus execution time. Root only (initdb runs as postgres).
#
#   scripts/profile-postgresql.sh [N]        N request files (default 2000); TOP=25 statements shown
#   WAITING=1 scripts/profile-postgresql.sh  the files wait in the spool before the daemon starts
#                                            (as in the bench's burst); counted from its exec
set -euo pipefail
N=${1:-2000}
BIN=${BIN:-$(pwd)/.build/release/videospool}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
W=$(mktemp -d /tmp/videospool-pgprofile.XXXXXX)
chown postgres "$W"
PORT=55499
SECRET=whsec_$(head -c 24 /dev/urandom | base64)
cleanup() {
    [ -n "${D:-}" ] && kill -TERM "$D" 2>/dev/null && wait "$D" 2>/dev/null || true
    [ -n "${SIM:-}" ] && kill "$SIM" 2>/dev/null || true
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
runuser -u postgres -- "$PGBIN/initdb" -A trust -U postgres -D "$W/data" >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/data" -l "$W/server.log" -w start \
    -o "-k $W -p $PORT -c listen_addresses='' -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on" >/dev/null
psql() { command psql -h "$W" -p $PORT -U postgres -d postgres -X "$@"; }
psql -qc "CREATE EXTENSION pg_stat_statements"
mkdir -p "$W/spool" "$W/state"
cat > "$W/videospool.yaml" <<YAML
spool:
  directory: $W/spool
state:
  directory: $W/state
  backend: postgresql
  postgresql:
    url: "host=$W port=$PORT user=postgres dbname=postgres"
api:
  base_url: http://127.0.0.1:18099
  max_concurrent_requests: 64
  max_in_flight_generations: 10000
  poll:
    schedule: fixed
    first_delay_seconds: 0.05
    interval_seconds: 0.5
webhooks:
  allow_private_networks: true
results:
  download: false
log:
  level: notice
YAML
"$BIN" simulate --webhook-secret "$SECRET" --listen 127.0.0.1:18099 --generation-seconds 0 > "$W/simulator.log" 2>&1 &
SIM=$!
# The server's CPU: every backend of this cluster (they live as long as the daemon's connections).
server_ticks() { for p in $(pgrep -u postgres -f "postgres.*$W|postgres: "); do awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null; done | paste -sd+ | bc; }
write_requests() {
    for i in $(seq 0 $((N - 1))); do
        printf '{"model":"bytedance/dreamina-seedance-2-0-mini","prompt":"profile %d","callback_url":"http://127.0.0.1:18099/webhooks/p"}' "$i" \
            > "$W/spool/incoming/.p$i.tmp"
    done
}
publish_requests() { for i in $(seq 0 $((N - 1))); do mv "$W/spool/incoming/.p$i.tmp" "$W/spool/incoming/p$i.json"; done; }
if [ "${WAITING:-0}" = 1 ]; then
    mkdir -p "$W/spool/incoming"
    write_requests
    publish_requests
    psql -qAtc "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset();" >/dev/null
    server0=$(server_ticks)
fi
start=$(date +%s.%N)
VIDEOSPOOL_WEBHOOK_SECRET=$SECRET AIMLAPI_API_KEY=sim-test-key "$BIN" run --config "$W/videospool.yaml" > "$W/daemon.log" 2>&1 &
D=$!
if [ "${WAITING:-0}" = 1 ]; then
    u0=0; s0=0
else
    until grep -q daemon.started "$W/daemon.log"; do kill -0 $D || { cat "$W/daemon.log"; exit 1; }; sleep 0.2; done
    psql -qAtc "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset();" >/dev/null
    read -r u0 s0 < <(awk '{print $14, $15}' /proc/$D/stat)
fi
[ "${WAITING:-0}" = 1 ] || server0=$(server_ticks)
if [ "${WAITING:-0}" != 1 ]; then
    write_requests
    start=$(date +%s.%N)
    publish_requests
fi
until [ "$(ls "$W/spool/done" | wc -l)" -ge "$N" ]; do kill -0 $D; sleep 0.2; done
end=$(date +%s.%N)
read -r u1 s1 < <(awk '{print $14, $15}' /proc/$D/stat)
server1=$(server_ticks)
ticks=$(getconf CLK_TCK)
echo "$N jobs in $(echo "$end - $start" | bc) s; daemon CPU per job $(echo "scale=3; ($u1 + $s1 - $u0 - $s0) * 1000 / $ticks / $N" | bc) ms;" \
    "server CPU per job $(echo "scale=3; ($server1 - $server0) * 1000 / $ticks / $N" | bc) ms"
sleep 1  # the statistics collector reports with a short delay
psql -c "SELECT xact_commit, round(xact_commit::numeric / $N, 2) AS per_job, deadlocks FROM pg_stat_database WHERE datname = 'postgres'"
psql -c "SELECT sum(calls) AS statements, round(sum(total_plan_time)::numeric) AS plan_ms,
    round(sum(total_exec_time)::numeric) AS exec_ms FROM pg_stat_statements"
psql -c "SELECT calls, round(calls::numeric / $N, 2) AS per_job, round(total_exec_time::numeric) AS ms, round(total_plan_time::numeric) AS plan_ms,
    round((total_exec_time / nullif(calls, 0))::numeric, 3) AS ms_each, left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'postgres')
    ORDER BY total_exec_time + total_plan_time DESC LIMIT ${TOP:-25}"
