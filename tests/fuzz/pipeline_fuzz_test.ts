// Fuzzing pipeline JSON (what `deno task train config.json` reads): mutated node by node, or
// its text cut and mangled, it builds a pipeline or throws a PipelineError listing each
// problem with the field's path.
import { pipeline, PipelineError, pipelineFromJSON, toJSON } from "../../mod.ts";
import { assert } from "../_assert.ts";
import { applyBytes, applyJson, byteEdits, fuzz, jsonEdits } from "./_fuzz.ts";

const valid = toJSON(pipeline({
  name: "fuzz",
  model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
  loss: { kind: "combine", options: { terms: [["ce", 0.6], ["lovasz", 0.4, { mask: "answer" }]] } },
  optimizer: { kind: "adamw", options: { lr: 1e-3, weightDecay: 0.01 } },
  schedule: { kind: "warmupCosine", options: { peak: 1e-3, warmup: 2, steps: 8 } },
  data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
  eval: { kind: "exactMatch", options: { limit: 4, maxNewTokens: 4 } },
  steps: 8,
  clip: 1,
  checkpoint: { dir: "runs/fuzz", every: 4, keep: 2 },
}));

/** A PipelineError must say where: every problem has the path of its field. */
function withPaths(build: () => unknown): void {
  try {
    build();
  } catch (e) {
    if (e instanceof PipelineError) {
      assert(e.problems.length > 0 && e.problems.every((p) => typeof p.path === "string"));
    }
    throw e;
  }
}

Deno.test("fuzz: pipeline JSON mutated node by node", async () => {
  const stats = await fuzz("pipeline JSON", jsonEdits(), (edits) => {
    withPaths(() => pipelineFromJSON(applyJson(valid, edits) as typeof valid));
  }, () => "");
  assert(stats.cases > 100, `${stats.cases} cases`);
});

Deno.test("fuzz: pipeline JSON text cut and mangled", async () => {
  const text = new TextEncoder().encode(JSON.stringify(valid, null, 2));
  const stats = await fuzz("pipeline text", byteEdits(), (edits) => {
    withPaths(() => pipelineFromJSON(new TextDecoder().decode(applyBytes(text, edits))));
  }, () => "");
  assert(stats.cases > 100, `${stats.cases} cases`);
});
