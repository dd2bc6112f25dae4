// Fuzzing GSM8K JSONL: a valid file cut and mangled reads, or throws a DataError naming the
// file and line; with skipBad, bad lines are counted and never thrown.
import { DataError, readGsm8kJsonl } from "../../mod.ts";
import { assert } from "../_assert.ts";
import { applyBytes, byteEdits, fuzz } from "./_fuzz.ts";

const line = (i: number) =>
  JSON.stringify({
    question: `Ann has ${i} apples and gets 2 more. How many does she have?`,
    answer: `She has ${i}+2=<<${i}+2=${i + 2}>>${i + 2} apples.\n#### ${i + 2}`,
  });
const VALID = new TextEncoder().encode(Array.from({ length: 20 }, (_, i) => line(i)).join("\n"));

Deno.test("fuzz: GSM8K JSONL cut and mangled", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/train.jsonl`;
  const stats = await fuzz("gsm8k jsonl", byteEdits(400), async (edits) => {
    const bytes = applyBytes(VALID, edits);
    await Deno.writeFile(path, bytes);
    // Skipping bad lines, nothing is thrown: every line is a record or a counted problem.
    const lenient = await readGsm8kJsonl(path, { skipBad: true });
    assert(lenient.problems.every((p) => p.startsWith(`${path}:`)), lenient.problems.join("\n"));
    const strict = await readGsm8kJsonl(path).catch((e) => {
      if (e instanceof DataError) assert(/:\d+: /.test(e.message), e.message); // file:line
      throw e;
    });
    assert(strict.skipped === 0 && lenient.skipped === 0, "a strict read skips nothing");
  }, () => path);
  assert(stats.cases > 50, `${stats.cases} cases`);
  await Deno.remove(dir, { recursive: true });
});
