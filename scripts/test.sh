#!/usr/bin/env bash
# Installs the project (in .venv), checks it with ruff (lint, format) and mypy (types of
# app/), then runs the whole test suite twice: on SQLite, then on PostgreSQL. PostgreSQL is
# taken at $ORIENTATION_TEST_POSTGRES_URL, by default the local server (127.0.0.1:5432, user
# postgres, database test). Without one the PostgreSQL run is skipped with a warning, unless
# ORIENTATION_REQUIRE_POSTGRES=1 (set by CI), then it fails.
# Extra arguments go to pytest: scripts/test.sh -k residency
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

echo "=== Lint and format (ruff)"
.venv/bin/ruff check app tests bench scripts migrations
.venv/bin/ruff format --check app tests bench scripts migrations

echo "=== Types (mypy, configured in pyproject.toml)"
.venv/bin/mypy

PG_URL="${ORIENTATION_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
status=0

echo "=== Tests on SQLite"
ORIENTATION_TEST_DATABASE_URL="sqlite" .venv/bin/python -m pytest "$@" || status=$?

echo "=== Tests on PostgreSQL ($PG_URL)"
if .venv/bin/python scripts/wait_for_db.py "$PG_URL"; then
  ORIENTATION_TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest "$@" || status=$?
elif [ "${ORIENTATION_REQUIRE_POSTGRES:-0}" = "1" ]; then
  echo "PostgreSQL was required (ORIENTATION_REQUIRE_POSTGRES=1) but is unreachable: failing." >&2
  status=1
else
  echo "WARNING: PostgreSQL unreachable at $PG_URL: PostgreSQL run SKIPPED." >&2
fi
exit $status
