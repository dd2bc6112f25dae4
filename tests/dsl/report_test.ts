// The report's layouts: a heading and the run's settings above the table, the summary style
// (the table a paper shows), chosen metrics, and which files sweep writes.
import { pipeline, sweep, type SweepRow, type SweepTable, toJson, toMarkdown } from "../../mod.ts";
import { assert, assertEquals } from "../_assert.ts";
import { tinySpec } from "./_tiny.ts";

const row = (label: string, loss: string, metrics: Record<string, number>): SweepRow => ({
  label,
  variant: { loss },
  metrics,
  loss: 0.99735,
  steps: 100,
  trainSeconds: 44.4,
  tokensPerSecond: 1883.01,
  skipped: 0,
  curve: [{ step: 100, loss: 0.99735 }],
});
const table: SweepTable = {
  axes: ["loss"],
  rows: [
    row("ce", "ce", { exactMatch: 0.1, iou: 0, count: 10, dice: 0 }),
    { ...row("0.6 ce + 0.4 focal", "focal", {}), error: "loss is NaN at step 3" },
  ],
};
const layout = {
  heading: "GSM8K: cross-entropy vs segmentation losses",
  about: { backend: "cpu", steps: 100, weights: [0.6, 0.4] },
  style: "summary",
  metrics: ["exactMatch", "iou"],
} as const;

Deno.test("report: the summary style under a heading and the run's settings", () => {
  assertEquals(
    toMarkdown(table, layout),
    `# GSM8K: cross-entropy vs segmentation losses

- backend: cpu
- steps: 100
- weights: [0.6,0.4]

| loss | exact match | step IoU | final train loss | train time | tokens/s |
|---|---:|---:|---:|---:|---:|
| ce | 10.0% | 0.000 | 0.997 | 44 s | 1883 |
| 0.6 ce + 0.4 focal | NaN% | NaN | 0.997 | 44 s | 1883 |
`,
  );
  const json = JSON.parse(toJson(table, layout));
  assertEquals(Object.keys(json), ["backend", "steps", "weights", "rows"]);
  assertEquals(json.rows[0], {
    loss: "ce",
    label: "ce",
    exactMatch: 0.1,
    iou: 0,
    finalLoss: 0.99735,
    steps: 100,
    trainSeconds: 44.4,
    tokensPerSecond: 1883.01,
    curve: [{ step: 100, loss: 0.99735 }],
  });
  assertEquals([json.rows[1].exactMatch, json.rows[1].iou], [null, null]);
});

Deno.test("report: the full style keeps its table and JSON, with the settings beside", () => {
  const md = toMarkdown(table, { about: { seed: 1 }, metrics: ["exactMatch"] });
  assert(md.startsWith("- seed: 1\n\n| loss | final loss | exactMatch | steps |"), md);
  assertEquals(toMarkdown(table), toMarkdown(table, {}));
  const json = JSON.parse(toJson(table, { about: { seed: 1 } }));
  assertEquals([json.seed, json.axes, json.rows[0].metrics.count], [1, ["loss"], 10]);
});

Deno.test("sweep: report.files picks the tables written; curves.svg is always drawn", async () => {
  const out = await Deno.makeTempDir();
  const base = pipeline(tinySpec({ steps: 2, logEvery: 1 }));
  await sweep(base, { loss: ["ce"] }, {
    out,
    progress: false,
    report: { heading: "tiny", style: "summary", files: ["md", "json"] },
  });
  const names = [];
  for await (const e of Deno.readDir(out)) if (e.isFile) names.push(e.name);
  assertEquals(names.sort(), ["curves.svg", "results.json", "results.md"]);
  assert((await Deno.readTextFile(`${out}/results.md`)).startsWith("# tiny\n\n| loss |"));
  await Deno.remove(out, { recursive: true });
});
