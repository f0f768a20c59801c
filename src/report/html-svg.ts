// The timeline picture of one scenario as an inline SVG string: successful requests per 100 ms on
// top, failed requests per 100 ms stacked by kind below, vertical markers across both, x in
// seconds relative to the delete. Scales and ticks come from d3-scale; the markup is ours, so
// every element carries data-* attributes a test (or a curious reader) can check against the JSON.
import { type ScaleLinear, scaleLinear } from "d3-scale";
import { FAILURE_KINDS, type FailureKind } from "../load/types.js";
import { formatOffset } from "../observe/timeline.js";
import { attrs, esc, num } from "./html-markup.js";
import type { MarkerKind, TimelineData } from "./html-timeline.js";
import { layoutLabels } from "./html-timeline.js";

export const SUCCESS_COLOR = "#7fb48e";

export const FAILURE_COLORS: Record<FailureKind, string> = {
  reset: "#d62728",
  refused: "#ff7f0e",
  timeout: "#9467bd",
  "non-2xx": "#8c564b",
  closed: "#e7298a",
  error: "#555555",
  "goaway-refused": "#bcbd22",
  "rst-stream": "#17becf",
  "grpc-unavailable": "#1f77b4",
  "grpc-other": "#393b79",
  "grpc-not-serving": "#6b6ecf",
  "ws-abnormal": "#843c39",
  "ws-lost": "#e6550d",
};

export const MARKER_STYLES: Record<MarkerKind, { color: string; dash?: string; width: number }> = {
  delete: { color: "#111111", width: 2 },
  "endpoint-removed": { color: "#1f77b4", dash: "6 3", width: 1.5 },
  "prestop-start": { color: "#17a2b8", dash: "2 3", width: 1.5 },
  "prestop-end": { color: "#17a2b8", dash: "2 3", width: 1.5 },
  "prestop-failed": { color: "#b8176d", dash: "2 3", width: 1.5 },
  "sigterm-sent": { color: "#e6a45c", dash: "1 3", width: 1.5 },
  sigterm: { color: "#e67e00", width: 1.5 },
  exit: { color: "#2e8b3a", width: 1.5 },
  sigkill: { color: "#c00000", width: 2.5 },
  "last-connection": { color: "#6a3d9a", dash: "4 2 1 2", width: 1.5 },
  eviction: { color: "#444444", dash: "3 2", width: 1 },
  "eviction-refused": { color: "#d4a017", dash: "3 2", width: 1 },
  cordon: { color: "#000000", dash: "8 3", width: 1.5 },
};

/** The ready endpoints' step line over the success panel. */
export const READY_COLOR = "#0b4f8a";

export interface SvgOptions {
  /** Accessible title of the picture. */
  title: string;
  /** data-scenario on the <svg>. */
  scenario?: string;
  /** Grace period in ms, drawn as a band from the delete. */
  graceMs?: number;
  width?: number;
}

const WIDTH = 960;
const MARGIN_LEFT = 58;
const MARGIN_RIGHT = 16;
const ROW_HEIGHT = 14;
const SUCCESS_HEIGHT = 150;
const FAILURE_HEIGHT = 70;
const PANEL_GAP = 24;
/** Estimated width of one character of the 11 px label font. */
const CHAR_WIDTH = 6.3;

/** "+2 s", "0 s", "−1.5 s": tick labels in seconds. */
export function secondsLabel(s: number): string {
  const r = Math.round(s * 1000) / 1000;
  if (r === 0) return "0 s";
  return `${r > 0 ? "+" : "−"}${Math.abs(r)} s`;
}

function integerTicks(scale: { ticks(n: number): number[] }, n: number): number[] {
  return scale.ticks(n).filter((v) => Number.isInteger(v));
}

