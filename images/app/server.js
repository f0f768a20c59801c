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
//                            500 (default 0), so a harness can check it counts exactly N failures;
//                            the harness's probes (header x-graceful-e2e-probe: the warm-up) are not
//                            counted, so the N failures start after the warm-up and land in the load
//   APP_PROTOCOL             http1 (default) | http2 | grpc | websocket: what the port speaks besides
//                            HTTP/1.1 (which always answers /healthz, for readiness probes):
//                            http2     cleartext HTTP/2 with prior knowledge (h2c) on the same port: a
//                                      connection that starts with the HTTP/2 preface is HTTP/2
//                            grpc      the gRPC services graceful.Echo (fixtures/proto/graceful.proto)
//                                      and grpc.health.v1.Health's Check (fixtures/proto/health.proto:
//                                      SERVING, NOT_SERVING once draining), @grpc/grpc-js, on the same
//                                      port, detected the same way
//                            websocket an echo WebSocket on any path (HTTP/1.1 upgrade)
//   H2_GOAWAY                http2: "off" = the broken variant: no GOAWAY at SIGTERM; the open
//                            connections keep taking new streams until the process exits
//   GRPC_SHUTDOWN            grpc: "graceful" (default: tryShutdown, GOAWAY then finish the calls) |
//                            "force" (forceShutdown: every call in flight is cancelled)
//   WS_PUSH_MS               websocket: also push {"push":N} to every socket every this many ms (default
//                            0: none), until its close: a server that pushes (load.websocket.expect none)
//   WS_CLOSE                 websocket: "going-away" (default: close 1001 once a socket's pending
//                            echoes are sent) | "abrupt" (destroy the sockets: clients see 1006)
//
// http2, grpc and websocket need @grpc/grpc-js and ws: images carry them bundled in
// vendor/protocols.cjs next to this file (src/images/app-vendor.ts builds it).

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
  const http2 = await import("node:http2");
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
  const protocol = (process.env.APP_PROTOCOL || "http1").toLowerCase();
  if (!["http1", "http2", "grpc", "websocket"].includes(protocol)) {
    throw new Error(`APP_PROTOCOL must be http1, http2, grpc or websocket, got ${process.env.APP_PROTOCOL}`);
  }
  const h2Goaway = (process.env.H2_GOAWAY || "on").toLowerCase() !== "off";
  const grpcShutdown = (process.env.GRPC_SHUTDOWN || "graceful").toLowerCase();
  if (!["graceful", "force"].includes(grpcShutdown)) {
    throw new Error(`GRPC_SHUTDOWN must be graceful or force, got ${process.env.GRPC_SHUTDOWN}`);
  }
  const wsPushMs = intEnv("WS_PUSH_MS", 0);
  const wsClose = (process.env.WS_CLOSE || "going-away").toLowerCase();
  if (!["going-away", "abrupt"].includes(wsClose)) {
    throw new Error(`WS_CLOSE must be going-away or abrupt, got ${process.env.WS_CLOSE}`);
  }

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
    protocol,
    ...(protocol === "http2" ? { h2Goaway } : {}),
    ...(protocol === "grpc" ? { grpcShutdown } : {}),
    ...(protocol === "websocket" ? { wsClose } : {}),
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

  // The other protocol's server, unless APP_PROTOCOL is http1. Its connections are counted apart
  // from the HTTP/1.1 ones: `connections` holds HTTP/1.1 sockets only.
  const proto = await startProtocol();

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
    const probe = req.headers["x-graceful-e2e-probe"] !== undefined;
    if (failFirstN > 0 && url.pathname !== "/healthz" && !probe && counted < failFirstN) {
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

  const openConnections = () => connections.size + (proto ? proto.connections() : 0);
  const allInFlight = () => inFlight + (proto ? proto.inFlight() : 0);

  function startDrain() {
    phase = "draining";
    log("drain-start", { openConnections: openConnections(), inFlight: allInFlight() });
    // Close only the listening socket. Not server.close(): since Node 19 http.Server#close()
    // also closes every idle keep-alive connection at once (see armIdleClose for why not).
    net.Server.prototype.close.call(proto?.listener ?? server);
    log("listener-closed", { openConnections: openConnections(), inFlight: allInFlight() });
    for (const [socket, state] of connections) {
      if (state.inFlight === 0) armIdleClose(socket, state);
    }
    // HTTP/2: GOAWAY; gRPC: tryShutdown / forceShutdown; WebSocket: close 1001 / destroy.
    proto?.drain();
    setTimeout(() => finish("timeout"), drainTimeoutMs);
    finishIfIdle();
  }

  function finishIfIdle() {
    if (phase === "draining" && openConnections() === 0) finish("idle");
  }

  function finish(reason) {
    if (finished) return;
    finished = true;
    log("drain-end", { reason, openConnections: openConnections(), inFlight: allInFlight() });
    process.exit(0);
  }

  // ---- the other protocols ------------------------------------------------------------------

  /** The libraries the other protocols need: bundled next to this file in the images. */
  async function loadVendor() {
    try {
      const mod = await import("./vendor/protocols.cjs");
      return mod.default ?? mod;
    } catch (err) {
      throw new Error(
        `APP_PROTOCOL=${protocol} needs vendor/protocols.cjs next to server.js (built by src/images/app-vendor.ts ` +
          `with every sample image; in a checkout: npx graceful-e2e images build): ${err?.message ?? err}`,
      );
    }
  }

  /** The delay a request asks for (/slow?ms=N, delay_ms, a WebSocket message's delayMs), bounded. */
  function boundedDelay(ms) {
    return Math.min(Math.max(Number(ms) || 0, 0), 600000);
  }

  async function startProtocol() {
    if (protocol === "http1") return undefined;
    if (protocol === "websocket") return startWebSocket(await loadVendor());
    const vendor = protocol === "grpc" ? await loadVendor() : undefined;
    const h2 = protocol === "http2" ? startHttp2() : startGrpc(vendor);
    // One port for both: a connection that starts with the HTTP/2 preface goes to HTTP/2 (h2c
    // with prior knowledge, as gRPC clients speak it), anything else to the HTTP/1.1 server.
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    const listener = net.createServer((socket) => {
      let head = Buffer.alloc(0);
      const onData = (chunk) => {
        head = Buffer.concat([head, chunk]);
        const n = Math.min(head.length, preface.length);
        const isH2 = head.subarray(0, n).equals(preface.subarray(0, n));
        if (isH2 && head.length < preface.length) return; // a prefix of the preface: read on
        socket.removeListener("data", onData);
        socket.pause();
        socket.unshift(head);
        if (isH2) {
          deferEnd(socket);
          // HTTP/2 reads what was unshifted from the socket's buffer itself: no resume here
          // (resuming would emit those bytes to nobody).
          h2.accept(socket);
        } else {
          server.emit("connection", socket);
          socket.resume();
        }
      };
      socket.on("data", onData);
      socket.on("error", () => {});
    });
    listener.on("error", (err) => {
      log("error", { message: err.message, code: err.code });
      process.exit(1);
    });
    return { listener, ...h2 };
  }

  // Measured on Node 18 (the images' Debian node, 18.20): when a drained HTTP/2 session's last
  // stream ends, Node ends the socket before nghttp2 has written that stream's last frames, and
  // they are lost. With grpc-js's tryShutdown about one connection in four lost its last answer
  // (the client: UNAVAILABLE "Connection dropped"); the same app on Node 20 lost none. Ending the
  // socket one turn of the event loop later lets those frames out first.
  function deferEnd(socket) {
    const end = socket.end.bind(socket);
    socket.end = (...args) => {
      setImmediate(() => end(...args));
      return socket;
    };
  }

  function startHttp2() {
    const h2server = http2.createServer({ settings: { enablePush: false } });
    const sessions = new Set();
    let streams = 0;
    h2server.on("session", (session) => {
      sessions.add(session);
      session.on("close", () => {
        sessions.delete(session);
        finishIfIdle();
      });
      session.on("error", () => {});
    });
    h2server.on("stream", (stream, headers) => {
      streams++;
      let done = false;
      stream.on("close", () => {
        if (!done) {
          done = true;
          streams--;
        }
      });
      stream.on("error", () => {});
      const url = new URL(headers[":path"] || "/", "http://app.invalid");
      const answer = (status, body) => {
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ":status": status, "x-served-by": servedBy, "content-type": "text/plain; charset=utf-8" });
        stream.end(body);
      };
      if (url.pathname === "/") answer(200, "ok\n");
      else if (url.pathname === "/slow") {
        const ms = boundedDelay(url.searchParams.get("ms"));
        setTimeout(() => answer(200, `slept ${ms}ms\n`), ms);
      } else if (url.pathname === "/healthz")
        answer(phase === "serving" ? 200 : 503, phase === "serving" ? "ok\n" : "draining\n");
      else answer(404, "not found\n");
    });
    return {
      accept: (socket) => h2server.emit("connection", socket),
      connections: () => sessions.size,
      inFlight: () => streams,
      drain() {
        if (!h2Goaway) {
          // The broken variant: what http2.Server#close() alone does. The open connections keep
          // taking new streams (clients are not told to go), until the process exits under them.
          log("goaway-skipped", { sessions: sessions.size, inFlight: streams });
          return;
        }
        // GOAWAY (last stream id = the last one accepted): clients open new connections for new
        // streams; the streams already accepted are answered, then each connection closes.
        log("goaway-sent", { sessions: sessions.size, inFlight: streams });
        for (const session of sessions) session.close();
      },
    };
  }

  function startGrpc(vendor) {
    const { grpc } = vendor;
    const echo = grpc.loadPackageDefinition(vendor.echoPackageDefinition()).graceful.Echo;
    const grpcServer = new grpc.Server();
    let calls = 0;
    const sockets = new Set();
    grpcServer.addService(echo.service, {
      Say(call, callback) {
        calls++;
        let done = false;
        const end = () => {
          if (done) return false;
          done = true;
          calls--;
          return true;
        };
        call.on("cancelled", end);
        const md = new grpc.Metadata();
        md.set("x-served-by", servedBy);
        call.sendMetadata(md);
        const ms = boundedDelay(call.request.delay_ms);
        const reply = () => {
          if (end()) callback(null, { message: call.request.message, served_by: servedBy });
        };
        if (ms > 0) setTimeout(reply, ms);
        else reply();
      },
    });
    // The standard health service (the grpc load's default method), as grpc-go's health server
    // behaves: SERVING, then NOT_SERVING from the drain on (the calls themselves are still served).
    let healthStatus = "SERVING";
    const health = grpc.loadPackageDefinition(vendor.healthPackageDefinition()).grpc.health.v1.Health;
    grpcServer.addService(health.service, {
      Check(call, callback) {
        const md = new grpc.Metadata();
        md.set("x-served-by", servedBy);
        call.sendMetadata(md);
        if (call.request.service !== "") callback({ code: grpc.status.NOT_FOUND, details: "unknown service" });
        else callback(null, { status: healthStatus });
      },
    });
    const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    return {
      accept(socket) {
        sockets.add(socket);
        socket.on("close", () => {
          sockets.delete(socket);
          finishIfIdle();
        });
        injector.injectConnection(socket);
      },
      connections: () => sockets.size,
      inFlight: () => calls,
      drain() {
        healthStatus = "NOT_SERVING";
        log("grpc-shutdown", { mode: grpcShutdown, connections: sockets.size, inFlight: calls });
        if (grpcShutdown === "force") {
          // Every session destroyed at once: the calls in flight are cancelled.
          grpcServer.forceShutdown();
          return;
        }
        // GOAWAY to every connection; the calls already started finish; then the callback.
        grpcServer.tryShutdown(() => {
          log("grpc-shutdown-done", { connections: sockets.size, inFlight: calls });
          finishIfIdle();
        });
      },
    };
  }

  function startWebSocket(vendor) {
    const wss = new vendor.WebSocketServer({ noServer: true });
    const clients = new Map();
    // Messages answered by nobody: they arrived after this side sent its close frame (RFC 6455: no
    // data frame may follow it), or their socket went away while their echo was pending.
    let unanswered = 0;
    wss.on("headers", (headers) => headers.push(`x-served-by: ${servedBy}`));
    server.on("upgrade", (req, socket, head) => {
      // An upgraded socket is not an HTTP/1.1 connection any more: no idle close for it.
      const state = connections.get(socket);
      if (state) clearTimeout(state.idleTimer);
      connections.delete(socket);
      if (phase !== "serving" && phase !== "terminating") {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        // pending: echoes not sent yet; awaited: those of them received before the drain began.
        const client = { pending: new Set(), awaited: undefined, closing: false };
        clients.set(ws, client);
        if (wsPushMs > 0) {
          let pushes = 0;
          const pusher = setInterval(() => {
            if (!client.closing && ws.readyState === 1) ws.send(JSON.stringify({ push: ++pushes }));
          }, wsPushMs);
          ws.on("close", () => clearInterval(pusher));
        }
        ws.on("message", (data) => {
          if (client.closing || ws.readyState !== 1) {
            unanswered++;
            return;
          }
          let delay = 0;
          try {
            delay = boundedDelay(JSON.parse(data.toString()).delayMs);
          } catch {
            // not JSON: echoed at once
          }
          const echo = {};
          client.pending.add(echo);
          setTimeout(() => {
            client.pending.delete(echo);
            if (ws.readyState === 1) ws.send(data);
            else unanswered++;
            if (client.awaited?.delete(echo) && client.awaited.size === 0) goAway(ws, client);
          }, delay);
        });
        ws.on("error", () => {});
        ws.on("close", () => {
          clients.delete(ws);
          if (phase === "draining" && clients.size === 0) log("ws-closed", { unanswered });
          finishIfIdle();
        });
      });
    });
    function goAway(ws, client) {
      if (client.closing) return;
      client.closing = true;
      // Echoes still pending now (received after the drain began) can never be sent: after its
      // close frame an endpoint sends no data frame (RFC 6455 §5.5.1). Only the client can resend.
      unanswered += client.pending.size;
      ws.close(1001, "going away");
      // A peer that never answers the close frame must not hold the drain open.
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    return {
      listener: server,
      connections: () => clients.size,
      inFlight: () => [...clients.values()].reduce((n, c) => n + c.pending.size, 0),
      drain() {
        log("ws-close", { mode: wsClose, sockets: clients.size });
        for (const [ws, client] of clients) {
          if (wsClose === "abrupt") {
            // No close frame: the socket is destroyed; clients see 1006 and lose what was pending.
            ws.terminate();
          } else if (client.pending.size === 0) {
            goAway(ws, client);
          } else {
            // 1001 once the echoes of the messages received so far are sent (the message handler).
            client.awaited = new Set(client.pending);
          }
        }
      },
      unanswered: () => unanswered,
    };
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
  const listener = proto?.listener ?? server;
  listener.listen(port, host, () => {
    const address = listener.address();
    log("listening", { port: typeof address === "object" && address ? address.port : port, host });
  });
}

main().catch((err) => {
  process.stderr.write(`server.js: ${err?.stack ?? err}\n`);
  process.exit(1);
});
