// Which backend a run is on, and the image it runs: named once here for every layer.

/** Every backend, in the order the CLI lists them. */
export const BACKEND_NAMES = ["local", "kind", "existing"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

/** A built image the scenario uses, by its fixed (never :latest) tag. */
export interface ResolvedImage {
  /** style name, or "custom" for an image reference given by the user */
  style: string;
  ref: string;
}
