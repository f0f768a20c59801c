"""graceful-e2e: the sample paths as a plain WSGI app (standard library only), served by gunicorn."""
import time


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path in ("/", "/healthz"):
        body = b"ok\n"
    elif path == "/slow":
        ms = 0
        for part in environ.get("QUERY_STRING", "").split("&"):
            key, _, value = part.partition("=")
            if key == "ms" and value.isdigit():
                ms = min(int(value), 600000)
        time.sleep(ms / 1000)
        body = b"slept %dms\n" % ms
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
