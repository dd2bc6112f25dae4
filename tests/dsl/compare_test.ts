// compareRows and the report's comparison: known answers from a hand-made table, and a tiny
// 2-loss x 2-seed sweep whose results.json carries the intervals, tests and per-problem arrays.
import {
  compareRows,
  intervalsSvg,
  mcnemarExact,
  pipeline,
  sweep,
  type SweepRow,
  type SweepTable,
  toJson,
  toMarkdown,
  wilsonInterval,
} from "../../mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { tinySpec } from "./_tiny.ts";
import { checkXml } from "./_xml.ts";

const row = (loss: string, seed: string, correct: number[]): SweepRow => ({
  label: `loss=${loss} seed=${seed}`,
  variant: { loss, seed },
  metrics: {
    count: correct.length,
    exactMatch: correct.reduce((a, x) => a + x, 0) / correct.length,
  },
  loss: 1,
  steps: 10,
  trainSeconds: 1,
  tokensPerSecond: 100,
  skipped: 0,
  curve: [{ step: 10, loss: 1 }],
  problems: {
    metric: "exactMatch",
    ids: correct.map((_, i) => `p${i}`),
    correct: correct.map((x) => x === 1),
  },
});

// ce: 4 of 8 right over two seeds; focal: 7 of 8. Seed 1: focal alone gets p2 (b=1, c=0);
// seed 2: focal alone gets p1 and p3 (b=2, c=0).
const table: SweepTable = {
  axes: ["loss", "seed"],
  rows: [
    row("ce", "1", [1, 1, 0, 0]),
    row("ce", "2", [1, 0, 1, 0]),
    row("focal", "1", [1, 1, 1, 0]),
    row("focal", "2", [1, 1, 1, 1]),
  ],
};

Deno.test("compareRows: the known answers of a hand-made 2-loss x 2-seed table", () => {
  const c = compareRows(table);
  assertEquals(c.baseline, "ce");
  assertEquals(c.metric, "exactMatch");
  assertEquals(c.groups.map((g) => [g.label, g.seeds, g.problems]), [
    ["ce", ["1", "2"], 4],
    ["focal", ["1", "2"], 4],
  ]);
  const [ce, focal] = c.groups;
  assertEquals([ce.mean, focal.mean], [0.5, 0.875]);
  assertEquals([ce.interval.method, focal.interval.method], ["bootstrap", "bootstrap"]);
  assertEquals(ce.versus, undefined);
  const v = focal.versus!;
  assertEquals([v.baseline, v.seeds, v.problems], ["ce", 2, 4]);
  assertEquals(v.difference.estimate, 0.375);
  assert(v.difference.lo <= 0.375 && 0.375 <= v.difference.hi);
  // Focal is never worse on a problem, so no resample can make the difference negative.
  assert(v.difference.lo >= 0, `${v.difference.lo}`);
  // Some resamples draw seed 1 twice and miss p2: no difference, so zero stays inside.
  assertEquals([v.difference.lo, v.excludesZero], [0, false]);
  // Exact McNemar: 2 P(Bin(1, 1/2) = 0) = 1 and 2 P(Bin(2, 1/2) = 0) = 0.5; Holm: 2 * 0.5, 1.
  assertEquals(v.tests.map((t) => [t.seed, t.b, t.c, t.p, t.holm]), [
    ["1", 1, 0, 1, 1],
    ["2", 2, 0, 0.5, 1],
  ]);
  assertEquals(compareRows(table), c, "deterministic for the bootstrap's seed");
});

Deno.test("compareRows: one seed gives Wilson intervals from the problems alone", () => {
  const one: SweepTable = { axes: ["loss"], rows: [table.rows[0], table.rows[2]] };
  const c = compareRows(one);
  const w = wilsonInterval(2, 4);
  assertEquals(c.groups[0].interval, { ...w, method: "wilson" });
  assertClose(c.groups[1].interval.hi, wilsonInterval(3, 4).hi);
  assertEquals(c.groups[1].versus!.tests[0].p, mcnemarExact(1, 0));
  // The difference of one seed: a paired bootstrap over the problems.
  assertEquals(c.groups[1].versus!.difference.estimate, 0.25);
});

Deno.test("compareRows: pairs by problem id and seed, and names a missing baseline", () => {
  const shifted = row("focal", "1", [1, 1, 1, 0]);
  shifted.problems!.ids = ["p1", "p2", "p3", "p9"]; // only p1..p3 are shared with ce
  const c = compareRows({ axes: ["loss", "seed"], rows: [table.rows[0], shifted] });
  assertEquals(c.groups[1].versus!.problems, 3);
  // On p1..p3, ce is [1, 0, 0] and focal [1, 1, 1]: focal alone gets two.
  assertEquals([c.groups[1].versus!.tests[0].b, c.groups[1].versus!.tests[0].c], [2, 0]);
  assertThrows(
    () => compareRows(table, { baseline: "dice" }),
    RangeError,
    `compareRows: baseline "dice" is no loss of the table; its loss labels: "ce", "focal"`,
  );
  // A failed run is left out; rows without per-problem results keep their mean.
  const failed = { ...table.rows[3], error: "loss is NaN at step 3" };
  const plain = { ...table.rows[2], problems: undefined };
  const d = compareRows({ axes: ["loss", "seed"], rows: [table.rows[0], plain, failed] });
  assertEquals(d.groups[1].interval.method, "wilson");
  assertEquals(d.groups[1].seeds, ["1"]);
});

