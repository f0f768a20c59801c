// graceful-e2e sample app: a plain Node HTTP server (no dependencies, Node 18+) that logs every
// lifecycle event as one JSON line on stdout and drains gracefully on SIGTERM.
//
// This file must load both as CommonJS (in the images: /app/server.js has no package.json next to
// it) and as an ES module (in this repository, whose package.json says "type": "module"). Neither
// `require` nor static `import` works in both, dynamic `import()` does: hence main() below.
//
// Environment:
//   PORT                     port to listen on (default 8080; 0 = any free port, see the "listening" line)
//   HOST                     bind address (default 0.0.0.0)
//   APP_ROLE                 process name carried by every log line and x-served-by (default "app")
//   SIGTERM_HANDLER          "off" = install no SIGTERM handler at all (default on)
//   LISTENER_CLOSE_DELAY_MS  after SIGTERM keep accepting new connections this long (default 0)
//   IDLE_CLOSE_MS            while draining, close a connection once idle this long (default 1000)
//   DRAIN_TIMEOUT_MS         exit at the latest this long after the listener closed (default 20000)
//   FAULT_AFTER_SIGTERM      test switch: fail the first request answered after termination began
//                            (reset | close | 500)
//   FAIL_FIRST_N             test switch: answer the first N requests to any path but /healthz with
//                            500 (default 0), so a harness can check it counts exactly N failures

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return Math.floor(n);
}

