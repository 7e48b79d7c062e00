#!/usr/bin/env bash
# Sourced by demo.sh and test.sh: makes a fresh machine ready to run nextbest from this checkout.
# Creates .venv, installs nextbest with its test and bench extras (skipped while pyproject.toml is unchanged),
# and installs the system tools the local stack needs (Java + Maven for Kafka, redis-server).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 DEBIAN_FRONTEND=noninteractive

log() { printf '==> %s\n' "$*"; }

# --- Python environment -------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
    if [[ -z "$PYTHON" ]] || ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: Python 3.11+ is needed (set PYTHON=/path/to/python3.11)" >&2
        exit 1
    fi
    log "creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.nextbest-test-deps"
WANT="$( { "$VENV/bin/python" --version; cat pyproject.toml; } | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]]; then
    log "installing nextbest[test,bench] into .venv"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[test,bench]'
    echo "$WANT" >"$STAMP"
else
    log ".venv is up to date with pyproject.toml"
fi

# --- System tools for the local Kafka broker and Redis ------------------------------------------
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        log "installing ${missing[*]} with apt-get"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "warning: missing ${missing[*]}; integration tests need them:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    fi
fi
