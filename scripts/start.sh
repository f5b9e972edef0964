#!/usr/bin/env bash
# Installs the project (in .venv), creates the SQLite database under ./var with the demo
# territories, and serves http://127.0.0.1:8000. Extra arguments go to `orientation serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
.venv/bin/orientation demo
# The demo opens /fhir without a client certificate so that the README's curl examples work;
# `serve` says so loudly. Never on a real deployment: there the SAS proves itself (tls, proxy).
export ORIENTATION_FHIR_CLIENT_AUTH="${ORIENTATION_FHIR_CLIENT_AUTH:-none}"
exec .venv/bin/orientation serve --with-worker "$@"
