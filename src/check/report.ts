// Console text for `graceful-e2e check`. Pure.

import type { Prediction } from "../inspect/predict.js";
import type { ProcessTreeInspection } from "../model/process-tree.js";
import type { CheckReport } from "./run.js";

export function formatInspection(
  inspection: ProcessTreeInspection | undefined,
  prediction: Prediction | undefined,
): string {
  const out: string[] = [];
  if (!inspection) {
    out.push("process tree: not inspected");
  } else {
    out.push(`process tree before any signal (${inspection.sourceDetail}):`);
    for (const line of prediction?.processLines ?? []) out.push(`  ${line}`);
    for (const n of inspection.notes) out.push(`  note: ${n}`);
  }
  if (prediction) {
    out.push(`app: ${prediction.apps.map((a) => `pid ${a.pid}`).join(", ") || "?"} (${prediction.appsFrom})`);
    out.push("SIGTERM path:");
    for (const step of prediction.steps) out.push(`  - ${step}`);
    out.push(`prediction: ${prediction.summary}`);
  } else {
    out.push("prediction: none (the process tree could not be read)");
  }
  return out.join("\n");
}

export function formatCheckReport(r: CheckReport): string {
  const o = r.observation;
  const d = r.diagnosis;
  const rows: Array<[string, string]> = [
    ["image", r.ref === r.image ? r.ref : `${r.image} → ${r.ref}`],
    ["backend", r.backend],
    [
      "setup",
      `${r.scenario.replicas} replicas, grace ${r.scenario.terminationGracePeriodSeconds} s, preStop ${
        r.scenario.preStop.type === "sleep" ? `sleep ${r.scenario.preStop.seconds} s` : "none"
      }${r.backend === "local" ? `, endpoint propagation ${r.scenario.local.endpointPropagationMs} ms (a parameter)` : ""}, ` +
        `load ${r.scenario.load.connections} connections on ${r.scenario.load.path}, delete at +${r.scenario.disruption.atSeconds} s`,
    ],
    ["PID 1", o.pid1Cmdline ?? r.prediction?.pid1?.command ?? "not read"],
    ["SIGTERM received", `${o.sigterm.received} (${o.sigterm.evidence})`],
    ["exit", `${o.exitCode ?? "unknown"} — ${o.outcomeWords}`],
    ["termination", o.timingWords],
    ["failed requests", `${o.failed} of ${o.sent}${o.failed > 0 ? ` (${o.failureSummary})` : ""}`],
    ["prediction", d.heldWords],
    ["diagnosis", d.problem],
  ];
  if (d.fix) rows.push(["fix", d.fix]);
  if (r.error) rows.push(["error", r.error]);
  for (const n of r.notes) rows.push(["note", n]);
  for (const w of r.warnings) rows.push(["warning", w]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    formatInspection(r.inspection, r.prediction),
    "",
    ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`),
    "",
    `verdict: ${verdictWords(r)}`,
  ].join("\n");
}

/**
 * The verdict line, the same decision as the exit status (checkExitCode): a diagnosed cause fails the
 * check even when no request happened to be in flight at the kill (paced load often has none then).
 */
function verdictWords(r: CheckReport): string {
  const { observation: o, diagnosis: d } = r;
  if (r.error) return "ERROR";
  if (d.dropped) return `FAIL — ${o.failed} request(s) dropped`;
  if (d.fix !== undefined) {
    const what = o.sigkilled ? "the app was SIGKILLed at the end of the grace period" : "the diagnosis names a cause";
    return `FAIL — no request dropped this time, but ${what} (see fix)`;
  }
  return "PASS — no request dropped";
}
