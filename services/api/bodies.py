"""Request bodies read up to a limit and no further, before anything else looks at them."""

from fastapi import Request


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it proves longer than `limit` bytes: a declared
    length above it is refused before a byte is read, and never more than `limit + 1` bytes
    are read or kept."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk[: limit + 1 - len(body)]
        if len(body) > limit:
            return None
    return bytes(body)
