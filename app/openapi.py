"""The OpenAPI document kept in openapi/openapi.json (a test checks it is current)."""

import json

from app.core.settings import Settings


def render_openapi() -> str:
    from app.main import create_app

    # An in-memory database: describing the API must not create files or need a server.
    app = create_app(Settings(database_url="sqlite:///:memory:", ban_url=None))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
