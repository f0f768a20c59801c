"""graceful-e2e: the sample paths as a plain ASGI app (standard library only), served by uvicorn."""
import asyncio
from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    status = 200
    if path in ("/", "/healthz"):
        body = b"ok\n"
    elif path == "/slow":
        values = parse_qs(scope.get("query_string", b"").decode()).get("ms", ["0"])
        ms = min(int(values[0]), 600000) if values[0].isdigit() else 0
        await asyncio.sleep(ms / 1000)
        body = b"slept %dms\n" % ms
    else:
        status, body = 404, b"not found\n"
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
