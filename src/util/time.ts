// Time formats parsed once for every source (API objects, containerd events, app lines, log prefixes).

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** RFC3339 / RFC3339Nano → epoch ms (more than 3 fraction digits cut to milliseconds); undefined when it is not one. */
export function parseRfc3339(text: unknown): number | undefined {
  if (typeof text !== "string") return undefined;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, "0") : "";
  const ms = Date.parse(`${m[1]}${frac}${m[3]}`);
  return Number.isNaN(ms) ? undefined : ms;
}
