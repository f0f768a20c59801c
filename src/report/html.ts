// A self-contained HTML report (inline CSS and SVG, no script, no external URL: the CSP forbids
// loading anything) for a list of ScenarioResults: a summary table like the console's, then per
// scenario its status (PASS, FAIL, INCONCLUSIVE, ERROR) and why, the warm-up, the exercise
// evidence per disrupted pod, its timeline picture, failures by kind and the verdict table. Every
// figure that is also in the JSON is rendered from it and carried in a data-* attribute next to the text.

import type { PodOutcome } from "../model/pod-outcome.js";
import { formatOffset } from "../observe/timeline.js";
import type { ScenarioResult } from "../runner/run.js";
import type { RunStatus } from "../runner/status.js";
import { hasStatus, RUN_STATUSES, reportedInconclusiveReasons, runStatus, verdictUndecided } from "../runner/status.js";
import { harnessClockLine } from "../verdict/trust.js";
import {
  describeExit,
  failureSummary,
  protocolNotes,
  sigtermReceipts,
  terminationMs,
  unitSuffix,
} from "../verdict/verdicts.js";
import { containerLines, failureCauseLines } from "./containers.js";
import { el, esc } from "./html-markup.js";
import { FAILURE_COLORS, MARKER_STYLES, READY_COLOR, renderTimelineSvg, SUCCESS_COLOR } from "./html-svg.js";
import { failureKindCounts, MARKER_KINDS, type MarkerKind, timelineData } from "./html-timeline.js";
import {
  exerciseFigures,
  exitEvidenceText,
  goneMeaning,
  STATUS_MEANING,
  signedSeconds,
  statusWord,
  terminationText,
  warmUpText,
} from "./status.js";
import { voluntaryLines } from "./voluntary.js";

export interface HtmlOptions {
  title?: string;
  /** When the report was made (ISO string); defaults to now. */
  generatedAt?: string;
  /** Self-contained sections (escaped markup, e.g. the audit's) placed before the scenario runs. */
  sections?: string[];
}

export type ScenarioStatus = RunStatus;

/** The run's status (derived from `pass` and `error` for files written before `status` existed). */
export function statusOf(r: Pick<ScenarioResult, "status" | "error" | "pass">): ScenarioStatus {
  return runStatus(r);
}

