"""graceful-e2e test server: gRPC with grpc.health.v1.Health/Check only (Debian's python3-grpcio).

What a well-kept Python gRPC service does at SIGTERM, as grpc's own examples and grpc-go's health
server do it: the health status turns NOT_SERVING at once (probes and balancers stop sending traffic)
while calls are still answered for DRAIN_SECONDS (the endpoint's removal has to propagate), then
server.stop(STOP_GRACE_SECONDS): no new calls (GOAWAY), the calls in flight finish, the process exits 0.

Environment: PORT (default 8080), DRAIN_SECONDS (default 2), STOP_GRACE_SECONDS (default 5).
No protobuf runtime: the two messages are one field each, read and written by hand.
"""
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

SERVING, NOT_SERVING = 1, 2
PORT = int(os.environ.get("PORT", "8080"))
DRAIN_SECONDS = float(os.environ.get("DRAIN_SECONDS", "2"))
STOP_GRACE_SECONDS = float(os.environ.get("STOP_GRACE_SECONDS", "5"))

status = SERVING
stopping = threading.Event()


def log(what):
    print(f"{time.time():.3f} grpc-health[{os.getpid()}]: {what}", flush=True)


def service_of(request: bytes) -> str:
    """HealthCheckRequest.service (field 1, length-delimited); "" when absent."""
    if not request or request[0] != 0x0A:
        return ""
    length, i, shift = 0, 1, 0
    while True:
        b = request[i]
        length |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if b < 0x80:
            break
    return request[i : i + length].decode("utf-8")


def check(request: bytes, context) -> bytes:
    if service_of(request) != "":
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
    # HealthCheckResponse.status (field 1, varint).
    return bytes([0x08, status])


def main():
    global status
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    handler = grpc.unary_unary_rpc_method_handler(check)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler}),))
    server.add_insecure_port(f"0.0.0.0:{PORT}")
    server.start()
    log(f"serving grpc.health.v1.Health on :{PORT}")
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while not stopping.wait(0.5):
        pass
    status = NOT_SERVING
    log(f"SIGTERM: NOT_SERVING, answering for {DRAIN_SECONDS} s")
    time.sleep(DRAIN_SECONDS)
    log(f"stopping (grace {STOP_GRACE_SECONDS} s)")
    server.stop(STOP_GRACE_SECONDS).wait()
    log("stopped")
    sys.exit(0)


if __name__ == "__main__":
    main()
