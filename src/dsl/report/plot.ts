/**
 * Plots without dependencies: an SVG with the loss curves of several runs (left) and, when
 * the runs have metrics, a bar per run for one metric (right); and a comparison's means with
 * their intervals as error bars. Text is XML-escaped, so any label is safe.
 *
 * @module
 */

import { writeFileAtomic } from "../../util/atomic.ts";
import type { Comparison } from "./compare.ts";
import type { SweepRow } from "./table.ts";

/**
 * One run to plot (a `SweepRow` is one).
 *
 * @example
 * ```ts
 * import { type Curve, curvesSvg } from "@lossforge/core";
 * const runs: Curve[] = [
 *   {
 *     label: "ce",
 *     curve: [{ step: 10, loss: 2.1 }, { step: 20, loss: 1.7 }],
 *     metrics: { exactMatch: 0.2 },
 *   },
 *   { label: "focal", curve: [{ step: 10, loss: 2.3 }, { step: 20, loss: 1.6 }] },
 * ];
 * const svg = curvesSvg(runs); // the two loss curves, and exact match as bars
 * ```
 */
export interface Curve {
  /** Legend text. */
  label: string;
  /** Points, in step order. */
  curve: readonly { step: number; loss: number }[];
  /** Metrics for the bar chart. */
  metrics?: Readonly<Record<string, number>>;
  /**
   * Curves of one group (one loss under several seeds) share a colour and differ in their
   * dashes. Default: every curve its own colour.
   */
  group?: string;
}

/**
 * Options of {@linkcode curvesSvg} and {@linkcode plotCurves}.
 *
 * @example
 * ```ts
 * import { curvesSvg } from "@lossforge/core";
 * const runs = [{ label: "ce", curve: [{ step: 10, loss: 2.1 }], metrics: { iou: 0.4 } }];
 * // Bars of the steps' IoU instead of exact match, under a title.
 * const svg = curvesSvg(runs, { title: "GSM8K: loss and step IoU", metric: "iou" });
 * console.log(svg.includes("GSM8K: loss and step IoU")); // true
 * ```
 */
export interface PlotOptions {
  /** A title above the plots. */
  title?: string;
  /** The metric drawn as bars (default `"exactMatch"`; none drawn if no run has it). */
  metric?: string;
}

const COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/**
 * Escapes text for XML content and attribute values.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./plot.ts";
 * console.log(escapeXml(`a<b & "c"`)); // "a&lt;b &amp; &quot;c&quot;"
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!,
  ).replace(FORBIDDEN, "");
}

// Characters XML 1.0 forbids (control codes other than tab, newline, return).
// deno-lint-ignore no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-2 || a >= 1e4) ? x.toExponential(1) : String(Number(x.toFixed(3)));
}

/**
 * The SVG text for `curves`.
 *
 * @example
 * ```ts
 * import { curvesSvg } from "@lossforge/core";
 * const svg = curvesSvg([{ label: "ce", curve: [{ step: 1, loss: 2 }, { step: 2, loss: 1 }] }]);
 * console.log(svg.startsWith("<?xml")); // true
 * ```
 */
