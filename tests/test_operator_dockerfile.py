"""The Dockerfile, checked without a container engine (none is usable on this machine: see
README, "The container image"): its process runs as a non-root user, and its HEALTHCHECK's
command, run as it is against a live server, passes, and fails when nothing answers."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.helpers.operator import free_port, serving

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_image_runs_as_a_user_that_is_not_root():
    steps = instructions()
    users = [args for word, args in steps if word == "USER"]
    assert users, "no USER: the container would run as root"
    final = users[-1].split(":")[0]
    assert final not in ("root", "0")
    created = [args for word, args in steps if word == "RUN" and "useradd" in args]
    assert created and re.search(rf"\buseradd\b.*\b{re.escape(final)}\b", created[0])
    position = {word: i for i, (word, _) in enumerate(steps)}  # the last of each
    assert position["USER"] > position["RUN"]  # nothing runs as root after it
    assert position["USER"] < position["CMD"]


def _healthcheck_command(port: int) -> str:
    (args,) = [args for word, args in instructions() if word == "HEALTHCHECK"]
    command = args.split(" CMD ", 1)[1]
    assert "http://127.0.0.1:8000/healthz" in command
    return command.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(
        "python ", f"{shlex.quote(sys.executable)} ", 1
    )


def test_the_healthcheck_passes_on_a_live_server_and_fails_without_one(database_url, engine):
    port = free_port()
    command = _healthcheck_command(port)
    assert subprocess.run(command, shell=True, capture_output=True, timeout=30).returncode != 0
    with serving("--port", str(port), url=f"http://127.0.0.1:{port}", ORIENTATION_DATABASE_URL=database_url):
        assert subprocess.run(command, shell=True, capture_output=True, timeout=30).returncode == 0