/** Element id of a scenario's section: unique per scenario and backend. */
export function sectionId(r: Pick<ScenarioResult, "scenario" | "backend">): string {
  return `scenario-${r.scenario.name}-${r.backend}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

const MARKER_NAMES: Record<MarkerKind, string> = {
  delete: "delete (t = 0)",
  "endpoint-removed": "endpoint removed",
  "prestop-start": "preStop start",
  "prestop-end": "preStop end",
  "prestop-failed": "preStop failed",
  "sigterm-sent": "stop signal sent (to PID 1; SIGTERM unless STOPSIGNAL says otherwise)",
  sigterm: "SIGTERM received",
  exit: "exit",
  sigkill: "SIGKILL",
  "last-connection": "last new connection routed to the disrupted pod",
  eviction: "eviction accepted (the Eviction API)",
  "eviction-refused": "eviction refused (429: the PodDisruptionBudget held) or failed",
  cordon: "node cordoned (drain)",
};

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d1d1d; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.status { display: inline-block; padding: 1px 8px; border-radius: 3px; font-weight: 700; color: #fff; }
.status-pass { background: #2e8b3a; } .status-fail { background: #c00000; } .status-error { background: #7a1fa2; }
.status-inconclusive { background: #a15c00; }
.inconclusive { background: #fff4e0; border-left: 4px solid #a15c00; padding: 8px 12px; }
.inconclusive ul { margin: 4px 0 0; padding-left: 20px; }
.legacy { color: #666; font-style: italic; }
tr.exercise-not-exercised td, tr.exercise-unproven td { background: #fff4e0; }
table.verdicts.not-judged { opacity: 0.75; }
tr.verdict-fail td { background: #fff1f1; }
tr.verdict-undecided td { background: #fff4e0; }
section.scenario { border-top: 2px solid #ccc; margin-top: 28px; padding-top: 14px; }
.error { background: #f7ecfb; border-left: 4px solid #7a1fa2; padding: 8px 12px; white-space: pre-wrap; }
.warning { background: #fff8e1; border-left: 4px solid #e6a700; padding: 4px 12px; margin: 4px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: #555; } dl.facts dd { margin: 0; }
figure { margin: 8px 0; overflow-x: auto; }
svg.timeline { max-width: 100%; height: auto; background: #fff; }
ul.legend { list-style: none; padding: 0; margin: 4px 0 8px; display: flex; flex-wrap: wrap; gap: 4px 16px; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
.line { display: inline-block; width: 18px; height: 0; border-top-width: 2px; border-top-style: solid; }
.muted { color: #666; }
details { margin: 8px 0; }
`;

function sigtermText(pod: PodOutcome | undefined): string {
  if (!pod) return "-";
  const receipts = sigtermReceipts(pod);
  if (receipts.length === 0) return "no app lines";
  return receipts
    .map((x) => `${x.role}: ${x.at === undefined ? "no" : `+${((x.at - pod.deleteAt) / 1000).toFixed(3)} s`}`)
    .join(", ");
}

function exitText(pod: PodOutcome | undefined): string {
  if (!pod) return "-";
  return `${pod.exitCode ?? "unknown"}${pod.sigkilled ? " (SIGKILL)" : ""} — ${describeExit(pod)}`;
}

function failedCell(r: ScenarioResult): string {
  if (!r.load) return el("td", { class: "failed-sent" }, "-");
  const { failed, sent } = r.load;
  return el(
    "td",
    { class: "failed-sent num", "data-failed": failed, "data-sent": sent },
    `<span class="failed">${failed}</span>/<span class="sent">${sent}</span>${esc(unitSuffix(r.load))}${failed > 0 ? ` <span class="muted">(${esc(failureSummary(r.load))})</span>` : ""}`,
  );
}

/** The status badge; an INCONCLUSIVE run's title is its own reasons, not the generic meaning. */
function statusBadge(status: ScenarioStatus, r?: ScenarioResult): string {
  const title = status === "inconclusive" && r ? reportedInconclusiveReasons(r).join("; ") : STATUS_MEANING[status];
  return el("span", { class: `status status-${status}`, "data-status": status, title }, esc(statusWord(status)));
}

/** One row per pod (the first disrupted pod only, like the console table). */
function summaryRow(r: ScenarioResult): string {
  const pod = r.pods[0];
  const ms = pod ? terminationMs(pod) : undefined;
  const status = statusOf(r);
  const cells = [
    el("td", {}, el("a", { href: `#${sectionId(r)}` }, esc(r.scenario.name))),
    el("td", {}, esc(r.backend)),
    el("td", {}, esc(r.image?.style ?? "-")),
    el("td", { class: "pid1 mono" }, esc(pod?.pid1Cmdline ?? "-")),
    el("td", { class: "sigterm" }, esc(sigtermText(pod))),
    el("td", { class: "exit", "data-exit-code": pod?.exitCode, "data-sigkilled": pod?.sigkilled }, esc(exitText(pod))),
    el("td", { class: "termination num", "data-termination-ms": ms }, esc(terminationText(pod, r.timeline))),
    failedCell(r),
    el("td", {}, statusBadge(status, r)),
  ];
  return el(
    "tr",
    { class: `summary-row summary-${status}`, "data-scenario": r.scenario.name, "data-backend": r.backend },
    cells.join(""),
  );
}

function summaryTable(results: ScenarioResult[]): string {
  const head = [
    "scenario",
    "backend",
    "image",
    "PID 1",
    "SIGTERM received",
    "exit",
    "termination",
    "failed/sent",
    "verdict",
  ]
    .map((h) => (h === "termination" ? `<th title="delete → container exit">${esc(h)}</th>` : `<th>${esc(h)}</th>`))
    .join("");
  return `<table id="summary"><thead><tr>${head}</tr></thead><tbody>${results.map(summaryRow).join("\n")}</tbody></table>`;
}

function verdictTable(r: ScenarioResult): string {
  const notJudged = statusOf(r) === "inconclusive";
  if (r.verdicts.length === 0) {
    return `<p class="muted no-verdicts">${r.error ? "no verdicts: the run did not complete" : "no expectations in this scenario"}</p>`;
  }
  const rows = r.verdicts.map((v) => {
    const undecided = verdictUndecided(v);
    const outcome = undecided !== undefined ? "undecided" : v.pass ? "pass" : "fail";
    return el(
      "tr",
      {
        class: `verdict verdict-${outcome}`,
        "data-verdict": v.name,
        "data-pass": String(v.pass),
        "data-undecided": undecided,
      },
      [
        el("td", { class: "v-name" }, esc(v.name)),
        el("td", { class: "v-expected" }, esc(v.expected)),
        el("td", { class: "v-actual" }, esc(v.actual)),
        el("td", { class: "v-pass" }, outcome === "undecided" ? "? undecided" : v.pass ? "✓ pass" : "✗ fail"),
        el(
          "td",
          { class: "v-evidence" },
          `${esc(v.evidence)}${undecided !== undefined ? ` <span class="muted">(undecided: ${esc(undecided)})</span>` : ""}`,
        ),
      ].join(""),
    );
  });
  return (
    (notJudged
      ? `<p class="muted not-judged-note">INCONCLUSIVE: these verdicts were computed but back nothing (see above).</p>`
      : "") +
    `<table class="verdicts${notJudged ? " not-judged" : ""}"><thead><tr><th>verdict</th><th>expected</th><th>actual</th><th>pass</th><th>evidence</th></tr></thead>` +
    `<tbody>${rows.join("\n")}</tbody></table>`
  );
}

function legend(r: ScenarioResult, markersShown: ReadonlySet<MarkerKind>, grace: number | undefined): string {
  const items: string[] = [];
  if (r.load) {
    items.push(
      el(
        "li",
        { class: "legend-success", "data-succeeded": r.load.succeeded },
        `<span class="swatch" style="background:${SUCCESS_COLOR}"></span>succeeded <span class="count">${r.load.succeeded}</span>`,
      ),
    );
    for (const { kind, count } of failureKindCounts(r.load)) {
      items.push(
        el(
          "li",
          { class: "legend-failure", "data-kind": kind, "data-count": count },
          `<span class="swatch" style="background:${FAILURE_COLORS[kind]}"></span>${esc(kind)} <span class="count">${count}</span>`,
        ),
      );
    }
    if (r.load.inFlightAtEnd > 0) {
      items.push(
        el(
          "li",
          { class: "legend-inflight muted", "data-in-flight": r.load.inFlightAtEnd },
          `in flight when the window closed: ${r.load.inFlightAtEnd} (not failures)`,
        ),
      );
    }
  }
  for (const kind of MARKER_KINDS) {
    if (!markersShown.has(kind)) continue;
    const s = MARKER_STYLES[kind];
    items.push(
      el(
        "li",
        { class: "legend-marker", "data-legend-marker": kind },
        `<span class="line" style="border-top-color:${s.color};border-top-style:${s.dash ? "dashed" : "solid"}"></span>${esc(MARKER_NAMES[kind])}`,
      ),
    );
  }
  if (r.readyEndpoints && r.readyEndpoints.length > 0) {
    items.push(
      el(
        "li",
        { class: "legend-ready" },
        `<span class="line" style="border-top-color:${READY_COLOR};border-top-style:solid"></span>ready endpoints (right axis)`,
      ),
    );
  }
  if (grace !== undefined) {
    items.push(
      el(
        "li",
        { class: "legend-grace", "data-grace-ms": grace },
        `<span class="swatch" style="background:#cfcfcf;height:4px"></span>grace period (${grace / 1000} s)`,
      ),
    );
  }
  return `<ul class="legend">${items.join("")}</ul>`;
}

function facts(r: ScenarioResult): string {
  const pod = r.pods[0];
  const rows: Array<[string, string]> = [
    ["image", r.image ? `<code>${esc(r.image.ref)}</code> (${esc(r.image.style)})` : "-"],
    ["PID 1", pod ? `<code>${esc(pod.pid1Cmdline)}</code>` : "-"],
    [
      "disrupted pod(s)",
      r.pods.length > 0
        ? r.pods.map((p) => `<code>${esc(p.pod)}</code>${p.node ? ` on ${esc(p.node)}` : ""}`).join(", ")
        : "-",
    ],
    ["traffic path", esc(r.trafficPath ?? "-")],
    [
      "platform",
      Object.entries(r.platform)
        .map(([k, v]) => `${esc(k)}: ${esc(v)}`)
        .join("; ") || "-",
    ],
    ["run", `<code>${esc(r.runId)}</code>, started ${esc(r.startedAt)}, took ${(r.durationMs / 1000).toFixed(1)} s`],
    ...(r.warmUp
      ? [
          [
            "warm-up",
            el(
              "span",
              {
                class: "warm-up",
                "data-pods": r.warmUp.pods.length,
                "data-answered": r.warmUp.answered.length,
                "data-complete": String(r.warmUp.complete),
                "data-duration-ms": r.warmUp.endedAt - r.warmUp.startedAt,
                "data-failed": r.warmUp.failed,
              },
              esc(warmUpText(r.warmUp)),
            ),
          ] as [string, string],
        ]
      : []),
    ...(r.trust
      ? [
          [
            "harness clock",
            el(
              "span",
              {
                class: `trust${r.trust.saturated ? " saturated" : ""}`,
                "data-saturated": String(r.trust.saturated),
                "data-event-loop-max-ms": r.trust.harness ? Math.round(r.trust.harness.eventLoop.maxMs) : undefined,
                "data-cpu-busy": r.trust.harness?.cpuBusy?.toFixed(2),
              },
              esc(harnessClockLine(r.trust, r.scenario)),
            ),
          ] as [string, string],
        ]
      : []),
    ["scenario file", `<code>${esc(r.file)}</code>`],
  ];
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

/**
 * Per disrupted pod: did it carry traffic when it was disrupted? One row per pod, the figures as
 * data-* attributes (the ExerciseEvidence field names, kebab-cased).
 */
function exerciseTable(r: ScenarioResult): string {
  if (r.pods.length === 0) return "";
  if (!r.pods.some((p) => p.exercise)) {
    return hasStatus(r)
      ? `<p class="muted no-exercise">no exercise evidence for the disrupted pod(s)</p>`
      : `<p class="legacy no-exercise">no exercise evidence: this result was written before the harness checked that the disrupted pod carried traffic</p>`;
  }
  const columns: Array<[string, string]> = [
    ["openConnectionsAtDelete", "connections open at the delete"],
    ["servedInSecondBeforeDelete", "served in the second before the delete"],
    ["answeredAfterSigterm", "answered after SIGTERM"],
    ["lastNewConnectionMs", "delete → last new connection routed to it"],
    ["servedTotal", "served in the window"],
    ["connectionsRouted", "connections routed in the window"],
    ["sources", "sources"],
  ];
  const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const rows = r.pods.map((p) => {
    const e = p.exercise;
    if (!e) {
      return el(
        "tr",
        { class: "exercise exercise-none", "data-pod": p.pod },
        `<td class="mono">${esc(p.pod)}</td><td colspan="${columns.length + 2}" class="muted">no exercise evidence</td>`,
      );
    }
    const figures = new Map(exerciseFigures(e).map((f) => [f.key as string, f]));
    const data: Record<string, string | number | undefined> = {};
    for (const [key] of columns) {
      const f = figures.get(key);
      if (f?.raw !== undefined) data[`data-${kebab(key)}`] = f.raw;
    }
    const cells = [
      el("td", { class: "mono" }, esc(p.pod)),
      el("td", { class: "exercise-status" }, esc(e.status)),
      ...columns.map(([key]) =>
        el("td", { class: `e-${kebab(key)}${key === "sources" ? "" : " num"}` }, esc(figures.get(key)?.value ?? "-")),
      ),
      el("td", { class: "e-summary" }, esc(e.summary)),
    ];
    return el(
      "tr",
      { class: `exercise exercise-${e.status}`, "data-pod": p.pod, "data-exercise": e.status, ...data },
      cells.join(""),
    );
  });
  const head = ["pod", "exercise", ...columns.map(([, label]) => label), "summary"]
    .map((h) => `<th>${esc(h)}</th>`)
    .join("");
  return `<table class="exercise"><thead><tr>${head}</tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

/** Per disrupted pod: termination (delete → container exit) and when it was gone. */
function terminationFacts(r: ScenarioResult): string {
  if (r.pods.length === 0) return "";
  const items = r.pods.map((p) => {
    const gone =
      p.goneAt !== undefined
        ? `; gone (${esc(goneMeaning(r.backend))}) at ${esc(signedSeconds(p.goneAt - p.deleteAt))}`
        : "";
    return el(
      "li",
      {
        "data-pod": p.pod,
        "data-termination-ms": terminationMs(p),
        "data-gone-ms": p.goneAt !== undefined ? p.goneAt - p.deleteAt : undefined,
      },
      `<code>${esc(p.pod)}</code>: termination (delete → container exit) ${esc(terminationText(p, r.timeline))}${gone}` +
        (exitEvidenceText(p) ? `<br><span class="exit-evidence">${esc(exitEvidenceText(p) ?? "")}</span>` : "") +
        containerLines(p, r.scenario.port)
          .map((line) => `<br><span class="container-evidence">${esc(line)}</span>`)
          .join("") +
        failureCauseLines(p)
          .map(
            (w) =>
              `<br><span class="failure-cause">failures caused by ${esc(w.says)}</span>` +
              (w.fix ? `<br><span class="muted">fix to measure: ${esc(w.fix)}</span>` : ""),
          )
          .join(""),
    );
  });
  return `<ul class="termination-facts">${items.join("")}</ul>`;
}

function timelineTable(r: ScenarioResult): string {
  const entries = r.timeline?.entries ?? [];
  if (entries.length === 0) return "";
  const rows = entries.map(
    (e) =>
      `<tr data-kind="${esc(e.kind)}"><td class="num">${esc(formatOffset(e.t))}</td>` +
      `<td>${esc(e.kind)}</td><td>${esc(e.source)}</td><td class="mono">${esc(e.pod ?? "")}</td><td>${esc(e.process ?? "")}</td>` +
      `<td class="mono">${e.detail ? esc(JSON.stringify(e.detail)) : ""}</td></tr>`,
  );
  return (
    `<details class="timeline-events"><summary>timeline: ${entries.length} events</summary>` +
    `<table><thead><tr><th>t</th><th>event</th><th>source</th><th>pod</th><th>process</th><th>detail</th></tr></thead>` +
    `<tbody>${rows.join("\n")}</tbody></table></details>`
  );
}

function graceMs(r: ScenarioResult): number | undefined {
  const d = r.scenario.disruption;
  const seconds =
    d.action === "delete" ? (d.gracePeriodSeconds ?? r.scenario.terminationGracePeriodSeconds) : undefined;
  return seconds === undefined ? undefined : seconds * 1000;
}

function scenarioSection(r: ScenarioResult): string {
  const status = statusOf(r);
  const parts: string[] = [];
  parts.push(
    `<h2>${statusBadge(status, r)} ${esc(r.scenario.name)} <span class="muted">(${esc(r.backend)}${r.platform.runtime ? `, ${esc(r.platform.runtime)}` : ""})</span></h2>`,
  );
  if (r.scenario.description) parts.push(`<p class="description">${esc(r.scenario.description)}</p>`);
  if (r.error) parts.push(el("div", { class: "error", "data-error": r.error }, `error: ${esc(r.error)}`));
  if (status === "inconclusive") {
    const reasons = reportedInconclusiveReasons(r);
    parts.push(
      el(
        "div",
        { class: "inconclusive", "data-reasons": reasons.length },
        `<strong>INCONCLUSIVE</strong>: the verdicts back nothing, because<ul>${reasons
          .map((x) => el("li", { class: "reason" }, esc(x)))
          .join("")}</ul>`,
      ),
    );
  }
  for (const w of r.warnings) parts.push(el("div", { class: "warning" }, `warning: ${esc(w)}`));
  parts.push(facts(r));
  const voluntary = voluntaryLines(r);
  if (voluntary.length > 0) {
    parts.push(`<ul class="voluntary">${voluntary.map((l) => `<li>${esc(l)}</li>`).join("")}</ul>`);
  }
  parts.push(terminationFacts(r));
  if (r.pods.length > 0) {
    parts.push("<h3>exercise: did the disrupted pod carry traffic?</h3>");
    parts.push(exerciseTable(r));
  }

  const data = timelineData(r);
  if (data) {
    const grace = graceMs(r);
    const svg = renderTimelineSvg(data, {
      title: `${r.scenario.name} (${r.backend}): requests per 100 ms around the delete`,
      scenario: r.scenario.name,
      graceMs: grace,
    });
    parts.push(`<figure class="picture">${svg}</figure>`);
    parts.push(legend(r, new Set(data.markers.map((m) => m.kind)), grace));
  } else {
    parts.push(`<p class="muted no-picture">no timeline: nothing was measured</p>`);
  }
  if (r.load) {
    const l = r.load;
    parts.push(
      el(
        "p",
        {
          class: "load-summary",
          "data-sent": l.sent,
          "data-succeeded": l.succeeded,
          "data-failed": l.failed,
          "data-in-flight": l.inFlightAtEnd,
        },
        `${l.sent}${esc(unitSuffix(l))} sent: ${l.succeeded} succeeded, <strong>${l.failed} failed</strong> (${esc(failureSummary(l))}), ${l.inFlightAtEnd} in flight when the window closed.` +
          protocolNotes(l)
            .map((n) => ` ${esc(n)}.`)
            .join(""),
      ),
    );
  }
  parts.push("<h3>verdicts</h3>");
  parts.push(verdictTable(r));
  parts.push(timelineTable(r));
  return el(
    "section",
    {
      class: `scenario scenario-${status}`,
      id: sectionId(r),
      "data-scenario": r.scenario.name,
      "data-backend": r.backend,
      "data-status": status,
    },
    parts.join("\n"),
  );
}

export function renderHtmlReport(results: ScenarioResult[], options: HtmlOptions = {}): string {
  const title = options.title ?? "graceful-e2e report";
  const generatedAt = options.generatedAt ?? new Date().toISOString();
  const counts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
  for (const r of results) counts[statusOf(r)]++;
  const head =
    `<meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    // Nothing may be loaded from anywhere: the report must stand alone.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` +
    `<title>${esc(title)}</title><style>${CSS}</style>`;
  const body = [
    `<h1>${esc(title)}</h1>`,
    ...(options.sections ?? []),
    el(
      "p",
      {
        class: "totals",
        "data-total": results.length,
        "data-pass": counts.pass,
        "data-fail": counts.fail,
        "data-error": counts.error,
        "data-inconclusive": counts.inconclusive,
      },
      `${results.length} scenario run(s): ${counts.pass} passed, ${counts.fail} failed, ` +
        `${counts.inconclusive} inconclusive, ${counts.error} errored. Generated ${esc(generatedAt)}.`,
    ),
    results.length > 0 ? summaryTable(results) : `<p class="muted">no scenario was run</p>`,
    ...results.map(scenarioSection),
  ];
  return `<!doctype html>\n<html lang="en"><head>${head}</head>\n<body>\n${body.join("\n")}\n</body></html>\n`;
}