export function curvesSvg(curves: readonly Curve[], options: PlotOptions = {}): string {
  const metric = options.metric ?? "exactMatch";
  const withMetric = curves.filter((c) => typeof c.metrics?.[metric] === "number");
  const bars = withMetric.length > 0;
  const W = bars ? 960 : 640, H = 400, top = options.title ? 50 : 30;
  const plot = { x: 60, y: top, w: 520, h: H - top - 60 };
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (options.title) {
    out.push(
      `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${
        escapeXml(options.title)
      }</text>`,
    );
  }
  const pts = curves.flatMap((c) => c.curve.filter((p) => Number.isFinite(p.loss)));
  const x0 = Math.min(0, ...pts.map((p) => p.step)), x1 = Math.max(1, ...pts.map((p) => p.step));
  let y0 = Math.min(...pts.map((p) => p.loss)), y1 = Math.max(...pts.map((p) => p.loss));
  if (!pts.length) [y0, y1] = [0, 1];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const sx = (s: number) => plot.x + ((s - x0) / (x1 - x0)) * plot.w;
  const sy = (l: number) => plot.y + plot.h - ((l - y0) / (y1 - y0)) * plot.h;
  // Axes, ticks and grid.
  out.push(`<g stroke="#ccc" stroke-width="1">`);
  for (let i = 0; i <= 4; i++) {
    const y = plot.y + (plot.h * i) / 4;
    out.push(`<line x1="${plot.x}" y1="${y}" x2="${plot.x + plot.w}" y2="${y}"/>`);
  }
  out.push(`</g>`);
  out.push(
    `<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#333"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = y1 - ((y1 - y0) * i) / 4, y = plot.y + (plot.h * i) / 4;
    out.push(`<text x="${plot.x - 6}" y="${y + 4}" text-anchor="end">${escapeXml(fmt(v))}</text>`);
    const s = x0 + ((x1 - x0) * i) / 4;
    out.push(
      `<text x="${sx(s)}" y="${plot.y + plot.h + 16}" text-anchor="middle">${
        escapeXml(fmt(Math.round(s)))
      }</text>`,
    );
  }
  out.push(
    `<text x="${plot.x + plot.w / 2}" y="${plot.y + plot.h + 34}" text-anchor="middle">step</text>`,
  );
  out.push(
    `<text x="16" y="${plot.y + plot.h / 2}" text-anchor="middle" transform="rotate(-90 16 ${
      plot.y + plot.h / 2
    })">training loss</text>`,
  );
  const style = curveStyles(curves);
  curves.forEach((c, i) => {
    const { color, dash } = style[i];
    const dashed = dash ? ` stroke-dasharray="${dash}"` : "";
    const line = c.curve.filter((p) => Number.isFinite(p.loss))
      .map((p) => `${sx(p.step).toFixed(1)},${sy(p.loss).toFixed(1)}`).join(" ");
    if (line) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${dashed} points="${line}"><title>${
          escapeXml(c.label)
        }</title></polyline>`,
      );
    }
    const ly = plot.y + 14 + i * 16;
    out.push(
      c.group === undefined
        ? `<rect x="${plot.x + plot.w - 150}" y="${
          ly - 9
        }" width="10" height="10" fill="${color}"/>`
        : `<line x1="${plot.x + plot.w - 156}" y1="${ly - 4}" x2="${plot.x + plot.w - 140}" y2="${
          ly - 4
        }" stroke="${color}" stroke-width="2"${dashed}/>`,
    );
    out.push(`<text x="${plot.x + plot.w - 136}" y="${ly}">${escapeXml(c.label)}</text>`);
  });
  if (bars) {
    const b = { x: 660, y: top, w: 270, h: plot.h };
    const values = withMetric.map((c) => c.metrics![metric]);
    const vmax = Math.max(1e-9, ...values.map((v) => (Number.isFinite(v) ? v : 0)));
    const slot = b.w / withMetric.length, bw = Math.max(4, slot * 0.7);
    out.push(
      `<text x="${b.x + b.w / 2}" y="${b.y - 8}" text-anchor="middle">${escapeXml(metric)}</text>`,
    );
    out.push(
      `<line x1="${b.x}" y1="${b.y + b.h}" x2="${b.x + b.w}" y2="${b.y + b.h}" stroke="#333"/>`,
    );
    withMetric.forEach((c, i) => {
      const v = Number.isFinite(values[i]) ? values[i] : 0;
      const h = (v / vmax) * (b.h - 20);
      const x = b.x + i * slot + (slot - bw) / 2;
      const color = style[curves.indexOf(c)].color;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${(b.y + b.h - h).toFixed(1)}" width="${
          bw.toFixed(1)
        }" height="${h.toFixed(1)}" fill="${color}"><title>${
          escapeXml(`${c.label}: ${fmt(values[i])}`)
        }</title></rect>`,
      );
      out.push(
        `<text x="${(x + bw / 2).toFixed(1)}" y="${
          (b.y + b.h - h - 4).toFixed(1)
        }" text-anchor="middle">${escapeXml(fmt(values[i]))}</text>`,
      );
    });
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/**
 * A sweep's rows as curves grouped by every axis but `seed`: each loss one colour, each seed
 * one dash, for {@linkcode curvesSvg}.
 *
 * @example
 * ```ts
 * import { curvesSvg, seedCurves, type SweepRow } from "@lossforge/core";
 * const row = (loss: string, seed: string): SweepRow => ({
 *   label: `loss=${loss} seed=${seed}`,
 *   variant: { loss, seed },
 *   metrics: {},
 *   loss: 1,
 *   steps: 2,
 *   trainSeconds: 1,
 *   tokensPerSecond: 1,
 *   skipped: 0,
 *   curve: [{ step: 1, loss: 2 }, { step: 2, loss: 1 }],
 * });
 * const curves = seedCurves([row("ce", "1"), row("ce", "2"), row("focal", "1")]);
 * console.log(curves.map((c) => c.group)); // ["loss=ce", "loss=ce", "loss=focal"]
 * const svg = curvesSvg(curves, { title: "loss per seed" });
 * ```
 */
