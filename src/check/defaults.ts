// What `check` uses when an option is not given (its --help shows them; audit's verification uses them too).
export const CHECK_DEFAULTS = {
  path: "/",
  graceSeconds: 30,
  preStopSeconds: 2,
  propagationMs: 1000,
  replicas: 2,
  connections: 8,
  loadSeconds: 6,
  atSeconds: 2,
} as const;
