#!/usr/bin/env bash
# The test command: bash deploy/local/test.sh [pytest args...]
#
# On a fresh machine it creates .venv, installs nextbest with its test extras, makes sure the
# system tools the integration tests need are there (Java + Maven for the local Kafka broker,
# redis-server), then runs ruff, mypy and pytest. Kafka and Redis themselves are started (or
# reused) by the pytest fixtures in tests/integration/conftest.py, not here.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# --- Checks ---------------------------------------------------------------------------------------
status=0
log "ruff check ."
"$VENV/bin/ruff" check . || status=1
log "mypy"
"$VENV/bin/mypy" || status=1
log "pytest $*"
"$VENV/bin/python" -m pytest "$@" || status=$?
exit "$status"
