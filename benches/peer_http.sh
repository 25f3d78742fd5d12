#!/usr/bin/env bash
# pmbot against Slack's Bolt for JavaScript, side by side: the same open-loop generator
# (../shared/peers/slack/load.py: signed app_mention events over 64 keep-alive connections)
# drives Bolt (which only acks) and then the full `pmbot serve` on PostgreSQL (which records
# every event durably and does the work), one after the other on this machine; then the
# ratios: ack p50/p99/p99.9 per rate, server memory and CPU, PostgreSQL's CPU while pmbot ran,
# and whether every event became exactly one job.
#
# usage: benches/peer_http.sh [PEERS_DIR]     env: RATES=200,500,1000 DURATION=10
#        PMBOT_BIN=target/release/pmbot POSTGRES=postgres://postgres@127.0.0.1:5432/postgres
# Needs Node ≥ 20 and npm (Bolt is installed from the registry), python3, psql.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=$(realpath "${1:-../shared/peers}")
BIN=${PMBOT_BIN:-target/release/pmbot}
ADMIN=${POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
export RATES=${RATES:-200,500,1000} DURATION=${DURATION:-10}
[ -x "$BIN" ] || cargo build --release --locked
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

DB=pmbot_peer_$$
psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
URL="${ADMIN%/*}/$DB"

# PostgreSQL's CPU seconds so far (every postgres process: backends, walwriter, checkpointer;
# backends that exited are counted on the postmaster once it has reaped them).
pg_cpu() {
  python3 - <<'PY'
import os
tick = os.sysconf("SC_CLK_TCK"); total = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    if name.startswith("postgres"):
        f = stat[stat.rindex(")") + 2:].split()
        # Own time, and the time of backends that have exited (counted on the postmaster).
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
print(total / tick)
PY
}

echo "== Bolt"
JSON_OUT="$OUT/bolt.json" "$PEERS/slack/run.sh" 3000
echo "== pmbot"
pg0=$(pg_cpu); t0=$(date +%s.%N)
JSON_OUT="$OUT/pmbot.json" "$PEERS/slack/pmbot.sh" "$BIN" "$URL" 3100 | tee "$OUT/pmbot.log"
pg1=$(pg_cpu); t1=$(date +%s.%N)
jobs=$(psql "$URL" -Atqc "select count(*) from jobs where kind = 'slack.inbound'")
psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null

python3 - "$OUT/bolt.json" "$OUT/pmbot.json" "$pg0" "$pg1" "$t0" "$t1" "$jobs" <<'PY'
import json, sys
bolt, pmbot = (json.load(open(p)) for p in sys.argv[1:3])
pg_cpu = 100 * (float(sys.argv[4]) - float(sys.argv[3])) / (float(sys.argv[6]) - float(sys.argv[5]))
jobs = int(sys.argv[7])
def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "?"
print("\n== pmbot / Bolt (below 1× is pmbot faster or smaller)")
print(f"{'rate':>6} {'pmbot p50':>10} {'Bolt p50':>9} {'pmbot p99':>10} {'Bolt p99':>9} {'p99 ratio':>9} {'pmbot p99.9':>12} {'Bolt p99.9':>11} {'pmbot cpu%':>10} {'Bolt cpu%':>9}")
for p, b in zip(pmbot["steps"], bolt["steps"]):
    print(f"{p['rate']:>6.0f} {p['p50_ms']:>10} {b['p50_ms']:>9} {p['p99_ms']:>10} {b['p99_ms']:>9} {ratio(p['p99_ms'], b['p99_ms']):>9} "
          f"{p['p999_ms']:>12} {b['p999_ms']:>11} {p.get('server_cpu_pct', '?'):>10} {b.get('server_cpu_pct', '?'):>9}")
prss = max(s.get("server_rss_end_kb") or 0 for s in pmbot["steps"])
brss = max(s.get("server_rss_end_kb") or 0 for s in bolt["steps"])
print(f"memory at the end of a step, most: pmbot {prss / 1024:.1f} MiB, Bolt {brss / 1024:.1f} MiB ({ratio(prss, brss)})")
print(f"PostgreSQL's CPU while pmbot ran (load and drain): {pg_cpu:.0f} % of one core")
errors = sum(s.get("errors", 0) for s in pmbot["steps"])
ok = sum(s.get("ok", 0) for s in pmbot["steps"])
print(f"events answered 2xx by pmbot: {ok} (errors {errors}); slack.inbound jobs: {jobs}"
      f" — {'each once' if jobs == ok else 'MISMATCH: check for lost or doubled events'}")
PY
