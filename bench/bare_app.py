"""The bare app of bench/load.py: uvicorn around generated.handle, nothing else.

    python -m uvicorn bench.bare_app:app

What the generated parsers allow on this machine: read the body, parse it, answer.
No token, no store, no log.
"""

from __future__ import annotations

import generated


async def app(scope, receive, send) -> None:  # noqa: ANN001 (ASGI)
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    status, headers, content = generated.handle("amplitude", body)
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    if status != 204:
        raw.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})
