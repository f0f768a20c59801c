// conntrack-tools output → events → routed connections per pod, and the container's own socket table
// (/proc/<pid>/net/tcp{,6}) as the second count of connections open at the delete. The lines are in
// the exact shape conntrack 1.4.x prints (libnetfilter_conntrack's default format) for the kind path:
// docker-proxy (172.18.0.1) → node 172.18.0.2:30080 → DNAT to a pod 10.244.0.x:8080, MASQUERADE.
import { describe, expect, it } from "vitest";
import {
  attributeConnections,
  type ConntrackEvent,
  openConnectionsAt,
  parseConntrackLine,
  parseConntrackOutput,
  routedConnections,
  trackConnections,
} from "../../src/k8s/conntrack.js";
import { establishedOnNode } from "../../src/observe/node-proc.js";
import { countEstablished, decodeProcAddress, parseListeningSockets, parseTcpTable } from "../../src/observe/proc.js";

const T0 = 1_718_000_000; // epoch seconds
const ts = (s: number) => `[${Math.floor(T0 + s)}.${String(Math.round((s % 1) * 1e6)).padStart(6, "0")}]\t`;
const tuples = (sport: number, pod: string) =>
  `src=172.18.0.1 dst=172.18.0.2 sport=${sport} dport=30080 src=${pod} dst=10.244.0.1 sport=8080 dport=${sport}`;
const unreplied = (sport: number, pod: string) =>
  `src=172.18.0.1 dst=172.18.0.2 sport=${sport} dport=30080 [UNREPLIED] src=${pod} dst=10.244.0.1 sport=8080 dport=${sport}`;

/** The event lines one client connection produces, opened at `open` s and closed at `close` s. */
function lifecycle(sport: number, pod: string, open: number, close?: number): string[] {
  const lines = [
    `${ts(open)}    [NEW] tcp      6 120 SYN_SENT ${unreplied(sport, pod)}`,
    `${ts(open + 0.0004)} [UPDATE] tcp      6 60 SYN_RECV ${tuples(sport, pod)}`,
    `${ts(open + 0.0006)} [UPDATE] tcp      6 86400 ESTABLISHED ${tuples(sport, pod)} [ASSURED]`,
  ];
  if (close !== undefined) {
    lines.push(
      `${ts(close)} [UPDATE] tcp      6 120 FIN_WAIT ${tuples(sport, pod)} [ASSURED]`,
      `${ts(close + 0.0002)} [UPDATE] tcp      6 60 CLOSE_WAIT ${tuples(sport, pod)} [ASSURED]`,
      `${ts(close + 0.0003)} [UPDATE] tcp      6 30 LAST_ACK ${tuples(sport, pod)} [ASSURED]`,
      `${ts(close + 0.0004)} [UPDATE] tcp      6 120 TIME_WAIT ${tuples(sport, pod)} [ASSURED]`,
      // TIME_WAIT: the entry leaves the table two minutes after the connection closed.
      `${ts(close + 120)}[DESTROY] tcp      6 ${tuples(sport, pod)} [ASSURED]`,
    );
  }
  return lines;
}

