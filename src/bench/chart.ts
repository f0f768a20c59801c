// The sweep's chart: failed requests and termination time against the preStop delay, as a
// Vega-Lite spec (pure) rendered to SVG by Vega's headless View (no native dependency), and to
// PNG by resvg (WebAssembly) when a TrueType font is found on this machine.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { TopLevelSpec } from "vega-lite";
import type { DelayRow, PointMeasurement, SweepMode } from "./sweep.js";

export interface ChartOptions {
  title: string;
  subtitle: string[];
  mode: SweepMode;
  zeroFailureDelay?: number;
}

const WIDTH = 560;
const HEIGHT = 190;
const X_TITLE = "preStop sleep (s)";
const SERIES_SCALE = {
  domain: ["delete → container exit", "delete → pod gone", "the preStop sleep itself"],
  range: ["#2c7fb8", "#7fcdbb", "#999999"],
};

/** The Vega-Lite spec. Pure. */
export function sweepChartSpec(rows: DelayRow[], points: PointMeasurement[], opts: ChartOptions): TopLevelSpec {
  const maxDelay = Math.max(0, ...rows.map((r) => r.delaySeconds));
  const x = {
    field: "delay",
    type: "quantitative" as const,
    title: X_TITLE,
    scale: { domain: [0, maxDelay > 0 ? maxDelay : 1], nice: false },
  };
  const runs = points
    .filter((p) => p.error === undefined)
    .map((p) => ({ delay: p.delaySeconds, repeat: p.repeat, failed: p.failed }));
  const failedRows = rows
    .filter((r) => r.failed)
    .map((r) => ({ delay: r.delaySeconds, mean: r.failed?.mean, min: r.failed?.min, max: r.failed?.max }));
  const zero =
    opts.zeroFailureDelay === undefined
      ? []
      : [{ delay: opts.zeroFailureDelay, label: `smallest zero-failure delay: ${opts.zeroFailureDelay} s` }];

  const series: Array<{ delay: number; series: string; seconds: number; min?: number; max?: number }> = [];
  for (const r of rows) {
    if (r.terminationS)
      series.push({
        delay: r.delaySeconds,
        series: "delete → container exit",
        seconds: r.terminationS.mean,
        min: r.terminationS.min,
        max: r.terminationS.max,
      });
    if (r.goneS) series.push({ delay: r.delaySeconds, series: "delete → pod gone", seconds: r.goneS.mean });
    series.push({ delay: r.delaySeconds, series: "the preStop sleep itself", seconds: r.delaySeconds });
  }
  const rangeRows = series.filter((s) => s.min !== undefined && s.max !== undefined && s.min !== s.max);

  const failedPanel = {
    title: "failed requests per run (dots: runs; line: mean; bars: min–max)",
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values: failedRows },
        mark: { type: "rule" as const, color: "#c0392b", strokeWidth: 2 },
        encoding: { x, y: { field: "min", type: "quantitative" as const }, y2: { field: "max" } },
      },
      {
        data: { values: failedRows },
        mark: { type: "line" as const, color: "#c0392b", point: { color: "#c0392b" } },
        encoding: { x, y: { field: "mean", type: "quantitative" as const, title: "failed requests" } },
      },
      {
        data: { values: runs },
        mark: { type: "circle" as const, color: "#34495e", opacity: 0.55, size: 45 },
        encoding: { x, y: { field: "failed", type: "quantitative" as const } },
      },
      ...(zero.length > 0
        ? [
            {
              data: { values: zero },
              mark: { type: "rule" as const, color: "#27ae60", strokeDash: [4, 3], strokeWidth: 2 },
              encoding: { x },
            },
            {
              data: { values: zero },
              mark: {
                type: "text" as const,
                color: "#27ae60",
                // Right of the marker, or left of it when the marker is in the right half.
                align: (opts.zeroFailureDelay ?? 0) > maxDelay / 2 ? ("right" as const) : ("left" as const),
                dx: (opts.zeroFailureDelay ?? 0) > maxDelay / 2 ? -5 : 5,
                dy: -4,
                baseline: "top" as const,
              },
              encoding: { x, y: { value: 0 }, text: { field: "label" } },
            },
          ]
        : []),
    ],
  };

  const terminationPanel = {
    title: "termination time (mean; bars: min–max over pods and repeats)",
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values: rangeRows },
        mark: { type: "rule" as const, strokeWidth: 2 },
        encoding: {
          x,
          y: { field: "min", type: "quantitative" as const },
          y2: { field: "max" },
          color: { field: "series", type: "nominal" as const, scale: SERIES_SCALE },
        },
      },
      {
        data: { values: series },
        mark: { type: "line" as const, point: true },
        encoding: {
          x,
          y: { field: "seconds", type: "quantitative" as const, title: "seconds after the delete" },
          color: {
            field: "series",
            type: "nominal" as const,
            title: null,
            scale: SERIES_SCALE,
            legend: { orient: "right" as const, labelLimit: 400 },
          },
          strokeDash: {
            field: "series",
            type: "nominal" as const,
            scale: {
              domain: SERIES_SCALE.domain,
              range: [
                [1, 0],
                [2, 2],
                [5, 4],
              ],
            },
            title: null,
          },
        },
      },
    ],
  };

  const panels: unknown[] = [failedPanel, terminationPanel];
  if (opts.mode === "rollout") {
    const rollout = rows
      .filter((r) => r.rolloutS)
      .map((r) => ({ delay: r.delaySeconds, mean: r.rolloutS?.mean, min: r.rolloutS?.min, max: r.rolloutS?.max }));
    panels.push({
      title: "total rollout time (start → last old pod gone)",
      width: WIDTH,
      height: HEIGHT,
      layer: [
        {
          data: { values: rollout },
          mark: { type: "rule" as const, color: "#8e44ad", strokeWidth: 2 },
          encoding: { x, y: { field: "min", type: "quantitative" as const }, y2: { field: "max" } },
        },
        {
          data: { values: rollout },
          mark: { type: "line" as const, color: "#8e44ad", point: { color: "#8e44ad" } },
          encoding: { x, y: { field: "mean", type: "quantitative" as const, title: "seconds" } },
        },
      ],
    });
  }

  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: opts.title, subtitle: opts.subtitle, anchor: "start" },
    background: "white",
    padding: 12,
    config: { font: "sans-serif", title: { fontSize: 15 }, axis: { labelFontSize: 11, titleFontSize: 12 } },
    vconcat: panels,
  } as TopLevelSpec;
}

