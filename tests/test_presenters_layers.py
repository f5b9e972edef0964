"""Pages and endpoints do not query: they call services, and only repositories touch the
database (issue 11). An AST scan of app/web/*.py and every endpoints module: no SQLAlchemy
query API, no query run on a session, no repository function called (a repository's
`…Filters` dataclasses, the parameters of a service, are allowed)."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
# The SQL builders and raw-text API of SQLAlchemy: importing any of them means writing a query.
QUERY_API = {
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "func",
    "and_",
    "or_",
    "exists",
    "union",
    "union_all",
    "literal",
    "column",
    "table",
}
# What a page or an endpoint would call on its session (or a connection) to run one.
SESSION_QUERIES = {"execute", "scalars", "scalar", "get", "get_one", "query", "exec_driver_sql"}
RECEIVERS = {"session", "db", "connection", "conn"}


def layer_modules() -> list[Path]:
    pages = sorted((APP / "web").glob("*.py"))
    endpoints = sorted(p for p in APP.glob("*/*.py") if p.name == "endpoints.py" or p.name.endswith("_endpoints.py"))
    return pages + endpoints


def query_uses(source: str) -> list[str]:
    """Where a module imports SQLAlchemy's query API or runs a query on a session."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if a.name in QUERY_API]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if a.name.startswith("sqlalchemy")]
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("repository"):
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if not a.name.endswith("Filters")]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        ):
            receiver, called = node.func.value.id, node.func.attr
            if receiver in RECEIVERS and called in SESSION_QUERIES:
                found.append(f"line {node.lineno}: {receiver}.{called}(…)")
            elif receiver.endswith("repository") and not called.endswith("Filters"):
                found.append(f"line {node.lineno}: {receiver}.{called}(…), not through a service")
    return found


def test_the_scan_covers_the_pages_and_every_endpoints_module():
    names = {str(p.relative_to(APP)) for p in layer_modules()}
    assert {"web/request_pages.py", "web/snp_pages.py", "snp/endpoints.py", "fhir/endpoints.py"} <= names
    assert "requests/reporting_endpoints.py" in names


@pytest.mark.parametrize("path", layer_modules(), ids=lambda p: str(p.relative_to(APP)))
def test_pages_and_endpoints_do_not_query_the_database(path: Path):
    assert query_uses(path.read_text(encoding="utf-8")) == [], (
        f"{path.relative_to(APP)} queries the database itself: move the query into the domain's "
        "repository.py (scoped through app/accounts/access.py) and call it through a service"
    )


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select\n",
        "from sqlalchemy.sql import func\n",
        "import sqlalchemy\n",
        "def page(session):\n    return session.execute(query)\n",
        "def page(db):\n    return db.get(Doctor, 1)\n",
        "def page(session):\n    return session.scalars(q).all()\n",
        "def page(session, principal):\n    return repository.list_slots(session, principal, f)\n",
        "def page(session):\n    return doctors_repository.get_unscoped(session, 1)\n",
        "from app.snp.repository import list_slots\n",
    ],
)
def test_the_scan_catches_a_query(source: str):
    assert query_uses(source)


def test_the_scan_lets_types_and_services_through():
    source = (
        "from sqlalchemy.orm import Session\n"
        "from sqlalchemy.exc import IntegrityError\n"
        "from app.snp.repository import SlotFilters\n"
        "def page(session: Session, request):\n"
        "    request.query_params.get('x')\n"
        "    filters = repository.QueueFilters(cpts='grand-arras')\n"
        "    return service.get_request(session, 1)\n"
    )
    assert query_uses(source) == []