/** Where everything of one picture goes: the scales, the panels' edges, the marker labels' rows. */
interface SvgLayout {
  width: number;
  height: number;
  plotLeft: number;
  plotRight: number;
  from: number;
  to: number;
  x: ScaleLinear<number, number>;
  /** Each marker's label: its row and x. */
  placed: ReturnType<typeof layoutLabels>;
  labelTop: number;
  successTop: number;
  successBottom: number;
  failureTop: number;
  failureBottom: number;
  ySuccess: ScaleLinear<number, number>;
  yFailure: ScaleLinear<number, number>;
  barWidth(t: number): number;
}

function svgLayout(data: TimelineData, options: SvgOptions): SvgLayout {
  const width = options.width ?? WIDTH;
  const plotLeft = MARGIN_LEFT;
  const plotRight = width - MARGIN_RIGHT;
  const [from, to] = data.domain;
  const x = scaleLinear().domain([from, to]).range([plotLeft, plotRight]);

  // Marker labels on as many rows as they need.
  const boxes = data.markers.map((m) => ({ x: x(m.t) + 3, width: m.label.length * CHAR_WIDTH }));
  const placed = layoutLabels(boxes, plotRight);
  const rows = Math.max(1, ...placed.map((p) => p.row + 1));
  const labelTop = 6;
  const successTop = labelTop + rows * ROW_HEIGHT + 16;
  const successBottom = successTop + SUCCESS_HEIGHT;
  const failureTop = successBottom + PANEL_GAP;
  const failureBottom = failureTop + FAILURE_HEIGHT;

  const maxSuccess = Math.max(1, ...data.successes.map((b) => b.count));
  const ySuccess = scaleLinear().domain([0, maxSuccess]).nice(4).range([successBottom, successTop]);
  const maxFailure = Math.max(1, ...data.failures.map((b) => b.total));
  const yFailure = scaleLinear().domain([0, maxFailure]).nice(3).range([failureBottom, failureTop]);
  return {
    width,
    height: failureBottom + 40,
    plotLeft,
    plotRight,
    from,
    to,
    x,
    placed,
    labelTop,
    successTop,
    successBottom,
    failureTop,
    failureBottom,
    ySuccess,
    yFailure,
    barWidth: (t: number) => Math.max(1, x(t + data.bucketMs) - x(t) - 1),
  };
}

