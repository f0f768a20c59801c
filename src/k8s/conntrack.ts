// Which pod each client connection went to, from the node's connection tracking table (pure: no I/O).
//
// On kind, load reaches a pod as 127.0.0.1:<port> → docker-proxy (one NEW upstream connection per
// client connection, from the kind network's gateway) → node:<NodePort> → kube-proxy's DNAT to
// <pod IP>:<container port> (+ MASQUERADE). The node's conntrack therefore holds one entry per client
// connection: orig src=<gateway> sport=<docker-proxy port> dst=<node> dport=<NodePort>, reply
// src=<pod IP> sport=<container port>. The reply source names the pod, for any image.
//
// Lines are conntrack-tools' default output (libnetfilter_conntrack's snprintf), as printed by
// `conntrack -E -o timestamp` (events) and `conntrack -L` (the table):
//   [1718000000.123456]	    [NEW] tcp      6 120 SYN_SENT src=172.18.0.1 dst=172.18.0.2 sport=40312 dport=30080 [UNREPLIED] src=10.244.1.5 dst=10.244.0.1 sport=8080 dport=40312
//   [1718000000.125001]	 [UPDATE] tcp      6 432000 ESTABLISHED src=… [ASSURED]
//   [1718000003.004000]	[DESTROY] tcp      6 src=… sport=8080 dport=40312 [ASSURED]
//   tcp      6 431999 ESTABLISHED src=… [ASSURED] mark=0 use=1                    (-L)
// The timestamp ("[%ld.%06ld]\t", gettimeofday when conntrack printed the event) is optional; the
// event tag is absent in -L output; DESTROY carries no timeout and, with accounting on,
// packets=/bytes= after each tuple; events caused by a userspace program end in
// "[USERSPACE] portid=N progname=x". All of that is tolerated.
import type { RoutedConnection } from "../model/exercise.js";

export type ConntrackEventType = "new" | "update" | "destroy" | "listed";

export interface ConntrackTuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

export interface ConntrackEvent {
  /** new/update/destroy from `conntrack -E`; listed = a row of `conntrack -L` (a state, not a change). */
  type: ConntrackEventType;
  /** Epoch ms: the line's own timestamp, else when the line was received (or the table listed). */
  at: number;
  /** False when the line had no timestamp and `at` is the receipt time. */
  timestampFromLine: boolean;
  /** Layer-4 protocol name (tcp). */
  protocol: string;
  /** TCP state as conntrack tracks it (SYN_SENT, ESTABLISHED, FIN_WAIT, TIME_WAIT...); absent on DESTROY. */
  state?: string;
  /** The original direction: what the client sent to. */
  orig: ConntrackTuple;
  /** The reply direction: after DNAT its src is the pod that answers. */
  reply: ConntrackTuple;
  /** Bracketed flags: UNREPLIED, ASSURED, OFFLOAD, USERSPACE... */
  flags: string[];
  /** The node whose table it came from (set by whoever reads the node). */
  node?: string;
}

const EVENT_TAGS: Record<string, ConntrackEventType> = { NEW: "new", UPDATE: "update", DESTROY: "destroy" };

/** TCP states in which the connection can still carry requests. */
const OPEN_STATES = new Set(["NONE", "SYN_SENT", "SYN_SENT2", "SYN_RECV", "ESTABLISHED"]);
/** TCP states after a FIN or RST from either side: the connection carries no new request. */
const CLOSING_STATES = new Set(["FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE"]);

/**
 * Parses one line of `conntrack -E [-o timestamp]` or `conntrack -L` output. Returns undefined for
 * anything else (blank lines, the "N flow entries have been shown." summary, XML, other formats) and
 * for lines without both tuples.
 */
