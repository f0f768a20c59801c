// The load: one entry point that starts the load of the scenario's protocol. Each protocol has its
// own module (HTTP/1.1: http1.ts; the long-lived ones: http2.ts, grpc.ts, websocket.ts); what they
// share lives below them (types.ts, window.ts, pacer.ts, accounting.ts), never here.
import type { LoadOptions } from "../scenario/schema.js";
import { startGrpcLoad } from "./grpc.js";
import { startHttp1Load } from "./http1.js";
import { startHttp2Load } from "./http2.js";
import type { LoadHooks, LoadRun, LoadTarget } from "./types.js";
import { startWebSocketLoad } from "./websocket.js";

export function startLoad(target: LoadTarget, opts: LoadOptions, hooks: LoadHooks = {}): LoadRun {
  switch (opts.protocol) {
    case "http2":
      return startHttp2Load(target, opts, hooks);
    case "grpc":
      return startGrpcLoad(target, opts, hooks);
    case "websocket":
      return startWebSocketLoad(target, opts, hooks);
    default:
      return startHttp1Load(target, opts, hooks);
  }
}
