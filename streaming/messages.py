"""What the server's WebSocket endpoints share: client errors and JSON control messages (``docs/PROTOCOL.md``)."""

from __future__ import annotations

import json


class ProtocolError(Exception):
    """A client error: sent as ``{"type": "error"}``; ``close`` (a 4xxx code) when fatal to the session or call."""

    def __init__(self, code: str, message: str, close: int | None = None) -> None:
        super().__init__(message)
        self.code, self.close = code, close


def error_message(code: str, message: str) -> str:
    return json.dumps({"type": "error", "code": code, "message": message})


def parse_message(message: str | bytes) -> dict:
    """A text message as a JSON object, or a ``bad_json`` error."""
    if isinstance(message, bytes):
        raise ProtocolError("bad_json", "control messages are JSON text", 4400)
    try:
        value = json.loads(message)
    except json.JSONDecodeError as error:
        raise ProtocolError("bad_json", f"malformed JSON ({error.msg})", 4400) from None
    if not isinstance(value, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object", 4400)
    return value