describe("parseConntrackLine", () => {
  it("reads a timestamped NEW event with [UNREPLIED] between the tuples", () => {
    const e = parseConntrackLine(
      "[1718000000.012345]\t    [NEW] tcp      6 120 SYN_SENT src=172.18.0.1 dst=172.18.0.2 sport=40312 dport=30080 [UNREPLIED] src=10.244.0.5 dst=10.244.0.1 sport=8080 dport=40312",
      999,
    );
    expect(e).toEqual({
      type: "new",
      at: 1_718_000_000_012,
      timestampFromLine: true,
      protocol: "tcp",
      state: "SYN_SENT",
      orig: { src: "172.18.0.1", dst: "172.18.0.2", sport: 40312, dport: 30080 },
      reply: { src: "10.244.0.5", dst: "10.244.0.1", sport: 8080, dport: 40312 },
      flags: ["UNREPLIED"],
    });
  });

  it("uses the receipt time when the line has no timestamp", () => {
    const e = parseConntrackLine(
      "    [NEW] tcp      6 120 SYN_SENT src=172.18.0.1 dst=172.18.0.2 sport=40312 dport=30080 [UNREPLIED] src=10.244.0.5 dst=10.244.0.1 sport=8080 dport=40312",
      1_718_000_001_500,
    );
    expect(e).toMatchObject({ type: "new", at: 1_718_000_001_500, timestampFromLine: false });
  });

  it("reads DESTROY (no timeout, no state) with accounting counters and a userspace suffix", () => {
    const e = parseConntrackLine(
      "[1718000125.400000]\t[DESTROY] tcp      6 src=172.18.0.1 dst=172.18.0.2 sport=40312 dport=30080 packets=9 bytes=812 src=10.244.0.5 dst=10.244.0.1 sport=8080 dport=40312 packets=7 bytes=1570 [ASSURED] mark=0 use=1 [USERSPACE] portid=3141 progname=conntrack",
      0,
    );
    expect(e).toMatchObject({
      type: "destroy",
      at: 1_718_000_125_400,
      orig: { sport: 40312, dport: 30080 },
      reply: { src: "10.244.0.5", sport: 8080 },
      flags: ["ASSURED", "USERSPACE"],
    });
    expect(e?.state).toBeUndefined();
  });

  it("reads UPDATE states and -L rows (no event tag), -o extended and IPv6 tuples", () => {
    expect(
      parseConntrackLine(
        `[1718000000.500000]\t [UPDATE] tcp      6 120 TIME_WAIT ${tuples(40312, "10.244.0.5")} [ASSURED]`,
        0,
      ),
    ).toMatchObject({ type: "update", state: "TIME_WAIT", at: 1_718_000_000_500 });
    expect(
      parseConntrackLine(`tcp      6 86395 ESTABLISHED ${tuples(40100, "10.244.0.6")} [ASSURED] mark=0 use=1`, 42),
    ).toMatchObject({ type: "listed", state: "ESTABLISHED", at: 42, reply: { src: "10.244.0.6" } });
    expect(
      parseConntrackLine(
        "ipv6     10 tcp      6 86395 ESTABLISHED src=fc00:f853:ccd:e793::1 dst=fc00:f853:ccd:e793::2 sport=51234 dport=30080 src=fd00:10:244::5 dst=fd00:10:244::1 sport=8080 dport=51234 [ASSURED] mark=0 use=1",
        0,
      ),
    ).toMatchObject({ orig: { src: "fc00:f853:ccd:e793::1", dport: 30080 }, reply: { src: "fd00:10:244::5" } });
  });

  it("ignores what is not a connection line", () => {
    for (const line of [
      "",
      "conntrack v1.4.6 (conntrack-tools): 3 flow entries have been shown.",
      "graceful-e2e-conntrack-pid 4242",
      "[1718000000.000001]\t    [NEW] tcp      6 120 SYN_SENT src=172.18.0.1 dst=172.18.0.2 sport=1",
      '<?xml version="1.0" encoding="utf-8"?>',
    ]) {
      expect(parseConntrackLine(line, 0)).toBeUndefined();
    }
  });

  it("parses a whole -L output, tagging the node", () => {
    const out = `tcp      6 86395 ESTABLISHED ${tuples(40100, "10.244.0.6")} [ASSURED] mark=0 use=1
tcp      6 117 TIME_WAIT ${tuples(40090, "10.244.0.5")} [ASSURED] mark=0 use=1
`;
    const events = parseConntrackOutput(out, 7, "ge-control-plane");
    expect(events.map((e) => [e.type, e.state, e.node, e.at])).toEqual([
      ["listed", "ESTABLISHED", "ge-control-plane", 7],
      ["listed", "TIME_WAIT", "ge-control-plane", 7],
    ]);
  });
});

