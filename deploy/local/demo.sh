#!/usr/bin/env bash
# The demo command: bash deploy/local/demo.sh [nextbest demo options...]
#
# Starts (or reuses) a local Kafka broker and Redis, a nextbest worker and a simulated shop's
# traffic, and shows a live dashboard until Ctrl-C. See `nextbest demo --help` for the options.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$VENV/bin/nextbest" demo "$@"
