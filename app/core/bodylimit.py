"""Caps the size of request bodies, so that nobody fills the memory with one request."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LARGE_BODY_PATHS = ("/api/v1/doctors/import", "/espace/medecins/import")  # CSV uploads
LARGE_BODY_BYTES = 21 * 1024 * 1024
# The national directory's extraction (~760 MB): its own cap, DIRECTORY_UPLOAD_MAX_BYTES.
DIRECTORY_UPLOAD_PATH = "/espace/annuaire/import"


class BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, directory_upload_bytes: int = LARGE_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.directory_upload_bytes = directory_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == DIRECTORY_UPLOAD_PATH:
            limit = self.directory_upload_bytes
        else:
            limit = LARGE_BODY_BYTES if path.startswith(LARGE_BODY_PATHS) else self.max_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # a body sent without Content-Length, or lying about it
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await _too_large(send)


async def _too_large(send: Send) -> None:
    body = b'{"error":"payload_too_large","message":"Requ\\u00eate trop volumineuse.","fields":[]}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
