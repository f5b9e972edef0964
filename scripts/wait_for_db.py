"""Exit 0 when the database at the given URL answers (trying for a few seconds), 1 otherwise."""

import sys
import time

from sqlalchemy import create_engine, text


def reachable(url: str, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    engine = create_engine(url, connect_args={"connect_timeout": 3} if "postgresql" in url else {})
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return True
            except Exception as exc:
                if time.monotonic() > deadline:
                    print(f"database unreachable: {type(exc).__name__}", file=sys.stderr)
                    return False
                time.sleep(1)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(0 if reachable(sys.argv[1]) else 1)