export function seedCurves(rows: readonly SweepRow[]): Curve[] {
  return rows.map((r) => ({
    label: r.label,
    curve: r.curve,
    group: Object.entries(r.variant).filter(([a]) => a !== "seed").map(([a, v]) => `${a}=${v}`)
      .join(" "),
  }));
}

/** Dashes told apart at a glance, for the curves of one group after the first (solid). */
const DASHES = ["", "6 3", "2 3", "8 3 2 3", "12 4"];

/** Each curve's colour (its own, or its group's) and dash (its place in its group). */
function curveStyles(curves: readonly Curve[]): { color: string; dash: string }[] {
  const groups = new Map<string, number>();
  const seen = new Map<string, number>();
  return curves.map((c, i) => {
    if (c.group === undefined) return { color: COLORS[i % COLORS.length], dash: "" };
    if (!groups.has(c.group)) groups.set(c.group, groups.size);
    const k = seen.get(c.group) ?? 0;
    seen.set(c.group, k + 1);
    return { color: COLORS[groups.get(c.group)! % COLORS.length], dash: DASHES[k % DASHES.length] };
  });
}

/**
 * A comparison's groups as points with error bars: each group's mean metric and its interval
 * (`compareRows`), the baseline's mean as a dashed line across. A group without an interval
 * is a point alone.
 *
 * @example
 * ```ts
 * import { compareRows, intervalsSvg, type SweepRow } from "@lossforge/core";
 * const row = (loss: string, correct: boolean[]): SweepRow => ({
 *   label: loss,
 *   variant: { loss },
 *   metrics: { exactMatch: correct.filter(Boolean).length / correct.length },
 *   loss: 1,
 *   steps: 1,
 *   trainSeconds: 1,
 *   tokensPerSecond: 1,
 *   skipped: 0,
 *   curve: [],
 *   problems: { metric: "exactMatch", ids: correct.map((_, i) => `${i}`), correct },
 * });
 * const c = compareRows({ axes: ["loss"], rows: [row("ce", [true, false]), row("dice", [true, true])] });
 * const svg = intervalsSvg(c, { title: "exact match, 95% intervals" });
 * console.log(svg.includes("<line")); // true: the error bars
 * ```
 */
