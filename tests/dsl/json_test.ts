import {
  buildPart,
  crossEntropy,
  describe,
  isRegistered,
  pipeline,
  PipelineError,
  pipelineFromJSON,
  registered,
  toJSON,
  train,
} from "../../mod.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { tinySpec } from "./_tiny.ts";

const combined = {
  kind: "combine",
  options: { terms: [["ce", 0.6], [{ kind: "lovasz" }, 0.4, { mask: "answer" }]] },
};

Deno.test("toJSON / pipelineFromJSON: a round trip through a JSON string", () => {
  const p = pipeline(tinySpec({
    name: "combo",
    loss: combined as never,
    schedule: { kind: "warmupCosine", options: { peak: 0.05, warmup: 2, steps: 30 } },
    eval: { kind: "exact-match", options: { limit: 2, maxNewTokens: 4 } },
    clip: 1,
    checkpoint: { dir: "runs/x", every: 10 },
  }));
  const json = toJSON(p);
  const text = JSON.stringify(json);
  const back = pipelineFromJSON(text);
  assertEquals(toJSON(back), json);
  assertEquals(json.loss, { kind: "combine", options: combined.options });
  assertEquals(json.checkpoint, { dir: "runs/x", every: 10, keep: 3 });
  assertEquals(json.data.kind, "inline");
  assertEquals([back.name, back.clip, back.steps, back.batchSize], ["combo", 1, 30, 4]);
  assertEquals(back.schedule!(2), p.schedule!(2));
});

Deno.test("pipelineFromJSON: the rebuilt pipeline trains to the same losses", async () => {
  const p = pipeline(tinySpec({ steps: 10 }));
  const a = await train(p, { progress: false, handleSigint: false });
  const b = await train(pipelineFromJSON(JSON.stringify(toJSON(p))), {
    progress: false,
    handleSigint: false,
  });
  assertEquals(b.curve, a.curve);
});

Deno.test("toJSON: parts without a spec are all listed", () => {
  const p = pipeline(tinySpec({
    loss: (logits, targets) => crossEntropy()(logits, targets),
    optimizer: {
      init: () => ({ step: 0, slots: {} }),
      update: (_g, s, params) => ({ params, state: s }),
    },
  }));
  const e = assertThrows(() => toJSON(p), PipelineError) as PipelineError;
  assertEquals(e.problems.map((x) => x.path), ["loss", "optimizer"]);
  // describe() makes a custom part serialisable under a registered name.
  const q = pipeline({ ...p, loss: describe(crossEntropy(), { kind: "ce" }) });
  assertEquals(toJSON({ ...q, optimizer: buildPart("optimizer", "adam") }).loss, {
    kind: "ce",
  });
});

Deno.test("pipelineFromJSON: bad JSON and bad specs are PipelineErrors", () => {
  assertThrows(() => pipelineFromJSON("{nope"), PipelineError, "not valid JSON");
  assertThrows(
    () => pipelineFromJSON({ ...toJSON(pipeline(tinySpec())), optimizer: { kind: "adamx" } }),
    PipelineError,
    'optimizer.kind: unknown optimizer "adamx" (known: adam, adamw, sgd)',
  );
  assert(registered("data").includes("gsm8kSynthetic"));
});

Deno.test("pipelineFromJSON: kinds under their old names load and are written under the new", () => {
  const old = {
    ...toJSON(pipeline(tinySpec())),
    data: { kind: "gsm8k-synthetic", options: { count: 8, evalCount: 2, maxLength: 16 } },
    eval: { kind: "exact-match", options: { limit: 2 } },
  };
  const back = toJSON(pipelineFromJSON(old));
  assertEquals([back.data.kind, back.eval?.kind], ["gsm8kSynthetic", "exactMatch"]);
  assert(
    isRegistered("data", "gsm8k-synthetic") && !registered("data").includes("gsm8k-synthetic"),
  );
});