describe("trackConnections / routedConnections", () => {
  const pods: Record<string, string> = { "10.244.0.5": "app-aaaaa", "10.244.0.6": "app-bbbbb" };
  const podForIp = (ip: string) => pods[ip];
  const events = (lines: string[], receivedAt = 0): ConntrackEvent[] =>
    parseConntrackOutput(lines.join("\n"), receivedAt);

  it("reproduces the kind 1.20 failure: every keep-alive connection on the first ready pod", () => {
    // 8 keep-alive connections opened at +0.1 s while kube-proxy's rules held only app-aaaaa; the
    // delete at +2 s of app-bbbbb would test nothing.
    const lines = Array.from({ length: 8 }, (_, i) => lifecycle(40000 + i, "10.244.0.5", 0.1 + i * 0.001, 6.5)).flat();
    const { connections, notes } = routedConnections(events(lines), 30080, podForIp);
    expect(notes).toEqual([]);
    expect(connections).toHaveLength(8);
    expect(connections[0]).toEqual({
      clientPort: 40000,
      pod: "app-aaaaa",
      openedAt: (T0 + 0.1) * 1000,
      closedAt: (T0 + 6.5) * 1000, // the first FIN, not the DESTROY 120 s later
    });
    const atDelete = openConnectionsAt(connections, (T0 + 2) * 1000);
    expect(Object.fromEntries(atDelete)).toEqual({ "app-aaaaa": 8 });
    expect(atDelete.get("app-bbbbb")).toBeUndefined();
    expect(openConnectionsAt(connections, (T0 + 7) * 1000).size).toBe(0);
  });

  it("counts per pod over time, with the client port of each connection", () => {
    const lines = [
      ...lifecycle(41000, "10.244.0.5", 1, 3),
      ...lifecycle(41001, "10.244.0.6", 1.5),
      ...lifecycle(41002, "10.244.0.6", 2.5, 2.8),
    ];
    const { connections } = routedConnections(events(lines), 30080, podForIp);
    expect(connections.map((c) => [c.clientPort, c.pod])).toEqual([
      [41000, "app-aaaaa"],
      [41001, "app-bbbbb"],
      [41002, "app-bbbbb"],
    ]);
    expect(Object.fromEntries(openConnectionsAt(connections, (T0 + 2) * 1000))).toEqual({
      "app-aaaaa": 1,
      "app-bbbbb": 1,
    });
    expect(Object.fromEntries(openConnectionsAt(connections, (T0 + 2.6) * 1000))).toEqual({
      "app-aaaaa": 1,
      "app-bbbbb": 2,
    });
    expect(Object.fromEntries(openConnectionsAt(connections, (T0 + 3.5) * 1000))).toEqual({ "app-bbbbb": 1 });
    expect(connections[1]?.closedAt).toBeUndefined();
  });

  it("ignores other ports, and a reused client port after DESTROY is a new connection", () => {
    const lines = [
      `${ts(0.5)}    [NEW] tcp      6 120 SYN_SENT src=172.18.0.1 dst=172.18.0.2 sport=50000 dport=6443 [UNREPLIED] src=172.18.0.2 dst=172.18.0.1 sport=6443 dport=50000`,
      ...lifecycle(42000, "10.244.0.5", 1, 2),
      ...lifecycle(42000, "10.244.0.6", 200),
    ];
    const { connections } = routedConnections(events(lines), 30080, podForIp);
    expect(connections.map((c) => [c.clientPort, c.pod, c.openedAt])).toEqual([
      [42000, "app-aaaaa", (T0 + 1) * 1000],
      [42000, "app-bbbbb", (T0 + 200) * 1000],
    ]);
  });

  it("a reset closes at the CLOSE state", () => {
    const lines = [
      ...lifecycle(43000, "10.244.0.5", 1),
      `${ts(4)} [UPDATE] tcp      6 10 CLOSE ${tuples(43000, "10.244.0.5")} [ASSURED]`,
      `${ts(14)}[DESTROY] tcp      6 ${tuples(43000, "10.244.0.5")} [ASSURED]`,
    ];
    const [c] = routedConnections(events(lines), 30080, podForIp).connections;
    expect(c?.closedAt).toBe((T0 + 4) * 1000);
  });

  it("listed rows: open ones count from the list time (marked), closing ones are left out", () => {
    const listedAt = (T0 - 1) * 1000;
    const listed = parseConntrackOutput(
      [
        `tcp      6 86395 ESTABLISHED ${tuples(40100, "10.244.0.6")} [ASSURED] mark=0 use=1`,
        `tcp      6 117 TIME_WAIT ${tuples(40090, "10.244.0.5")} [ASSURED] mark=0 use=1`,
      ].join("\n"),
      listedAt,
    );
    const streamed = events([`${ts(3)} [UPDATE] tcp      6 120 FIN_WAIT ${tuples(40100, "10.244.0.6")} [ASSURED]`]);
    const tracked = trackConnections([...listed, ...streamed], 30080);
    expect(tracked).toHaveLength(1);
    expect(tracked[0]).toMatchObject({ openedAt: listedAt, openedAtKnown: false, closedAt: (T0 + 3) * 1000 });
    const { connections, notes } = attributeConnections(tracked, podForIp);
    expect(connections).toEqual([
      { clientPort: 40100, pod: "app-bbbbb", openedAt: listedAt, closedAt: (T0 + 3) * 1000 },
    ]);
    expect(notes[0]).toMatch(/1 connection\(s\) were already open when conntrack first showed them/);
  });

  it("a connection first seen in an UPDATE (NEW missed) counts from then, marked", () => {
    const lines = [`${ts(2)} [UPDATE] tcp      6 86400 ESTABLISHED ${tuples(44000, "10.244.0.5")} [ASSURED]`];
    const tracked = trackConnections(events(lines), 30080);
    expect(tracked).toMatchObject([{ openedAt: (T0 + 2) * 1000, openedAtKnown: false }]);
  });

  it("pod undefined only when not DNAT'd (no endpoint); unknown pod IPs are left out with a note", () => {
    const lines = [
      // No DNAT: the reply comes from the node itself (no endpoint in kube-proxy's rules).
      `${ts(0.2)}    [NEW] tcp      6 120 SYN_SENT src=172.18.0.1 dst=172.18.0.2 sport=45000 dport=30080 [UNREPLIED] src=172.18.0.2 dst=172.18.0.1 sport=30080 dport=45000`,
      ...lifecycle(45001, "10.244.0.99", 0.3), // a pod this run's watch never saw
      ...lifecycle(45002, "10.244.0.99", 0.4),
      ...lifecycle(45003, "10.244.0.5", 0.5),
    ];
    const { connections, notes } = routedConnections(events(lines), 30080, podForIp);
    expect(connections.map((c) => [c.clientPort, c.pod])).toEqual([
      [45000, undefined],
      [45003, "app-aaaaa"],
    ]);
    expect("pod" in (connections[0] ?? {})).toBe(false);
    expect(notes).toEqual([
      "left out connection(s) routed to addresses that are not pods of this run: 10.244.0.99 (2)",
    ]);
  });

  it("keeps nodes apart: the same tuple on two nodes is two connections", () => {
    const a = events(lifecycle(46000, "10.244.0.5", 1)).map((e) => ({ ...e, node: "n1" }));
    const b = events(lifecycle(46000, "10.244.0.6", 1.1)).map((e) => ({ ...e, node: "n2" }));
    expect(trackConnections([...a, ...b], 30080).map((c) => [c.node, c.replySrc])).toEqual([
      ["n1", "10.244.0.5"],
      ["n2", "10.244.0.6"],
    ]);
  });
});

