// What the process-tree inspection of a running container reports (before any signal).

export interface InspectedProcess {
  /** PID inside the container's PID namespace (1 = the container's init). */
  pid: number;
  /** Parent PID inside the container (0: the parent is outside, e.g. PID 1 or a `docker exec`). */
  ppid: number;
  /**
   * PID as seen from outside the container, when read from there: local, the host (the Docker
   * daemon's PID namespace); kind, the node the pod runs on.
   */
  hostPid?: number;
  /** Process group and session inside the container, when the kernel reports them (NSpgid/NSsid). */
  pgid?: number;
  sid?: number;
  /** argv from /proc/<pid>/cmdline. */
  argv: string[];
  /** argv joined with spaces (or the comm name in brackets when argv is empty). */
  command: string;
  /** comm (Name: in status). */
  name: string;
  /** SIGTERM's disposition from the SigCgt/SigIgn/SigBlk masks. */
  sigterm: SignalState;
  /** The raw masks, as /proc prints them. */
  masks: { caught: string; ignored: string; blocked: string };
  /** Sleeps in sigtimedwait/signalfd: receives signals synchronously (tini, dumb-init...). */
  waitsForSignals: boolean;
  /** Kernel function the process sleeps in (/proc/<pid>/wchan), when readable. */
  wchan?: string;
  /** TCP ports this process holds a listening socket on. */
  listens: number[];
}

export type InspectionSource = "host-proc" | "node-proc" | "docker-exec" | "kube-exec" | "none";

export interface ProcessTreeInspection {
  containerId: string;
  /** Epoch ms of the reading. */
  at: number;
  /**
   * host-proc: /proc/<host pid>/… read on this machine with the host PIDs `docker top` gave;
   * node-proc: /proc/<node pid>/… read on the pod's Kubernetes node (kind: docker exec into the node
   *   container), the container's processes found from crictl inspect's PID;
   * docker-exec: `docker exec <id> sh -c 'cat /proc/…'` inside the container (local fallback);
   * kube-exec: the same script through the Kubernetes exec API (kind fallback, existing cluster);
   * none: nothing worked (see notes).
   */
  source: InspectionSource;
  /** The same in words, for the report. */
  sourceDetail: string;
  processes: InspectedProcess[];
  notes: string[];
}

export type SignalDisposition = "caught" | "ignored" | "blocked" | "default";

export interface SignalState {
  /** One word: ignored beats caught beats blocked beats default. */
  disposition: SignalDisposition;
  caught: boolean;
  ignored: boolean;
  blocked: boolean;
}
