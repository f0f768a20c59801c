// `graceful-e2e clean --context <ctx>`: the cluster's side of a crash — nodes a drain left cordoned. A
// node a run cordons carries the label graceful-e2e.cordoned-by=<run>; those found are uncordoned (all
// runs', or --run's). The namespaces carry the run's labels and are removed by the runs' own teardown.
import { CoreV1Api } from "@kubernetes/client-node";
import { kubeConfigFor } from "../../backends/existing/backend.js";
import { uncordonLeftovers } from "../../k8s/drain.js";
import { labelValue } from "../../k8s/manifests.js";

/** Uncordons the nodes runs left cordoned in the context; returns a line for the console. */
export async function uncordonLeftNodes(context: string, run?: string): Promise<string> {
  const core = kubeConfigFor(context).makeApiClient(CoreV1Api);
  const nodes = await uncordonLeftovers(core, run ? labelValue(run) : undefined);
  return nodes.length > 0
    ? `uncordoned ${nodes.length} node(s) a drain left cordoned: ${nodes.join(", ")}`
    : "no node left cordoned";
}
