// The audit's section of the HTML report: the ranked table and, per workload, its prediction and
// findings (evidence, fix). Self-contained markup (inline style, no script), every figure also in a
// data-* attribute. renderHtmlReport places it before the (verify) scenario runs. Pure.
import { el, esc } from "../report/html-markup.js";
import { pid1Words } from "./console.js";
import type { AuditReport, Finding, WorkloadReport } from "./types.js";

const STYLE = `
section.audit .sev { display: inline-block; padding: 1px 6px; border-radius: 3px; font-weight: 700; color: #fff; font-size: 12px; }
section.audit .sev-critical { background: #8b0000; } section.audit .sev-high { background: #c00000; }
section.audit .sev-medium { background: #b36b00; } section.audit .sev-low { background: #6b7b8c; } section.audit .sev-info { background: #9aa5b1; }
section.audit tr.failing td { background: #fff1f1; }
section.audit ul.findings { padding-left: 18px; } section.audit ul.findings li { margin: 4px 0; }
section.audit .fix { color: #1d5e20; }
`;

function badge(severity: Finding["severity"]): string {
  return el("span", { class: `sev sev-${severity}`, "data-severity": severity }, esc(severity.toUpperCase()));
}

function row(w: WorkloadReport): string {
  const top = w.findings.find((f) => f.severity === w.severity && f.fix) ?? w.findings[0];
  return el(
    "tr",
    {
      class: `audit-workload${w.failing ? " failing" : ""}`,
      "data-workload": w.id,
      "data-rank": w.rank,
      "data-severity": w.severity,
      "data-drops": w.prediction.drops,
      "data-failing": String(w.failing),
    },
    [
      el("td", { class: "num" }, String(w.rank)),
      el("td", {}, badge(w.severity)),
      el("td", {}, el("a", { href: `#audit-${w.id.replace(/[^A-Za-z0-9_-]/g, "_")}` }, esc(w.id))),
      el("td", { class: "mono" }, esc(pid1Words(w))),
      el("td", {}, esc(w.prediction.summary)),
      el("td", {}, top ? `${esc(top.title)}${top.fix ? `<br><span class="fix">fix: ${esc(top.fix)}</span>` : ""}` : ""),
    ].join(""),
  );
}

function details(w: WorkloadReport): string {
  const items = w.findings.map((f) =>
    el(
      "li",
      { "data-code": f.code, "data-severity": f.severity, "data-certainty": f.certainty },
      `${badge(f.severity)} <em>${esc(f.certainty)}</em> ${esc(f.title)}` +
        (f.evidence.length > 0
          ? `<details><summary>evidence (${esc(f.source)})</summary><pre class="mono">${esc(f.evidence.join("\n"))}</pre></details>`
          : "") +
        (f.fix ? `<div class="fix">fix: ${esc(f.fix)}</div>` : ""),
    ),
  );
  const verify = w.verify
    ? el(
        "p",
        { class: "verify", "data-failed": w.verify.failed, "data-sent": w.verify.sent },
        `verified on ${esc(w.verify.where)}: ${w.verify.sent === undefined ? esc(`not run: ${w.verify.error ?? ""}`) : esc(`${w.verify.failed ?? 0} of ${w.verify.sent} requests dropped; ${w.verify.outcome ?? ""}; prediction ${w.verify.heldWords ?? "-"}`)}`,
      )
    : "";
  return el(
    "div",
    { class: "audit-detail", id: `audit-${w.id.replace(/[^A-Za-z0-9_-]/g, "_")}`, "data-workload": w.id },
    `<h3>${w.rank}. ${badge(w.severity)} ${esc(w.id)}</h3><p>${esc(w.prediction.summary)}</p><ul class="findings">${items.join("")}</ul>${verify}`,
  );
}

export function auditHtmlSection(r: AuditReport): string {
  const s = r.summary;
  const head = ["#", "severity", "workload", "PID 1", "prediction", "top finding and fix"]
    .map((h) => `<th>${esc(h)}</th>`)
    .join("");
  return el(
    "section",
    {
      class: "audit",
      id: "audit",
      "data-workloads": s.workloads,
      "data-failing": s.failing,
      "data-fail-on": r.failOn,
      "data-read-only": String(r.access.readOnly),
    },
    [
      `<style>${STYLE}</style>`,
      `<h2>audit: ${esc(r.target.description)}</h2>`,
      el(
        "p",
        { class: "audit-summary" },
        esc(
          `${s.workloads} workload(s); ${s.failing} at or above ${r.failOn}; ${s.predictedDrops} predicted to drop requests on a delete. ` +
            `Endpoint propagation ${r.propagation.ms} ms (${r.propagation.source}: ${r.propagation.detail}). ` +
            `${r.access.readOnly ? "Read-only" : "Not read-only"}: ${r.access.used.join("; ")}.`,
        ),
      ),
      ...r.access.refused.map((x) => el("div", { class: "warning" }, esc(`refused: ${x}`))),
      r.workloads.length > 0
        ? `<table class="audit-table"><thead><tr>${head}</tr></thead><tbody>${r.workloads.map(row).join("\n")}</tbody></table>`
        : `<p class="muted">no workload matched</p>`,
      ...r.workloads.map(details),
      ...(r.skipped.length > 0
        ? [
            `<details><summary>skipped (${r.skipped.length})</summary><ul>${r.skipped.map((x) => `<li>${esc(x)}</li>`).join("")}</ul></details>`,
          ]
        : []),
    ].join("\n"),
  );
}
