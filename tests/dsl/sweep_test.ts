import { inlineData, pipeline, plotCurves, report, sweep, toCsv, toMarkdown } from "../../mod.ts";
import { assert, assertEquals } from "../_assert.ts";
import { checkXml } from "./_xml.ts";
import { tinySpec } from "./_tiny.ts";

Deno.test("sweep: every loss x seed combination, then report and plot", async () => {
  const rows = Array.from({ length: 16 }, (_, i) => ({
    prompt: `Q${i % 4}: `,
    target: `<<${i % 4}+1=${(i % 4) + 1}>> #### ${(i % 4) + 1}`,
  }));
  const base = pipeline(tinySpec({
    data: inlineData({ train: rows, eval: rows.slice(0, 4), maxLength: 32 }),
    eval: { kind: "exact-match", options: { maxNewTokens: 4 } },
    steps: 6,
    logEvery: 3,
  }));
  const seen: string[] = [];
  const table = await sweep(base, {
    loss: ["ce", {
      kind: "combine",
      options: { terms: [["ce", 0.6], ["dice", 0.4, { mask: "answer" }]] },
    }],
    seed: [1, 2],
  }, { progress: false, onEvent: (label, e) => e.step === 6 && seen.push(label) });
  assertEquals(table.axes, ["loss", "seed"]);
  assertEquals(table.rows.map((r) => r.label), [
    "loss=ce seed=1",
    "loss=ce seed=2",
    "loss=0.6*ce+0.4*dice@answer seed=1",
    "loss=0.6*ce+0.4*dice@answer seed=2",
  ]);
  assertEquals(seen, table.rows.map((r) => r.label));
  for (const r of table.rows) {
    assertEquals(r.metrics.count, 4);
    assert(r.metrics.exactMatch >= 0 && r.metrics.exactMatch <= 1);
    assert(r.steps === 6 && r.curve.length === 2 && r.trainSeconds > 0 && !r.error);
  }
  assert(table.rows[0].loss !== table.rows[1].loss, "seeds differ");

  const dir = await Deno.makeTempDir();
  const files = await report(table, dir);
  const md = await Deno.readTextFile(files.markdown);
  assert(md.startsWith("| loss | seed | final loss | exactMatch |"), md);
  assertEquals(md.trim().split("\n").length, 6);
  const csv = (await Deno.readTextFile(files.csv)).trim().split("\n");
  assertEquals(csv.length, 5);
  assert(csv[3].startsWith("0.6*ce+0.4*dice@answer,1,"), csv[3]);
  assertEquals(JSON.parse(await Deno.readTextFile(files.json)).rows.length, 4);
  await plotCurves(table.rows, `${dir}/curves.svg`);
  checkXml(await Deno.readTextFile(`${dir}/curves.svg`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("report: CSV quoting and Markdown escaping of odd labels", () => {
  const row = {
    label: "x",
    variant: { loss: 'a,"b"|c' },
    metrics: { exactMatch: 0.5 },
    loss: NaN,
    steps: 3,
    trainSeconds: 1,
    tokensPerSecond: 10,
    skipped: 0,
    curve: [],
    error: "loss is NaN at step 3",
  };
  const table = { axes: ["loss"], rows: [row] };
  assert(toCsv(table).split("\n")[1].startsWith(`"a,""b""|c",NaN,0.5000,3,`));
  const md = toMarkdown(table);
  assert(md.includes('a,"b"\\|c') && md.includes("Failed runs:") && md.includes("| error |"));
});