/** Renders a Vega-Lite spec to SVG with Vega's headless View. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vl = await import("vega-lite");
  const vega = await import("vega");
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const FONT_CANDIDATES: Array<[string, string]> = [
  ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVu Sans"],
  ["/usr/share/fonts/dejavu/DejaVuSans.ttf", "DejaVu Sans"],
  ["/usr/share/fonts/TTF/DejaVuSans.ttf", "DejaVu Sans"],
  ["/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "Liberation Sans"],
  ["/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf", "Liberation Sans"],
  ["/System/Library/Fonts/Supplemental/Arial.ttf", "Arial"],
  ["/Library/Fonts/Arial.ttf", "Arial"],
  ["C:\\Windows\\Fonts\\arial.ttf", "Arial"],
];

let wasmReady: Promise<void> | undefined;

/**
 * SVG → PNG with resvg (WebAssembly, no native build). Text needs a font file: without one the
 * PNG would have no labels, so none is made and the reason is returned instead.
 */
export async function renderPng(svg: string, scale = 2): Promise<{ png?: Uint8Array; note?: string }> {
  const font = FONT_CANDIDATES.find(([path]) => existsSync(path));
  if (!font) return { note: "no TrueType font found (e.g. apt-get install fonts-dejavu-core): PNG not rendered" };
  try {
    const resvg = await import("@resvg/resvg-wasm");
    wasmReady ??= readFile(createRequire(import.meta.url).resolve("@resvg/resvg-wasm/index_bg.wasm")).then((wasm) =>
      resvg.initWasm(wasm),
    );
    await wasmReady;
    const fontBuffer = new Uint8Array(await readFile(font[0]));
    const renderer = new resvg.Resvg(svg, {
      background: "white",
      fitTo: { mode: "zoom", value: scale },
      font: { fontBuffers: [fontBuffer], defaultFontFamily: font[1], sansSerifFamily: font[1], loadSystemFonts: false },
    });
    const png = renderer.render().asPng();
    renderer.free();
    return { png };
  } catch (err) {
    return { note: `PNG rendering failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