export function parseConntrackLine(line: string, receivedAt: number): ConntrackEvent | undefined {
  let rest = line.trim();
  let at = receivedAt;
  let timestampFromLine = false;
  const ts = /^\[(\d+)\.(\d+)\]\s*/.exec(rest);
  if (ts) {
    // %-.6ld: the microseconds are zero-padded to six digits.
    at = Number(ts[1]) * 1000 + Math.floor(Number((ts[2] ?? "0").padEnd(6, "0").slice(0, 6)) / 1000);
    timestampFromLine = true;
    rest = rest.slice(ts[0].length);
  }
  const tokens = rest.split(/\s+/).filter(Boolean);
  let type: ConntrackEventType = "listed";
  let i = 0;
  const tag = /^\[([A-Z]+)\]$/.exec(tokens[0] ?? "");
  if (tag) {
    const t = EVENT_TAGS[tag[1] ?? ""];
    if (!t) return undefined;
    type = t;
    i++;
  }
  // -o extended prefixes the layer-3 protocol: "ipv4     2".
  if (/^ipv[46]$/.test(tokens[i] ?? "") && /^\d+$/.test(tokens[i + 1] ?? "")) i += 2;
  const protocol = tokens[i];
  if (!protocol || !/^[a-z][a-z0-9-]*$/.test(protocol) || !/^\d+$/.test(tokens[i + 1] ?? "")) return undefined;
  i += 2;
  let state: string | undefined;
  const tuples: Array<Partial<ConntrackTuple>> = [];
  const flags: string[] = [];
  for (; i < tokens.length; i++) {
    const tok = tokens[i] ?? "";
    const flag = /^\[([A-Z_]+)\]$/.exec(tok);
    if (flag?.[1]) {
      flags.push(flag[1]);
      continue;
    }
    const eq = tok.indexOf("=");
    if (eq < 0) {
      // Before the first tuple: the timeout (a number) and the TCP state (a word).
      if (tuples.length === 0 && /^[A-Z_0-9]+$/.test(tok) && !/^\d+$/.test(tok)) state = tok;
      continue;
    }
    const key = tok.slice(0, eq);
    const value = tok.slice(eq + 1);
    if (key === "src") {
      if (tuples.length >= 2) continue;
      tuples.push({ src: value });
    } else if (tuples.length > 0 && (key === "dst" || key === "sport" || key === "dport")) {
      const cur = tuples[tuples.length - 1] as Partial<ConntrackTuple>;
      if (key === "dst") cur.dst ??= value;
      else if (/^\d+$/.test(value)) cur[key] ??= Number(value);
    }
  }
  const [orig, reply] = tuples;
  if (!complete(orig) || !complete(reply)) return undefined;
  return {
    type,
    at,
    timestampFromLine,
    protocol,
    ...(state !== undefined ? { state } : {}),
    orig,
    reply,
    flags,
  };
}

function complete(t: Partial<ConntrackTuple> | undefined): t is ConntrackTuple {
  return t?.src !== undefined && t.dst !== undefined && t.sport !== undefined && t.dport !== undefined;
}

/** Parses many lines; unparseable ones are skipped. */
export function parseConntrackOutput(text: string, receivedAt: number, node?: string): ConntrackEvent[] {
  const out: ConntrackEvent[] = [];
  for (const line of text.split("\n")) {
    const e = parseConntrackLine(line, receivedAt);
    if (e) out.push(node === undefined ? e : { ...e, node });
  }
  return out;
}

/** One connection as the tracker followed it, before its pod is named. */
export interface TrackedConnection {
  node?: string;
  orig: ConntrackTuple;
  /** Reply-direction source: the pod's IP after kube-proxy's DNAT (= orig.dst when not DNAT'd). */
  replySrc: string;
  replySport: number;
  openedAt: number;
  /** False when the connection was already open when first seen (listed, or first seen in an UPDATE). */
  openedAtKnown: boolean;
  /** The first FIN/RST (state FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT or CLOSE) or the DESTROY. */
  closedAt?: number;
  /** Whether the DESTROY was seen (the entry left the table). */
  destroyed: boolean;
}

function keyOf(e: { node?: string; orig: ConntrackTuple }): string {
  return `${e.node ?? ""}|${e.orig.src}|${e.orig.sport}|${e.orig.dst}|${e.orig.dport}`;
}

/**
 * Follows connections to the NodePort through conntrack events, in the order given (per node, the
 * order conntrack printed them). Entries whose original destination port is not the NodePort, and
 * non-TCP entries, are ignored.
 * - new: a connection opens at the event (a still-open entry with the same tuple is closed then);
 * - listed: an entry already in the table when it was listed: open since "at most then" (openedAt =
 *   the list time, openedAtKnown false); listed entries already closing (TIME_WAIT...) are left out;
 * - update: the first state after a FIN or RST closes the connection (closedAt). conntrack keeps a
 *   closed TCP entry for up to 120 s (TIME_WAIT), so DESTROY alone would say "open" far too long;
 *   an UPDATE for a tuple never seen opened adds it (openedAtKnown false) when its state is open;
 * - destroy: closes it if nothing did before, and frees the tuple for a later NEW.
 */
