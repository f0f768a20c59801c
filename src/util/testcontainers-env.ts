// testcontainers reads its configuration from the environment when it is used. Two settings
// matter for this harness and are set here, before any testcontainers call:
// - TESTCONTAINERS_RYUK_DISABLED: by default testcontainers starts its reaper container (Ryuk),
//   pulled from Docker Hub, the first time it builds or starts anything. Without a reachable
//   registry that pull fails and takes the build down with it. Every object this harness
//   creates is labelled and removed by its own teardown (`graceful-e2e clean` after a crash),
//   so the reaper is not needed: it is disabled unless the registry is known to be reachable.
// - TESTCONTAINERS_HOST_OVERRIDE: the host testcontainers reports for published ports; the
//   harness only ever talks to 127.0.0.1.
// A value the user already set is always kept.

export interface TestcontainersEnv {
  ryukDisabled: boolean;
  hostOverride: string;
}

/**
 * @param registryReachable true only when Docker Hub answered (then Ryuk may run as usual);
 *   the default, false, is the safe choice when reachability is unknown.
 */
export function configureTestcontainersOffline(
  registryReachable = false,
  env: NodeJS.ProcessEnv = process.env,
): TestcontainersEnv {
  if (env.TESTCONTAINERS_HOST_OVERRIDE === undefined || env.TESTCONTAINERS_HOST_OVERRIDE === "") {
    env.TESTCONTAINERS_HOST_OVERRIDE = "127.0.0.1";
  }
  if (
    !registryReachable &&
    (env.TESTCONTAINERS_RYUK_DISABLED === undefined || env.TESTCONTAINERS_RYUK_DISABLED === "")
  ) {
    env.TESTCONTAINERS_RYUK_DISABLED = "true";
  }
  return {
    ryukDisabled: env.TESTCONTAINERS_RYUK_DISABLED === "true",
    hostOverride: env.TESTCONTAINERS_HOST_OVERRIDE,
  };
}