export function intervalsSvg(c: Comparison, options: { title?: string } = {}): string {
  const W = Math.max(420, 120 + 90 * c.groups.length), H = 380;
  const top = options.title ? 50 : 30;
  const plot = { x: 70, y: top, w: W - 100, h: H - top - 70 };
  const share = c.metric === "exactMatch" || c.metric === "accuracy";
  const ends = c.groups.flatMap((g) => [g.mean, g.interval.lo, g.interval.hi])
    .filter(Number.isFinite);
  let [y0, y1] = share ? [0, 1] : [Math.min(0, ...ends), Math.max(1e-9, ...ends)];
  if (!share && y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  if (share && ends.length) y1 = Math.min(1, Math.ceil(Math.max(...ends) * 10 + 1e-9) / 10);
  const sy = (v: number) => plot.y + plot.h - ((v - y0) / (y1 - y0)) * plot.h;
  const value = (v: number) => share ? `${(100 * v).toFixed(1)}%` : fmt(v);
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (options.title) {
    out.push(
      `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${
        escapeXml(options.title)
      }</text>`,
    );
  }
  out.push(`<g stroke="#ccc" stroke-width="1">`);
  for (let i = 0; i <= 4; i++) {
    const y = plot.y + (plot.h * i) / 4;
    out.push(`<line x1="${plot.x}" y1="${y}" x2="${plot.x + plot.w}" y2="${y}"/>`);
  }
  out.push(`</g>`);
  out.push(
    `<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#333"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = y1 - ((y1 - y0) * i) / 4, y = plot.y + (plot.h * i) / 4;
    out.push(
      `<text x="${plot.x - 6}" y="${y + 4}" text-anchor="end">${escapeXml(value(v))}</text>`,
    );
  }
  const pct = Math.round(100 * c.confidence);
  out.push(
    `<text x="16" y="${plot.y + plot.h / 2}" text-anchor="middle" transform="rotate(-90 16 ${
      plot.y + plot.h / 2
    })">${escapeXml(`${c.metric} (${pct}% interval)`)}</text>`,
  );
  const base = c.groups.find((g) => g.variant[c.axis] === c.baseline);
  if (base && Number.isFinite(base.mean)) {
    const y = sy(base.mean).toFixed(1);
    out.push(
      `<line x1="${plot.x}" y1="${y}" x2="${
        plot.x + plot.w
      }" y2="${y}" stroke="#888" stroke-dasharray="4 4"><title>${
        escapeXml(`${base.label}: ${value(base.mean)}`)
      }</title></line>`,
    );
  }
  const slot = plot.w / Math.max(1, c.groups.length);
  c.groups.forEach((g, i) => {
    const color = COLORS[i % COLORS.length];
    const x = (plot.x + slot * (i + 0.5)).toFixed(1);
    const { lo, hi } = g.interval;
    if (Number.isFinite(lo) && Number.isFinite(hi)) {
      const [a, b] = [sy(lo).toFixed(1), sy(hi).toFixed(1)];
      const cap = (y: string) =>
        `<line x1="${(Number(x) - 8).toFixed(1)}" y1="${y}" x2="${
          (Number(x) + 8).toFixed(1)
        }" y2="${y}"/>`;
      out.push(
        `<g stroke="${color}" stroke-width="2"><line x1="${x}" y1="${a}" x2="${x}" y2="${b}"/>${
          cap(a)
        }${cap(b)}<title>${
          escapeXml(`${g.label}: ${value(lo)} to ${value(hi)} (${g.interval.method})`)
        }</title></g>`,
      );
    }
    if (Number.isFinite(g.mean)) {
      out.push(
        `<circle cx="${x}" cy="${sy(g.mean).toFixed(1)}" r="4" fill="${color}"><title>${
          escapeXml(`${g.label}: ${value(g.mean)}`)
        }</title></circle>`,
      );
      out.push(
        `<text x="${(Number(x) + 10).toFixed(1)}" y="${(sy(g.mean) + 4).toFixed(1)}">${
          escapeXml(value(g.mean) + (g.versus?.excludesZero ? " *" : ""))
        }</text>`,
      );
    }
    out.push(
      `<text x="${x}" y="${plot.y + plot.h + 18}" text-anchor="middle">${
        escapeXml(g.label)
      }</text>`,
    );
    out.push(
      `<text x="${x}" y="${plot.y + plot.h + 34}" text-anchor="middle" fill="#555">${
        escapeXml(`${g.seeds.length} seed(s), ${g.problems} problems`)
      }</text>`,
    );
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/**
 * Writes {@linkcode intervalsSvg} to `path` (atomically).
 *
 * @example
 * ```ts
 * import { compareRows, plotIntervals, pipeline, sweep } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   eval: { kind: "exactMatch", options: { maxNewTokens: 8 } },
 *   steps: 4,
 * });
 * const table = await sweep(base, { loss: ["ce", "focal"], seed: [1, 2] });
 * await plotIntervals(compareRows(table), "intervals.svg");
 * ```
 */
export async function plotIntervals(
  c: Comparison,
  path: string,
  options: { title?: string } = {},
): Promise<void> {
  await writeFileAtomic(path, intervalsSvg(c, options));
}

/**
 * Writes {@linkcode curvesSvg} to `path` (atomically).
 *
 * @example
 * ```ts
 * import { plotCurves } from "@lossforge/core";
 * const runs = [{ label: "ce", curve: [{ step: 10, loss: 2.1 }, { step: 20, loss: 1.7 }] }];
 * await plotCurves(runs, "curves.svg");
 * ```
 */
export async function plotCurves(
  curves: readonly Curve[],
  path: string,
  options: PlotOptions = {},
): Promise<void> {
  await writeFileAtomic(path, curvesSvg(curves, options));
}
