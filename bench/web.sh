#!/bin/sh
# make bench-web: the web pages under load (performance.md, section 3).
#
# A scratch database (BENCH_DB, default pies_webbench) on the PostgreSQL server of DATABASE_URL,
# with the demo; gunicorn with 2 workers, DEBUG off, on a free loopback port; wrk with 4
# connections for BENCH_SECONDS (default 10) per page, BENCH_RUNS times (default 3). Prints
# p50/p95/p99 (ms) and requests/s per page, and each page's p50 and requests/s against
# /healthz's in the same run (the floor). The pages are performance.md's: the dashboard, the
# account page, the activity page, two htmx partials (the deposit form's live preview, the pie
# editor's security search), and for the writes the rebalance preview and a deposit POST (fresh
# idempotency keys). A page that does not answer 200 stops the bench. Needs wrk (/usr/bin/wrk;
# `apt-get install -y wrk`): without it, it says so and exits 0 without measuring.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SECONDS_PER_PAGE=${BENCH_SECONDS:-10}
RUNS=${BENCH_RUNS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-4}

if ! command -v wrk >/dev/null 2>&1; then
  echo "bench-web: wrk is not installed (apt-get install -y wrk); skipping the web benchmark."
  exit 0
fi
: "${DATABASE_URL:?DATABASE_URL must point at a PostgreSQL server (the scratch database goes there)}"
: "${REDIS_URL:?REDIS_URL must be set}"

DB=${BENCH_DB:-pies_webbench}
url_of() {  # the server's URL for database $1 (the embedded server's names a socket directory)
  "$PY" -c 'import sys; from urllib.parse import urlsplit, urlunsplit
print(urlunsplit(urlsplit(sys.argv[1])._replace(path="/" + sys.argv[2])))' "$DATABASE_URL" "$1"
}
SERVER_URL=$(url_of postgres)
export DATABASE_URL="$(url_of "$DB")"
# One secret for the setup and the server: the session cookie the setup makes is signed with it
# (with two, every page answered a redirect to the login page, and was timed as one).
SECRET_KEY=$("$PY" -c "import secrets; print(secrets.token_urlsafe(50))")
export SECRET_KEY
sql() {  # run statements on the server's postgres database (no psql needed)
  "$PY" -c 'import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    for statement in sys.argv[2:]:
        conn.execute(statement)' "$SERVER_URL" "$@"
}
sql "DROP DATABASE IF EXISTS $DB" "CREATE DATABASE $DB"
WORK=$(mktemp -d)
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
  [ "${BENCH_KEEP_DB:-0}" = 1 ] || sql "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

DEBUG=1 "$PY" -m bench.web_setup | grep -E "^(SESSION|TOKEN|ACCOUNT|WRITER_TOKEN|WRITER_ACCOUNT)=" > "$WORK/setup.env"
. "$WORK/setup.env"

# With DEBUG off the pages name their static files by the manifest collectstatic writes (into
# staticfiles/, ignored by git): without it, every page is a 500.
DEBUG=0 ALLOWED_HOSTS=127.0.0.1 "$PY" manage.py collectstatic --noinput -v0

PORT=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
DEBUG=0 SECURE_SSL_REDIRECT=0 ALLOWED_HOSTS=127.0.0.1 LOG_LEVEL=WARNING \
  "$(dirname "$PY")/gunicorn" pieproject.wsgi:application --bind "127.0.0.1:$PORT" \
  --workers 2 --log-level warning > "$WORK/gunicorn.log" 2>&1 &
SERVER=$!
URL="http://127.0.0.1:$PORT"
i=0
until curl -fs "$URL/healthz" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 120 ] || { cat "$WORK/gunicorn.log"; exit 1; }; sleep 0.5
done
cat bench/web_deposit.lua bench/web_stats.lua > "$WORK/deposit.lua"

# name|path|script|auth header|htmx (1: sent as htmx asks for a partial)
COOKIE="Cookie: sessionid=$SESSION"
PAGES="healthz|/healthz|bench/web_stats.lua||
dashboard|/|bench/web_stats.lua|$COOKIE|
account|/account/$ACCOUNT/|bench/web_stats.lua|$COOKIE|
activity|/account/$ACCOUNT/activity/|bench/web_stats.lua|$COOKIE|
deposit_preview_htmx|/account/$ACCOUNT/deposit/?amount=250.00|bench/web_stats.lua|$COOKIE|1
security_search_htmx|/securities/search/?q=V|bench/web_stats.lua|$COOKIE|1
rebalance_preview|/api/v1/accounts/$ACCOUNT/rebalance/preview/|bench/web_stats.lua|Authorization: Token $TOKEN|
deposit_post|/api/v1/accounts/$WRITER_ACCOUNT/deposits/|$WORK/deposit.lua|Authorization: Token $WRITER_TOKEN|"

run_page() {  # path script header htmx -> "STATS p50 p95 p99 rps errors"
  set -- "$1" "$2" "${3:-X-Bench: 1}" "$4"
  if [ "$4" = 1 ]; then
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_PAGE}s" -s "$2" -H "$3" -H "HX-Request: true" \
      "$URL$1" | grep '^STATS'
  else
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_PAGE}s" -s "$2" -H "$3" "$URL$1" | grep '^STATS'
  fi
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
run=1
while [ $run -le "$RUNS" ]; do
  echo "$PAGES" | while IFS='|' read -r name path script header htmx; do
    # Warm up. A page must answer 200 itself: a redirect (to the login page, say) or an error
    # would be timed in its place, so the bench stops instead.
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "${header:-X-Bench: 1}" \
      -H "HX-Request: ${htmx:+true}" "$URL$path" || true)
    if [ "$script" = bench/web_stats.lua ] && [ "$code" != 200 ]; then
      echo "bench-web: $name ($path) answered $code, not 200; the server's log ends:" >&2
      tail -n 20 "$WORK/gunicorn.log" >&2; exit 1
    fi
    echo "$run $name $(run_page "$path" "$script" "$header" "$htmx")"
  done
  run=$((run + 1))
done > "$WORK/results.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Medians over the runs; ratios to /healthz of the same run, then their median.
"$PY" - "$WORK/results.txt" "$CONNECTIONS" <<'PYEOF'
import json, statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if "STATS" in line]
by_page, healthz = {}, {}
for run, name, _, p50, p95, p99, rps, errors in rows:
    values = dict(p50=float(p50), p95=float(p95), p99=float(p99), rps=float(rps), errors=int(errors))
    by_page.setdefault(name, []).append((run, values))
    if name == "healthz":
        healthz[run] = values
print(f"{'page':<18} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'p50/healthz':>12} {'healthz rps/rps':>16} {'non-2xx':>8}")
summary = {}
for name, runs in by_page.items():
    med = {k: statistics.median(v[k] for _, v in runs) for k in ("p50", "p95", "p99", "rps")}
    slow = statistics.median(v["p50"] / healthz[r]["p50"] for r, v in runs)
    fewer = statistics.median(healthz[r]["rps"] / v["rps"] for r, v in runs)
    errors = sum(v["errors"] for _, v in runs)
    summary[name] = {**med, "p50_vs_healthz": round(slow, 1), "healthz_rps_ratio": round(fewer, 1), "non_2xx": errors}
    print(f"{name:<18} {med['p50']:8.2f} {med['p95']:8.2f} {med['p99']:8.2f} {med['rps']:8.1f} {slow:12.1f} {fewer:16.1f} {errors:8d}")
print(json.dumps({"connections": int(sys.argv[2]), "runs": len(healthz), "pages": summary}))
PYEOF