describe("/proc/<pid>/net/tcp{,6}: the container's own established connections", () => {
  // The app listens on :8080 (1F90); three clients (kube-proxy masqueraded from 10.244.0.1), one in
  // TIME_WAIT (06), and an outgoing connection of the app to some other service's port 8080.
  const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 142761 1 0000000070fe3c0d 100 0 0 10 0
   1: 050010AC:1F90 010010AC:9D78 01 00000000:00000000 00:00000000 00000000  1000        0 150001 1 0000000070fe3c0d 20 4 30 10 -1
   2: 050010AC:1F90 010010AC:9D79 01 00000000:00000000 00:00000000 00000000  1000        0 150002 1 0000000070fe3c0d 20 4 30 10 -1
   3: 050010AC:1F90 010010AC:9D60 06 00000000:00000000 03:00000ABC 00000000     0        0 0 3 0000000000000000
   4: 050010AC:B3A2 0A0010AC:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 150009 1 0000000070fe3c0d 20 4 30 10 -1
`;
  const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 142762 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF0000050010AC:1F90 0000000000000000FFFF0000010010AC:9D7A 01 00000000:00000000 00:00000000 00000000  1000        0 150003 1 0000000000000000 20 4 30 10 -1
`;

  it("reads them on the kind node at the delete: crictl's PID, then its net/tcp and tcp6", async () => {
    const calls: string[][] = [];
    const exec = async (argv: string[]) => {
      calls.push(argv);
      if (argv[0] === "crictl") return JSON.stringify({ info: { pid: 4242 } });
      if (argv[1] === "/proc/4242/net/tcp") return TCP;
      if (argv[1] === "/proc/4242/net/tcp6") return TCP6;
      throw new Error(`unexpected ${argv.join(" ")}`);
    };
    expect(await establishedOnNode(exec, "containerd://abc", 8080)).toBe(3);
    expect(calls).toEqual([
      ["crictl", "inspect", "-o", "json", "abc"],
      ["cat", "/proc/4242/net/tcp"],
      ["cat", "/proc/4242/net/tcp6"],
    ]);
  });

  it("counts ESTABLISHED (01) sockets on the container port, in tcp and tcp6", () => {
    expect(countEstablished(8080, TCP)).toBe(2);
    expect(countEstablished(8080, TCP, TCP6)).toBe(3);
    expect(countEstablished(9090, TCP, TCP6)).toBe(0);
    expect(countEstablished(8080, "")).toBe(0);
  });

  it("parses rows with decoded ports and states; LISTEN parsing is unchanged", () => {
    const rows = parseTcpTable(TCP);
    expect(rows).toHaveLength(5);
    expect(rows[1]).toEqual({
      localHex: "050010AC",
      localPort: 8080,
      remoteHex: "010010AC",
      remotePort: 40312,
      state: "01",
      inode: 150001,
    });
    expect(parseListeningSockets(TCP)).toEqual([{ port: 8080, inode: 142761, address: "00000000" }]);
  });

  it("decodes addresses (host byte order per 32-bit word)", () => {
    expect(decodeProcAddress("050010AC")).toBe("172.16.0.5");
    expect(decodeProcAddress("0100007F")).toBe("127.0.0.1");
    expect(decodeProcAddress("0000000000000000FFFF0000050010AC")).toBe("::ffff:172.16.0.5");
    expect(decodeProcAddress("00000000000000000000000001000000")).toBe("::1");
    expect(decodeProcAddress("100000FD000044020000000005000000")).toBe("fd00:10:244::5");
    expect(decodeProcAddress("xyz")).toBe("xyz");
  });
});
