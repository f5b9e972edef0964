"""What the operator's tests share: free ports, `orientation serve` as a real process, and
scratch PostgreSQL databases (named test_operator_…, created and dropped by the test)."""

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.database import build_engine
from tests.helpers.cli import ORIENTATION, command_env


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def serving(*args: str, url: str, ready: str = "/healthz", **variables: str) -> Iterator[subprocess.Popen[str]]:
    """`orientation serve ARGS` with the environment's variables, until `url + ready` answers."""
    server = subprocess.Popen(
        [ORIENTATION, "serve", *args],
        env=command_env(**variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + ready, timeout=1, verify=False)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise AssertionError(server.stdout.read() if server.stdout else "server stopped") from None
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield server
    finally:
        server.terminate()
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


@contextmanager
def scratch_postgres(base_url: str, purpose: str) -> Iterator[str]:
    """An empty database on base_url's server, dropped afterwards: its URL."""
    name = f"test_operator_{purpose}_{uuid.uuid4().hex[:8]}"
    server = make_url(base_url)
    admin = build_engine(server.set(database="postgres").render_as_string(hide_password=False))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