Deno.test("report: the comparison below the table and in results.json, or left out", () => {
  const md = toMarkdown(table, { style: "summary", metrics: ["exactMatch"] });
  assert(md.includes("## Comparison: exactMatch, 95% intervals"), md);
  assert(md.includes("| focal | 2 | 4 | 87.5% |"), md);
  assert(md.includes("| +37.5 pts"), md);
  assert(md.includes("1: 1.000 (1.000); 2: 0.500 (1.000)"), md);
  assert(!toMarkdown(table, { compare: false }).includes("Comparison"));
  const json = JSON.parse(toJson(table, { style: "summary", metrics: ["exactMatch"] }));
  assertEquals(json.comparison.groups[1].versus.difference.estimate, 0.375);
  assertEquals(json.rows[3].problems.correct, [true, true, true, true]);
  const full = JSON.parse(toJson(table, { compare: { baseline: "focal" } }));
  assertEquals(full.comparison.baseline, "focal");
  assertEquals(full.comparison.groups[0].versus.difference.estimate, -0.375);
});

Deno.test("intervalsSvg: a point and an error bar per group, labels escaped", () => {
  const odd = {
    ...table,
    rows: table.rows.map((r) => ({
      ...r,
      variant: { ...r.variant, loss: r.variant.loss === "ce" ? "ce" : `<&"'>` },
    })),
  };
  const svg = intervalsSvg(compareRows(odd), { title: "exact match & friends" });
  checkXml(svg);
  assertEquals(svg.match(/<circle /g)?.length, 2);
  assert(svg.includes("&lt;&amp;&quot;&apos;&gt;"), svg);
  assert(svg.includes(`stroke-dasharray="4 4"`), "the baseline's mean as a dashed line");
  checkXml(intervalsSvg(compareRows({ axes: ["loss"], rows: [] })));
});

Deno.test("sweep: 2 losses x 2 seeds keep per-problem results and compare them", async () => {
  const dir = await Deno.makeTempDir();
  const base = pipeline(
    tinySpec({ steps: 6, eval: { kind: "exactMatch", options: { maxNewTokens: 4 } } }),
  );
  const t = await sweep(base, { loss: ["ce", "focal"], seed: [1, 2] }, {
    out: dir,
    progress: false,
  });
  for (const r of t.rows) {
    assertEquals(r.problems?.metric, "exactMatch");
    assertEquals(r.problems?.ids.length, 4);
    assert(r.problems!.ids.every((id) => /^\d+:[0-9a-f]{8}$/.test(id)), r.problems!.ids.join());
    const right = r.problems!.correct.filter(Boolean).length;
    assertEquals(right / 4, r.metrics.exactMatch);
  }
  // The same held-out problems under every seed and loss: they pair.
  assertEquals(new Set(t.rows.map((r) => r.problems!.ids.join())).size, 1);
  const kept = JSON.parse(
    await Deno.readTextFile(`${dir}/loss=focal seed=2/result.json`.replace(" ", "_")),
  );
  assertEquals(kept.problems, t.rows[3].problems);
  const results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
  const g = results.comparison.groups;
  assertEquals(g.map((x: { label: string }) => x.label), ["ce", "focal"]);
  // Seeds alike on every problem give the problems' Wilson interval, else the bootstrap runs.
  const answers = t.rows.slice(0, 2).flatMap((r) => r.problems!.correct);
  const alike = answers.every((x) => x === answers[0]);
  assertEquals(g[0].interval.method, alike ? "wilson" : "bootstrap");
  assert(g[0].interval.hi > g[0].interval.lo, "never zero width");
  assert(g[0].interval.lo <= g[0].mean && g[0].mean <= g[0].interval.hi);
  assertEquals(g[1].versus.tests.length, 2);
  for (const test of g[1].versus.tests) assert(test.p > 0 && test.p <= 1);
  assertEquals(results.rows[0].problems.ids.length, 4);
  // Beside curves.svg: the means with error bars, and one dashed curve per seed.
  const intervals = await Deno.readTextFile(`${dir}/intervals.svg`);
  checkXml(intervals);
  assertEquals(intervals.match(/<circle /g)?.length, 2);
  const seeds = await Deno.readTextFile(`${dir}/seeds.svg`);
  checkXml(seeds);
  assertEquals(seeds.match(/<polyline /g)?.length, 4);
  assertEquals(seeds.match(/stroke-dasharray="6 3" points/g)?.length, 2);
  // resume reads the rows back with their problems, and the comparison comes out the same.
  const again = await sweep(base, { loss: ["ce", "focal"], seed: [1, 2] }, {
    out: dir,
    progress: false,
    resume: true,
  });
  assertEquals(compareRows(again), compareRows(t));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("compareRows: seeds that agree on every problem get the problems' Wilson interval", () => {
  const alike: SweepTable = {
    axes: ["loss", "seed"],
    rows: [
      row("ce", "1", [0, 0, 0, 0]),
      row("ce", "2", [0, 0, 0, 0]),
      row("focal", "1", [1, 1, 1, 1]),
      row("focal", "2", [1, 1, 1, 1]),
      row("dice", "1", [1, 0, 0, 0]),
      row("dice", "2", [1, 0, 0, 0]),
    ],
  };
  const [ce, focal, dice] = compareRows(alike).groups;
  // A bootstrap of identical answers would give [0, 0] and [1, 1]: no width at all.
  assertEquals(ce.interval, { ...wilsonInterval(0, 4), method: "wilson" });
  assertEquals(focal.interval, { ...wilsonInterval(4, 4), method: "wilson" });
  assert(ce.interval.hi > 0.4 && focal.interval.lo < 0.6, JSON.stringify([ce, focal]));
  // Answers that differ between problems still resample.
  assertEquals(dice.interval.method, "bootstrap");
});
