#!/usr/bin/env bash
# The test command: bash deploy/local/test.sh [pytest args...]
#
# On a fresh machine it creates .venv, installs nextbest with its test extras, makes sure the
# system tools the integration tests need are there (Java + Maven for the local Kafka broker,
# redis-server), then runs ruff, mypy and pytest. Kafka and Redis themselves are started (or
# reused) by the pytest fixtures in tests/integration/conftest.py, not here.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# --- System tools only the tests need -------------------------------------------------------------
# prometheus + promtool check the dashboards and alert rules against a real Prometheus; chromium
# renders the customer-360 page in a headless browser; tmux is the terminal the demo's live view
# is read in.
test_missing=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || test_missing+=(prometheus)
command -v chromium >/dev/null || test_missing+=(chromium)
command -v tmux >/dev/null || test_missing+=(tmux)
if ((${#test_missing[@]})); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        log "installing ${test_missing[*]} with apt-get"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${test_missing[@]}" >/dev/null
    else
        echo "warning: missing ${test_missing[*]}; the monitoring, page and demo view tests need them:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y ${test_missing[*]}" >&2
    fi
fi

# --- Checks ---------------------------------------------------------------------------------------
status=0
log "ruff check ."
"$VENV/bin/ruff" check . || status=1
log "mypy"
"$VENV/bin/mypy" || status=1
log "pytest $*"
"$VENV/bin/python" -m pytest "$@" || status=$?
exit "$status"