export function trackConnections(events: readonly ConntrackEvent[], nodePort: number): TrackedConnection[] {
  const all: TrackedConnection[] = [];
  const live = new Map<string, TrackedConnection>();
  const open = (e: ConntrackEvent, known: boolean): TrackedConnection => {
    const c: TrackedConnection = {
      ...(e.node !== undefined ? { node: e.node } : {}),
      orig: e.orig,
      replySrc: e.reply.src,
      replySport: e.reply.sport,
      openedAt: e.at,
      openedAtKnown: known,
      destroyed: false,
    };
    all.push(c);
    live.set(keyOf(e), c);
    return c;
  };
  for (const e of events) {
    if (e.protocol !== "tcp" || e.orig.dport !== nodePort) continue;
    const key = keyOf(e);
    const cur = live.get(key);
    switch (e.type) {
      case "new": {
        if (cur) {
          cur.closedAt ??= e.at;
          live.delete(key);
        }
        open(e, true);
        break;
      }
      case "listed": {
        if (cur) break;
        if (e.state !== undefined && CLOSING_STATES.has(e.state)) break;
        open(e, false);
        break;
      }
      case "update": {
        const c = cur ?? (e.state !== undefined && OPEN_STATES.has(e.state) ? open(e, false) : undefined);
        if (c && e.state !== undefined && CLOSING_STATES.has(e.state)) c.closedAt ??= e.at;
        break;
      }
      case "destroy": {
        if (!cur) break;
        cur.closedAt ??= e.at;
        cur.destroyed = true;
        live.delete(key);
        break;
      }
    }
  }
  return all.sort((a, b) => a.openedAt - b.openedAt);
}

export interface AttributedConnections {
  connections: RoutedConnection[];
  notes: string[];
}

/**
 * Names the pod of each tracked connection by its reply source IP.
 * - reply src = orig dst (no DNAT: the NodePort had no endpoint in kube-proxy's rules): kept with pod
 *   undefined, which the contract reads as "no endpoint (rejected)";
 * - reply src is a pod IP this run's pod watch knows: that pod;
 * - any other reply src (a pod of another run, an IP the watch never saw): left out, with a note.
 *   Counting such a connection as "rejected" or as one of our pods would both be wrong.
 * Connections first seen already open get openedAt = when first seen; a note says how many.
 */
export function attributeConnections(
  tracked: readonly TrackedConnection[],
  podForIp: (ip: string) => string | undefined,
): AttributedConnections {
  const connections: RoutedConnection[] = [];
  const unknown = new Map<string, number>();
  let approximate = 0;
  for (const c of tracked) {
    let pod: string | undefined;
    if (c.replySrc !== c.orig.dst) {
      pod = podForIp(c.replySrc);
      if (pod === undefined) {
        unknown.set(c.replySrc, (unknown.get(c.replySrc) ?? 0) + 1);
        continue;
      }
    }
    if (!c.openedAtKnown) approximate++;
    connections.push({
      clientPort: c.orig.sport,
      ...(pod !== undefined ? { pod } : {}),
      openedAt: c.openedAt,
      ...(c.closedAt !== undefined ? { closedAt: c.closedAt } : {}),
    });
  }
  const notes: string[] = [];
  if (approximate > 0) {
    notes.push(
      `${approximate} connection(s) were already open when conntrack first showed them: their openedAt is when they were first seen`,
    );
  }
  if (unknown.size > 0) {
    const list = [...unknown.entries()].map(([ip, n]) => `${ip} (${n})`).join(", ");
    notes.push(`left out connection(s) routed to addresses that are not pods of this run: ${list}`);
  }
  return { connections, notes };
}

/** events + NodePort + pod lookup → the routed connections (trackConnections, then attributeConnections). */
export function routedConnections(
  events: readonly ConntrackEvent[],
  nodePort: number,
  podForIp: (ip: string) => string | undefined,
): AttributedConnections {
  return attributeConnections(trackConnections(events, nodePort), podForIp);
}

/** Whether a connection was open at `at` (opened at or before, not closed by then). */
export function openAt(c: RoutedConnection, at: number): boolean {
  return c.openedAt <= at && (c.closedAt === undefined || c.closedAt > at);
}

/** Connections open at `at`, per pod (connections with no pod are not counted). */
export function openConnectionsAt(connections: readonly RoutedConnection[], at: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of connections) {
    if (c.pod !== undefined && openAt(c, at)) out.set(c.pod, (out.get(c.pod) ?? 0) + 1);
  }
  return out;
}

/** A live source of conntrack events for one run (kind: a `conntrack -E` per node). */
export interface ConntrackFeed {
  /** Every event seen so far (listed rows first), in the order each node printed them. */
  events(): readonly ConntrackEvent[];
  /** Why figures are missing or approximate (a node without conntrack, a stream that ended...). */
  notes(): string[];
  /** False when no node could be read at all: there is no attribution, only the notes. */
  available(): boolean;
  /** Ends the streams; the events stay readable. Safe to call twice. */
  stop(): Promise<void>;
}
