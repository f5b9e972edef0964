"""Even at LOG_LEVEL=DEBUG, the libraries that would log patients' data stay quiet."""

import logging

import pytest

from app.core.logging import configure_logging


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    names = ("sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm", "httpx")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_debug_logging_never_lets_sql_parameters_or_rows_through(restored_logging):
    # What an operator might have turned up, e.g. to look at the queries.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    configure_logging("DEBUG")
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    for name in ("sqlalchemy.engine", "sqlalchemy.engine.Engine", "sqlalchemy.pool", "sqlalchemy.orm", "httpx"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
