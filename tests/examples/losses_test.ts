// Smoke tests of the losses example: every loss for a few steps, then the files it writes.
import { assert, assertEquals } from "../_assert.ts";
import { assertBadInput, runExample } from "./_run.ts";
import { checkXml } from "../dsl/_xml.ts";
import { LOSS_NAMES } from "../../mod.ts";

Deno.test("losses example: every loss runs and the results and chart are written", async () => {
  const dir = `${await Deno.makeTempDir()}/out`;
  const r = await runExample("losses.ts", ["--steps", "5", "--backend", "cpu", "--out", dir]);
  assertEquals(r.code, 0, r.err);
  assert(r.out.includes("| loss | rare recall |"), r.out);
  const results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
  assertEquals(
    results.rows.map((row: { loss: string }) => row.loss),
    [...LOSS_NAMES],
  );
  for (const row of results.rows) {
    for (const v of [...row.recall, ...row.iou, row.meanIou, row.accuracy]) {
      assert(v >= 0 && v <= 1, `${row.loss}: metric ${v}`);
    }
    assert(Number.isFinite(row.finalLoss), `${row.loss}: loss ${row.finalLoss}`);
  }
  assert((await Deno.readTextFile(`${dir}/results.md`)).includes("| tversky"));
  const svg = await Deno.readTextFile(`${dir}/chart.svg`);
  assert(svg.startsWith("<svg xmlns="), svg.slice(0, 40));
  checkXml(svg);
  assertEquals(
    [...svg.matchAll(/<rect [^>]*><title>/g)].length,
    LOSS_NAMES.length * 4,
    "4 bars per loss",
  );
});

Deno.test("losses example: training moves the rare class", async () => {
  const dir = `${await Deno.makeTempDir()}/out`;
  const r = await runExample("losses.ts", ["--losses", "tversky", "--steps", "60", "--out", dir]);
  assertEquals(r.code, 0, r.err);
  const [row] = JSON.parse(await Deno.readTextFile(`${dir}/results.json`)).rows;
  assert(row.recall[2] > 0.2, `tversky rare recall ${row.recall[2]}`);
});

Deno.test("losses example: bad input is one line, exit code 2, nothing written", async () => {
  const help = await runExample("losses.ts", ["--help"]);
  assertEquals(help.code, 0);
  for (const flag of ["--losses", "--steps", "--seed", "--backend", "--out"]) {
    assert(help.out.includes(flag), flag);
  }
  const cases: [string[], string][] = [
    [["--losses", "ce,nope"], "valid: ce, focal"],
    [["--steps", "x"], "--steps"],
    [["--backend", "tpu"], "--backend"],
    [["--bogus"], "bogus"],
  ];
  await assertBadInput("losses.ts", cases);
});
