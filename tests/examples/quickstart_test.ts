// Smoke tests of the quick start, run as a user would: a subprocess with few steps.
import { assert, assertEquals } from "../_assert.ts";
import { runExample } from "./_run.ts";

Deno.test("quickstart example: the loss falls and it answers sums", async () => {
  const r = await runExample("quickstart.ts", ["--steps", "50", "--backend", "cpu"]);
  assertEquals(r.code, 0, r.err);
  const losses = [...r.out.matchAll(/^step +\d+ +loss (\d+\.\d+)$/gm)].map((m) => Number(m[1]));
  assertEquals(losses.length, 2, r.out);
  assert(losses[1] < losses[0], `loss should fall: ${losses}`);
  assert(/^2\+3=\S* +7\+8=/m.test(r.out), r.out);
});

Deno.test("quickstart example: --help, and bad input is one line with exit code 2", async () => {
  const help = await runExample("quickstart.ts", ["--help"]);
  assertEquals(help.code, 0);
  for (const flag of ["--steps", "--backend", "--help"]) assert(help.out.includes(flag), flag);
  const cases: [string[], string][] = [
    [["--steps", "0"], "--steps"],
    [["--steps", "many"], "--steps"],
    [["--backend", "tpu"], "--backend"],
    [["--bogus"], "bogus"],
  ];
  for (const [args, text] of cases) {
    const r = await runExample("quickstart.ts", args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert(r.err.includes(text), `${args.join(" ")}: ${r.err}`);
    assertEquals(r.err.trim().split("\n").length, 1, r.err);
  }
});
