// What the local backend (plain Docker, one host, no API server) cannot honour in a set of manifests:
// one report line per object and field, so nothing is silently dropped. Pure.
import type { V1PodSpec, V1Volume } from "@kubernetes/client-node";
import { servingContainers } from "./select.js";
import type { ManifestObject, ManifestSet, Workload } from "./types.js";

/** Objects the local backend uses: the workload's pods, its Service, and the values pods read. */
const USED_LOCALLY = new Set(["Service", "ConfigMap", "Secret", "Deployment", "StatefulSet"]);
/** Volume sources the local backend can give a container (files, or an empty directory). */
const LOCAL_VOLUMES = ["configMap", "secret", "emptyDir", "downwardAPI", "projected"];
/** Pod fields that only mean something to a scheduler, a node or the API server, and why. */
const POD_FIELDS: Array<[keyof V1PodSpec, string]> = [
  ["nodeSelector", "one Docker host: no node to choose"],
  ["affinity", "one Docker host: no node to choose"],
  ["tolerations", "one Docker host: no taints"],
  ["topologySpreadConstraints", "one Docker host: no topology"],
  ["priorityClassName", "no scheduler"],
  ["runtimeClassName", "Docker's default runtime is used"],
  ["hostNetwork", "containers keep their own network namespace (only 127.0.0.1 is published)"],
  ["hostPID", "the host's processes are not shared"],
  ["hostIPC", "the host's IPC namespace is not shared"],
  ["dnsConfig", "Docker's DNS is used"],
  ["serviceAccountName", "no API server: no service account token is mounted"],
  ["imagePullSecrets", "images must exist locally"],
];

const line = (e: ManifestObject, field: string, why: string) =>
  `${e.object.kind}/${e.object.metadata.name} ${field}: not honoured locally (${why})`;

function volumeLines(e: ManifestObject, volumes: V1Volume[]): string[] {
  return volumes.flatMap((v, i) => {
    const source = Object.keys(v).find((k) => k !== "name") ?? "none";
    if (LOCAL_VOLUMES.includes(source)) return [];
    return [line(e, `spec.template.spec.volumes[${i}] (${v.name}, ${source})`, "mounted as an empty directory")];
  });
}

/** The pod template's fields the local runtime ignores. */
function podLines(e: ManifestObject): string[] {
  const w = e.object as Workload;
  const spec = w.spec?.template.spec;
  if (spec === undefined) return [];
  const at = (f: string) => `spec.template.spec.${f}`;
  const lines = POD_FIELDS.filter(([f]) => spec[f] !== undefined && spec[f] !== false).map(([f, why]) =>
    line(e, at(f), why),
  );
  lines.push(...volumeLines(e, spec.volumes ?? []));
  // Init containers are run (plain ones to completion, native sidecars first): nothing to name.
  servingContainers(w.spec?.template ?? {}).forEach((c) => {
    const probes = (["livenessProbe", "startupProbe"] as const).filter((p) => c[p] !== undefined);
    for (const p of probes)
      lines.push(line(e, `container ${c.name} ${p}`, "only readiness probes gate the local Service"));
    if (c.resources !== undefined)
      lines.push(line(e, `container ${c.name} resources`, "no Docker limits are set from it"));
    if (c.securityContext !== undefined) {
      lines.push(line(e, `container ${c.name} securityContext`, "containers run as their image says"));
    }
    if (c.ports?.some((p) => p.hostPort !== undefined))
      lines.push(
        line(e, `container ${c.name} ports[].hostPort`, "nothing is published but the Service port on 127.0.0.1"),
      );
  });
  if ((w as { spec?: { volumeClaimTemplates?: unknown[] } }).spec?.volumeClaimTemplates?.length) {
    lines.push(line(e, "spec.volumeClaimTemplates", "no persistent volumes: each claim is an empty directory"));
  }
  return lines;
}

/** Every object and field of the manifests the local backend will not honour, as report lines. */
export function localLimitations(set: ManifestSet): string[] {
  return set.objects.flatMap((e) => {
    if (!USED_LOCALLY.has(e.object.kind))
      return [
        line(e, "(object)", "no API server: only the workload's pods, its Service, ConfigMaps and Secrets are used"),
      ];
    if (e === set.workload.entry) return podLines(e);
    if (e.object.kind === "Deployment" || e.object.kind === "StatefulSet")
      return [line(e, "(object)", "only the workload under test is run")];
    return [];
  });
}