export function renderTimelineSvg(data: TimelineData, options: SvgOptions): string {
  const l = svgLayout(data, options);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg"${attrs({
      class: "timeline",
      viewBox: `0 0 ${l.width} ${num(l.height)}`,
      width: l.width,
      height: num(l.height),
      role: "img",
      "data-scenario": options.scenario,
      "data-origin": data.origin,
      "data-from": data.domain[0],
      "data-to": data.domain[1],
      "font-family": "system-ui, -apple-system, 'Segoe UI', sans-serif",
      "font-size": 11,
    })}>`,
  );
  out.push(`<title>${esc(options.title)}</title>`);
  out.push(...axes(l));
  out.push(...graceBand(l, options.graceMs));
  out.push(...successBars(data, l));
  if (data.readyEndpoints) {
    out.push(
      readyEndpointsLine(data.readyEndpoints, l.x, [l.from, l.to], [l.successTop, l.successBottom], l.plotRight),
    );
  }
  out.push(...failureBars(data, l));
  out.push(...markers(data, l));
  out.push("</svg>");
  return out.join("\n");
}

/** The grid, the x axis in seconds since the delete, and both panels' y axes. */
function axes(l: SvgLayout): string[] {
  const { x, from, to, plotLeft, plotRight, successTop, successBottom, failureTop, failureBottom } = l;
  const out: string[] = [];
  const xTicks = x
    .copy()
    .domain([from / 1000, to / 1000])
    .ticks(12);
  out.push(`<g class="grid" stroke="#e6e6e6" stroke-width="1">`);
  for (const s of xTicks) {
    const px = num(x(s * 1000));
    out.push(`<line x1="${px}" x2="${px}" y1="${num(successTop)}" y2="${num(failureBottom)}"/>`);
  }
  out.push("</g>");
  out.push(`<g class="axis x-axis" fill="#333" text-anchor="middle">`);
  for (const s of xTicks) {
    const px = num(x(s * 1000));
    out.push(`<line x1="${px}" x2="${px}" y1="${num(failureBottom)}" y2="${num(failureBottom + 4)}" stroke="#333"/>`);
    out.push(`<text${attrs({ x: px, y: num(failureBottom + 16), "data-tick": s })}>${esc(secondsLabel(s))}</text>`);
  }
  out.push(
    `<text x="${num((plotLeft + plotRight) / 2)}" y="${num(failureBottom + 33)}">time since the delete (s)</text>`,
  );
  out.push("</g>");
  out.push(
    yAxis(
      l.ySuccess,
      integerTicks(l.ySuccess, 4),
      plotLeft,
      plotRight,
      "successes / 100 ms",
      successTop,
      successBottom,
    ),
  );
  out.push(
    yAxis(l.yFailure, integerTicks(l.yFailure, 3), plotLeft, plotRight, "failures / 100 ms", failureTop, failureBottom),
  );
  return out;
}

/** The grace period as a band along the top of the success panel. */
function graceBand(l: SvgLayout, graceMs: number | undefined): string[] {
  if (graceMs === undefined || graceMs <= 0 || l.from >= graceMs) return [];
  const x0 = l.x(Math.max(l.from, 0));
  const x1 = l.x(Math.min(l.to, graceMs));
  return [
    `<g class="grace"${attrs({ "data-grace-ms": graceMs })}><title>grace period: ${esc(graceMs / 1000)} s from the delete</title>` +
      `<rect x="${num(x0)}" y="${num(l.successTop - 9)}" width="${num(Math.max(0, x1 - x0))}" height="4" fill="#cfcfcf"/></g>`,
  ];
}

/** Successful requests per bucket. */
function successBars(data: TimelineData, l: SvgLayout): string[] {
  const out: string[] = [`<g class="bars successes" fill="${SUCCESS_COLOR}">`];
  for (const b of data.successes) {
    if (b.count === 0) continue;
    const y = l.ySuccess(b.count);
    out.push(
      `<rect${attrs({
        "data-series": "success",
        "data-t": b.t,
        "data-count": b.count,
        x: num(l.x(b.t)),
        y: num(y),
        width: num(l.barWidth(b.t)),
        height: num(l.successBottom - y),
      })}><title>${esc(`${b.count} succeeded in [${formatOffset(b.t)}, ${formatOffset(b.t + data.bucketMs)})`)}</title></rect>`,
    );
  }
  out.push("</g>");
  return out;
}

/** Failed requests per bucket, stacked by kind; or why there are none. */
function failureBars(data: TimelineData, l: SvgLayout): string[] {
  const { x, yFailure, plotLeft, plotRight } = l;
  const out: string[] = [`<g class="bars failures">`];
  for (const b of data.failures) {
    let base = 0;
    for (const kind of FAILURE_KINDS) {
      const count = b.byKind[kind] ?? 0;
      if (count === 0) continue;
      const yTop = yFailure(base + count);
      const yBottom = yFailure(base);
      base += count;
      out.push(
        `<rect${attrs({
          "data-series": "failure",
          "data-kind": kind,
          "data-t": b.t,
          "data-count": count,
          x: num(x(b.t)),
          y: num(yTop),
          width: num(l.barWidth(b.t)),
          height: num(yBottom - yTop),
          fill: FAILURE_COLORS[kind],
        })}><title>${esc(`${count} ${kind} in [${formatOffset(b.t)}, ${formatOffset(b.t + data.bucketMs)})`)}</title></rect>`,
      );
    }
  }
  if (!data.loadMeasured) {
    out.push(
      `<text class="no-load" x="${num((plotLeft + plotRight) / 2)}" y="${num(l.successTop + SUCCESS_HEIGHT / 2)}" text-anchor="middle" fill="#7a1fa2">no load measured: the run ended before the load generator reported</text>`,
    );
  } else if (data.failures.length === 0) {
    out.push(
      `<text x="${num(plotRight - 6)}" y="${num(l.failureTop + 14)}" text-anchor="end" fill="#2e8b3a">no failed requests</text>`,
    );
  }
  out.push("</g>");
  return out;
}

/** Markers: a line across both panels, the label on its row above. */
function markers(data: TimelineData, l: SvgLayout): string[] {
  const out: string[] = [`<g class="markers">`];
  data.markers.forEach((m, i) => {
    const style = MARKER_STYLES[m.kind];
    const p = l.placed[i] ?? { row: 0, x: l.x(m.t) };
    const px = num(l.x(m.t));
    const rowY = l.labelTop + p.row * ROW_HEIGHT;
    out.push(
      `<g${attrs({
        class: `marker marker-${m.kind}`,
        "data-marker": m.kind,
        "data-event": m.event,
        "data-t": m.t,
        "data-pod": m.pod,
        "data-process": m.process,
      })}><title>${esc(`${m.label} at ${formatOffset(m.t)}${m.pod ? ` (${m.pod})` : ""}`)}</title>` +
        `<line${attrs({
          x1: px,
          x2: px,
          y1: num(rowY + 2),
          y2: num(l.failureBottom),
          stroke: style.color,
          "stroke-width": style.width,
          "stroke-dasharray": style.dash,
        })}/>` +
        `<text${attrs({ x: num(p.x), y: num(rowY + 11), fill: style.color, "font-weight": m.kind === "sigkill" || m.kind === "delete" ? "bold" : undefined })}>${esc(m.label)}</text></g>`,
    );
  });
  out.push("</g>");
  return out;
}

function yAxis(
  scale: (v: number) => number,
  ticks: number[],
  left: number,
  right: number,
  title: string,
  top: number,
  bottom: number,
): string {
  const out = [`<g class="axis y-axis" fill="#333" text-anchor="end">`];
  for (const v of ticks) {
    const y = num(scale(v));
    out.push(`<line x1="${num(left)}" x2="${num(right)}" y1="${y}" y2="${y}" stroke="${v === 0 ? "#999" : "#eee"}"/>`);
    out.push(`<text x="${num(left - 6)}" y="${num(scale(v) + 4)}">${v}</text>`);
  }
  const mid = num((top + bottom) / 2);
  out.push(
    `<text x="12" y="${mid}" text-anchor="middle" transform="rotate(-90 12 ${mid})" fill="#555">${esc(title)}</text>`,
  );
  out.push("</g>");
  return out.join("\n");
}