async function main() {
  const fs = await import("node:fs");
  const http = await import("node:http");
  const net = await import("node:net");
  const os = await import("node:os");

  const role = process.env.APP_ROLE || "app";

  // One JSON line per event, written synchronously to fd 1 so that no line is lost when the
  // process exits right after logging (process.stdout may be asynchronous for pipes).
  function log(event, fields) {
    const line = `${JSON.stringify({ t: Date.now(), event, pid: process.pid, ppid: process.ppid, role, ...fields })}\n`;
    const buf = Buffer.from(line);
    let offset = 0;
    let spins = 0;
    while (offset < buf.length) {
      try {
        offset += fs.writeSync(1, buf, offset);
      } catch (err) {
        // A non-blocking stdout whose reader is slow: retry for a bounded time, then give up.
        if (err && err.code === "EAGAIN" && spins++ < 100000) continue;
        return;
      }
    }
  }

  const port = intEnv("PORT", 8080);
  const host = process.env.HOST || "0.0.0.0";
  const listenerCloseDelayMs = intEnv("LISTENER_CLOSE_DELAY_MS", 0);
  const idleCloseMs = intEnv("IDLE_CLOSE_MS", 1000);
  const drainTimeoutMs = intEnv("DRAIN_TIMEOUT_MS", 20000);
  const sigtermHandler = (process.env.SIGTERM_HANDLER || "on").toLowerCase() !== "off";
  // Test switch: the first request answered after the termination began fails on purpose
  // (reset | close | 500), so a suite can prove that exactly one failed request is detected.
  let faultAfterSigterm = (process.env.FAULT_AFTER_SIGTERM || "").toLowerCase();
  const servedBy = `${process.env.HOSTNAME || os.hostname()}/${role}`;
  // Test switch: the first FAIL_FIRST_N requests (readiness probes on /healthz excluded) get a 500.
  const failFirstN = intEnv("FAIL_FIRST_N", 0);
  let counted = 0;

  // serving → terminating (a terminating signal arrived; /healthz says 503, the listener still
  // accepts during LISTENER_CLOSE_DELAY_MS) → draining (listener closed, connections wind down).
  let phase = "serving";
  /** @type {Map<import("node:net").Socket, { inFlight: number, idleTimer: NodeJS.Timeout | undefined }>} */
  const connections = new Map();
  let inFlight = 0;
  let finished = false;

  process.on("exit", (code) => log("exit", { code }));

  log("start", {
    port,
    host,
    node: process.version,
    sigtermHandler,
    listenerCloseDelayMs,
    idleCloseMs,
    drainTimeoutMs,
  });

  const server = http.createServer(handleRequest);
  // Longer than any load window: during normal operation the server never closes an idle
  // keep-alive connection by itself (which would race with the client's next request).
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;

  server.on("connection", (socket) => {
    const state = { inFlight: 0, idleTimer: undefined };
    connections.set(socket, state);
    socket.on("close", () => {
      clearTimeout(state.idleTimer);
      connections.delete(socket);
      finishIfIdle();
    });
    if (phase === "draining") armIdleClose(socket, state);
  });

  function handleRequest(req, res) {
    const socket = req.socket;
    const state = connections.get(socket);
    if (state) {
      state.inFlight++;
      clearTimeout(state.idleTimer);
      state.idleTimer = undefined;
    }
    inFlight++;
    let done = false;
    const onDone = () => {
      if (done) return;
      done = true;
      inFlight--;
      if (state) {
        state.inFlight--;
        if (phase === "draining" && state.inFlight === 0 && !socket.destroyed) armIdleClose(socket, state);
      }
    };
    res.on("finish", onDone);
    res.on("close", onDone);

    const url = new URL(req.url || "/", "http://app.invalid");
    if (failFirstN > 0 && url.pathname !== "/healthz" && counted < failFirstN) {
      counted++;
      if (counted === failFirstN) log("fail-first-n-done", { n: failFirstN });
      sendPlain(res, 500, "injected fault (FAIL_FIRST_N)\n");
      return;
    }
    if (url.pathname === "/") {
      send(res, 200, "ok\n");
    } else if (url.pathname === "/slow") {
      const ms = Math.min(Math.max(Number(url.searchParams.get("ms")) || 0, 0), 600000);
      setTimeout(() => send(res, 200, `slept ${ms}ms\n`), ms);
    } else if (url.pathname === "/healthz") {
      if (phase === "serving") send(res, 200, "ok\n");
      else send(res, 503, "draining\n");
    } else {
      send(res, 404, "not found\n");
    }
  }

  // Like send() without the FAULT_AFTER_SIGTERM handling: FAIL_FIRST_N answers are counted on their own.
  function sendPlain(res, status, body) {
    if (res.writableEnded || res.destroyed) return;
    res.setHeader("x-served-by", servedBy);
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.setHeader("content-length", Buffer.byteLength(body));
    if (phase === "draining") res.setHeader("connection", "close");
    res.writeHead(status);
    res.end(body);
  }

  function send(res, status, body) {
    if (res.writableEnded || res.destroyed) return;
    if (faultAfterSigterm && phase !== "serving" && status !== 503) {
      const fault = faultAfterSigterm;
      faultAfterSigterm = "";
      log("fault-injected", { fault });
      const socket = res.socket;
      if (fault === "reset") return socket.resetAndDestroy ? socket.resetAndDestroy() : socket.destroy();
      if (fault === "close") return socket.end();
      status = 500;
      body = "injected fault\n";
    }
    res.setHeader("x-served-by", servedBy);
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.setHeader("content-length", Buffer.byteLength(body));
    // Decided when the answer is written, not when the request arrived: a /slow request that
    // started before the listener closed still tells its client to go away. Node closes the
    // socket after a response carrying Connection: close, and the client knows not to reuse it,
    // so this is the race-free way to move a keep-alive client off this process.
    if (phase === "draining") res.setHeader("connection", "close");
    res.writeHead(status);
    res.end(body);
  }

  // Why idle keep-alive connections are NOT closed at SIGTERM: measured on real Kubernetes, a
  // keep-alive connection opened before the pod was deleted stays pinned to the terminating pod
  // (kube-proxy only steers new connections). A client that sends its next request on such a
  // connection at the very moment the server closes it loses that request: the request crosses
  // the server's FIN on the wire and the client gets a reset / "socket hang up". Closing every
  // idle socket at SIGTERM (what http.Server.close() does since Node 19, and
  // server.closeIdleConnections()) therefore drops one request per busy connection. Instead a
  // connection is closed only after it has been idle for IDLE_CLOSE_MS during draining: a client
  // that keeps sending gets Connection: close on its next answer (no race), and a connection
  // idle that long is very unlikely to carry a request at the instant we close it.
  function armIdleClose(socket, state) {
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => {
      if (state.inFlight > 0) return;
      socket.end();
      // A peer that never answers our FIN must not hold the drain open.
      setTimeout(() => socket.destroy(), 1000).unref();
    }, idleCloseMs);
  }

  function beginTermination() {
    if (phase !== "serving") return;
    phase = "terminating";
    if (listenerCloseDelayMs > 0) setTimeout(startDrain, listenerCloseDelayMs);
    else startDrain();
  }

  function startDrain() {
    phase = "draining";
    log("drain-start", { openConnections: connections.size, inFlight });
    // Close only the listening socket. Not server.close(): since Node 19 http.Server#close()
    // also closes every idle keep-alive connection at once (see armIdleClose for why not).
    net.Server.prototype.close.call(server);
    log("listener-closed", { openConnections: connections.size, inFlight });
    for (const [socket, state] of connections) {
      if (state.inFlight === 0) armIdleClose(socket, state);
    }
    setTimeout(() => finish("timeout"), drainTimeoutMs);
    finishIfIdle();
  }

  function finishIfIdle() {
    if (phase === "draining" && connections.size === 0) finish("idle");
  }

  function finish(reason) {
    if (finished) return;
    finished = true;
    log("drain-end", { reason, openConnections: connections.size, inFlight });
    process.exit(0);
  }

  // Log every catchable signal worth knowing about; the terminating ones start the drain.
  const terminating = ["SIGINT", "SIGQUIT", "SIGHUP"];
  if (sigtermHandler) terminating.unshift("SIGTERM");
  const informational = ["SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT", "SIGALRM"];
  for (const signal of terminating) {
    process.on(signal, () => {
      log("signal", { signal, phase });
      beginTermination();
    });
  }
  for (const signal of informational) {
    process.on(signal, () => log("signal", { signal, phase }));
  }

  server.on("error", (err) => {
    log("error", { message: err.message, code: err.code });
    process.exit(1);
  });
  server.listen(port, host, () => {
    const address = server.address();
    log("listening", { port: typeof address === "object" && address ? address.port : port, host });
  });
}

main().catch((err) => {
  process.stderr.write(`server.js: ${err?.stack ?? err}\n`);
  process.exit(1);
});
