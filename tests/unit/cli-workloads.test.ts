// The CLI's reading of the user's workload before anything starts (src/cli/workloads.ts): "-" reads
// standard input once however many scenarios name it, the warnings are about the pod as deployed, and
// every problem is one line of one UsageError.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readWorkloads, stdinOnce, targetScenario } from "../../src/cli/workloads.js";
import { parseScenario } from "../../src/scenario/load.js";
import { UsageError } from "../../src/util/errors.js";

const ROOT = join(import.meta.dirname, "../..");

describe("readWorkloads", () => {
  it('reads "-" from standard input once for every scenario naming it, warnings on the deployed pod', async () => {
    const text = await readFile(join(ROOT, "fixtures/workloads/shop-web/rendered.yaml"), "utf8");
    let reads = 0;
    const stdin = stdinOnce(async () => {
      reads++;
      return text;
    });
    const a = parseScenario("/s/a.yaml", "name: a\nworkload: {manifests: '-'}\npreStop: {type: sleep, seconds: 25}\n");
    const b = parseScenario("/s/b.yaml", "name: b\nworkload: {manifests: '-'}\n");
    // The schema's check used the image default grace (30 s): no warning before the manifests are read.
    expect(a.warnings).toEqual([]);
    const [ra, rb] = await readWorkloads([a, b], "kind", stdin);
    expect(reads).toBe(1);
    expect(ra?.manifests?.workload.name).toBe("shop-web");
    expect(rb?.manifests?.workload.name).toBe("shop-web");
    // The chart's grace is 20 s: the 25 s preStop override leaves the kubelet only the 2 s extension.
    expect(ra?.warnings).toHaveLength(1);
    expect(ra?.warnings[0]).toMatch(/not shorter than terminationGracePeriodSeconds \(20s\).*Deployment "shop-web"/);
    expect(rb?.warnings).toEqual([]);
  });

  it("one UsageError, one line per problem, for every scenario at once", async () => {
    const bad = parseScenario("/s/bad.yaml", "name: bad\nworkload: {manifests: '-'}\n");
    const rollout = parseScenario(
      "/s/t.yaml",
      "name: t\ntarget: {namespace: shop, workload: deployment/web}\ndisruption: {action: rollout}\n",
    );
    const err = await readWorkloads(
      [bad, rollout],
      "existing",
      async () => "apiVersion: v1\nkind: Node\nmetadata: {name: n}\n",
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message.split("\n")).toEqual([
      "<stdin>: document 1: kind: no workload found: the manifests hold no Deployment or StatefulSet",
      "/s/t.yaml: disruption.action: rollout would change the running workload (its template or replicas); with target only delete, evict and drain are allowed (its controller replaces the pods)",
    ]);
  });

  it("a running workload takes delete, evict and drain; rollout and scaleDown are refused, local refuses targets", async () => {
    const target = (action: string) =>
      parseScenario(
        `/s/${action}.yaml`,
        `name: t\ntarget: {namespace: shop, workload: deployment/web}\ndisruption: {action: ${action}}\n`,
      );
    for (const action of ["delete", "evict", "drain"]) {
      expect((await readWorkloads([target(action)], "existing")).map((r) => r.scenario.disruption.action)).toEqual([
        action,
      ]);
    }
    const refused = await readWorkloads([target("scaleDown, to: 1")], "kind").catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(
      /^\/s\/scaleDown, to: 1\.yaml: disruption\.action: scaleDown would change/,
    );
    const local = await readWorkloads([target("evict")], "local").catch((e: unknown) => e);
    expect((local as Error).message).toBe(
      "/s/evict.yaml: target: a running workload is tested on --backend kind or existing, not local",
    );
    // A StatefulSet has no surge: a rollout strategy naming one is refused, one line per field.
    const sts = [
      "apiVersion: apps/v1",
      "kind: StatefulSet",
      "metadata: {name: db}",
      "spec:",
      "  serviceName: db",
      "  selector: {matchLabels: {app: db}}",
      "  template:",
      "    metadata: {labels: {app: db}}",
      "    spec: {containers: [{name: db, image: 'db:1', ports: [{containerPort: 5432}]}]}",
    ].join("\n");
    const rollout = parseScenario(
      "/s/r.yaml",
      "name: r\nworkload: {manifests: '-'}\ndisruption: {action: rollout, strategy: {maxSurge: 1, minReadySeconds: 2}}\n",
    );
    const stsErr = await readWorkloads([rollout], "kind", async () => sts).catch((e: unknown) => e);
    expect((stsErr as Error).message).toBe(
      '/s/r.yaml: disruption.strategy.maxSurge: StatefulSet "db" has no maxSurge (it replaces its pods one at a time; of the strategy only minReadySeconds applies)',
    );
    // A scenario budget would be a new object in the team's namespace: refused with the other changes.
    expect(() =>
      parseScenario(
        "/s/p.yaml",
        "name: t\ntarget: {namespace: shop, workload: deployment/web}\npdb: {minAvailable: 1}\n",
      ),
    ).toThrow(/pdb: with target: a running workload is not changed: remove pdb/);
  });
});

describe("the sidecar fixtures on an older kubelet", () => {
  it("a native sidecar serving the Service's port before 1.29 is refused for local, before anything starts", async () => {
    const file = join(ROOT, "fixtures/workloads/scenarios/before-1.29/shop-web-native-sidecar-1.28.yaml");
    const { loadScenarios } = await import("../../src/scenario/load.js");
    const loaded = await loadScenarios([file]);
    const err = await readWorkloads(loaded, "local").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(
      `${file}: workload: the Service's port is served by proxy, an initContainer with restartPolicy Always ` +
        "(a native sidecar): Kubernetes 1.28 (local.kubernetesVersion) has no native sidecars (1.29+), so it is a " +
        "plain init container there, which a server never completes: the pod would never start (Init:0/1 on a cluster)",
    );
    // local.kubernetesVersion is the local runtime's: a cluster's own version decides there.
    const [onKind] = await readWorkloads(loaded, "kind");
    expect(onKind?.manifests?.port.container).toBe("proxy");
    // The same manifest at 1.29+: accepted.
    const current = parseScenario(
      file,
      "name: n\nworkload: {manifests: ../../shop-web-native-sidecar/rendered.yaml}\nlocal: {kubernetesVersion: '1.29'}\n",
    );
    const [ok] = await readWorkloads([current], "local");
    expect(ok?.manifests?.workload.name).toBe("shop-web");
  });
});

describe("targetScenario", () => {
  it("makes a target scenario from the flags, defaults elsewhere", () => {
    const made = targetScenario({ target: "statefulset/db", namespace: "data", service: "db" }, []);
    expect(made?.file).toBe("--target");
    expect(made?.scenario).toMatchObject({
      name: "target-db",
      target: { namespace: "data", workload: { kind: "StatefulSet", name: "db" }, service: "db" },
      disruption: { action: "delete" },
    });
    expect(targetScenario({}, ["a.yaml"])).toBeUndefined();
  });
});
