// Crash safety: a small sweep (two variants, checkpoints every 3 steps, an evaluator) is killed
// with SIGKILL at 10 points, some at random moments and some while a checkpoint or a results
// file is being written (the LOSSFORGE_TEST_SLOW_WRITES hook holds those writes open long
// enough to hit), and resumed each time. After every kill nothing in the run folder is
// half-written or damaged; at the end its results and event logs equal an uninterrupted run's.
import { assert, assertEquals } from "../_assert.ts";
import { assertSound, exitWatch, finish, isTemp, spawnDeno, waitFor, walk } from "./_child.ts";

const CHILD = "tests/dsl/_sweep_child.ts";
const STEPS = "45";

/** What must match between runs: results without their timings, events without theirs. */
async function outcome(dir: string): Promise<Record<string, unknown>> {
  const untimed = (r: Record<string, unknown>) => {
    const { trainSeconds: _t, tokensPerSecond: _s, ...rest } = r;
    return rest;
  };
  const result: Record<string, unknown> = {};
  for (const v of ["ce", "focal"]) {
    result[`${v}/result.json`] = untimed(
      JSON.parse(await Deno.readTextFile(`${dir}/${v}/result.json`)),
    );
    const events = (await Deno.readTextFile(`${dir}/${v}/events.jsonl`)).trim().split("\n");
    result[`${v}/events.jsonl`] = events.map((l) => {
      const { elapsed: _e, tokensPerSecond: _s, ...rest } = JSON.parse(l);
      if (rest.checkpoint) rest.checkpoint = rest.checkpoint.slice(dir.length);
      return rest;
    });
  }
  const table = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
  result["results.json"] = { ...table, rows: table.rows.map(untimed) };
  result["results.md"] = (await Deno.readTextFile(`${dir}/results.md`)).split("\n").length;
  return result;
}

/** A tiny deterministic generator for the random kill times (reproducible failures). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** The atomic writes process `pid` has in progress under `dir`, by kind. */
async function writesInProgress(
  dir: string,
  pid: number,
): Promise<{ checkpoint: string[]; results: string[] }> {
  // Leftovers of a killed run stay until the next run clears them: only `pid`'s count.
  const temps = (await walk(dir)).filter((t) => isTemp(t) && t.includes(`.tmp-${pid}-`));
  return {
    checkpoint: temps.filter((t) => /\/\.step-\d+\.tmp-[^/]*$/.test(t)),
    results: temps.filter((t) => /(^|\/)\.(result\.json|results\.\w+|curves\.svg)\.tmp-/.test(t)),
  };
}

Deno.test({
  name: "crash safety: SIGKILL at 10 points, resume each time, results equal an uninterrupted run",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const reference = await finish(spawnDeno(CHILD, [`${dir}/ref`, STEPS, "1"]));
    assertEquals(reference.code, 0, reference.err);

    const out = `${dir}/killed`;
    const random = lcg(19);
    // The results kills come last: a kill while a variant's results are written can leave no
    // checkpoint writes for the next run to be killed in.
    const kinds = [
      "checkpoint",
      "random",
      "checkpoint",
      "random",
      "checkpoint",
      "random",
      "checkpoint",
      "results",
      "results",
      "results",
    ] as const;
    const landed: string[] = [];
    let checked = 0;
    for (const kind of kinds) {
      const child = spawnDeno(CHILD, [out, STEPS, "1"], { LOSSFORGE_TEST_SLOW_WRITES: "25" });
      const watch = exitWatch(child);
      let what = "";
      if (kind === "random") {
        const ms = Math.round(200 + random() * 2300);
        await new Promise((r) => setTimeout(r, ms));
        what = `${ms} ms after start`;
      } else {
        // The first, second or third such write of this run (checkpoints: of five).
        const nth = 1 + Math.floor(random() * (kind === "checkpoint" ? 5 : 2));
        const seen = new Set<string>();
        const hit = await waitFor(async () => {
          const w = (await writesInProgress(out, child.pid))[kind];
          for (const name of w) seen.add(name);
          if (w.length) what = `while writing ${w.join(", ")} (write ${seen.size})`;
          return w.length > 0 && seen.size >= nth;
        }, { child: watch, timeoutMs: 60_000, ms: 3 });
        assert(hit, `kill ${landed.length + 1} (${kind}): no such write before the run ended`);
      }
      assert(!watch.exited, `kill ${landed.length + 1} (${kind}): the run ended first`);
      child.kill("SIGKILL");
      const r = await finish(child);
      assertEquals(r.code, 137, `kill ${landed.length + 1} (${kind}): ${r.err}`);
      landed.push(`${kind}: ${what}`);
      checked += await assertSound(out);
    }
    const last = await finish(spawnDeno(CHILD, [out, STEPS, "1"]));
    assertEquals(last.code, 0, `${landed.join("\n")}\n${last.err}`);
    assertEquals(await outcome(out), await outcome(`${dir}/ref`), landed.join("\n"));
    // The leftovers of the interrupted writes (and the dead runs' locks) are gone.
    const left = (await walk(out)).filter((p) => isTemp(p) || p.endsWith("run.lock"));
    assertEquals(left, []);
    await assertSound(out);
    assert(checked > 0, "checkpoints were checked after the kills");
    console.log(`10 kills: ${landed.join("; ")}; ${checked} checkpoint checks passed`);
    await Deno.remove(dir, { recursive: true });
  },
});
