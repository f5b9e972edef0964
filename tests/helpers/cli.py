"""The `orientation` command, run as a user runs it: a separate process on the test database."""

import os
import subprocess
import sys
from pathlib import Path

ORIENTATION = str(Path(sys.executable).parent / "orientation")
# The command runs this checkout's code, whichever checkout the virtualenv was installed from.
CHECKOUT = str(Path(__file__).resolve().parents[2])


def command_env(**variables: str) -> dict[str, str]:
    pythonpath = os.pathsep.join(p for p in (CHECKOUT, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": pythonpath, **variables}


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = command_env(ORIENTATION_DATABASE_URL=database_url)
    return subprocess.run([ORIENTATION, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