/**
 * The ready endpoints as a step line across the success panel, on its own scale (0 … the most seen),
 * labelled on the right: each step holds until the next sample, the last one to the end of the domain.
 */
function readyEndpointsLine(
  samples: ReadonlyArray<{ t: number; ready: number }>,
  x: (t: number) => number,
  [from, to]: [number, number],
  [top, bottom]: [number, number],
  right: number,
): string {
  const max = Math.max(1, ...samples.map((s) => s.ready));
  const y = scaleLinear()
    .domain([0, max])
    .range([bottom, top + 4]);
  const clamp = (t: number) => Math.min(to, Math.max(from, t));
  const points: string[] = [];
  samples.forEach((s, i) => {
    const start = clamp(s.t);
    const end = clamp(samples[i + 1]?.t ?? to);
    points.push(`${num(x(start))},${num(y(s.ready))}`, `${num(x(end))},${num(y(s.ready))}`);
  });
  const labels = [...new Set(samples.map((s) => s.ready))].map(
    (v) => `<text x="${num(right + 2)}" y="${num(y(v) + 4)}" text-anchor="start">${v}</text>`,
  );
  const data = samples.map((s) => `${s.t}:${s.ready}`).join(" ");
  return (
    `<g${attrs({ class: "ready-endpoints", "data-series": "ready-endpoints", "data-samples": data })} fill="${READY_COLOR}">` +
    `<title>ready endpoints (from the watch)</title>` +
    `<polyline points="${points.join(" ")}" fill="none" stroke="${READY_COLOR}" stroke-width="1.5"/>` +
    `${labels.join("")}</g>`
  );
}
