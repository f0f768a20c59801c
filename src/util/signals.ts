// Linux signal names, once: what a stop signal may be called (Docker's STOPSIGNAL, containerd,
// Kubernetes' lifecycle.stopSignal) and how a name, a bare name or a number reads as one.

/** Standard signals 1–31 in number order (`kill -l`), without the SIG prefix. */
const STANDARD = (
  "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU " +
  "URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS"
).split(" ");

/** Every signal name a stop signal may have, as Kubernetes writes them ("SIGTERM", "SIGRTMIN+3"…). */
export const SIGNAL_NAMES: readonly string[] = [
  ...STANDARD,
  "RTMIN",
  "RTMAX",
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${14 - i}`),
].map((n) => `SIG${n}`);

/**
 * A signal as Docker may store an image's STOPSIGNAL ("SIGQUIT", "QUIT", "sigquit", "3") → its name
 * ("SIGQUIT"); undefined for an empty value. A number without a standard name stays a number.
 */
export function signalName(raw: string | null | undefined): string | undefined {
  const text = raw?.trim() ?? "";
  if (text === "") return undefined;
  if (/^\d+$/.test(text)) {
    const name = STANDARD[Number(text) - 1];
    return name ? `SIG${name}` : text;
  }
  const upper = text.toUpperCase();
  return upper.startsWith("SIG") ? upper : `SIG${upper}`;
}
