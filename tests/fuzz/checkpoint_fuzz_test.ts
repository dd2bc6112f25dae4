// Fuzzing checkpoint folders: one file of a valid checkpoint (params, optimizer state, state,
// manifest) cut or mangled, the folder loads or throws a CheckpointError naming it; and the
// same for the older format without a manifest, where each parser meets the damage itself.
import fc from "fast-check";
import { CheckpointError, loadCheckpoint, pipeline, train, treeDispose } from "../../mod.ts";
import { assert } from "../_assert.ts";
import { tinySpec } from "../dsl/_tiny.ts";
import { applyBytes, byteEdits, fuzz } from "./_fuzz.ts";

const FILES = ["params.safetensors", "optimizer.safetensors", "state.json", "manifest.json"];

async function validCheckpoint(): Promise<Record<string, Uint8Array>> {
  const dir = await Deno.makeTempDir();
  await train(pipeline(tinySpec({ steps: 2, checkpoint: { dir, every: 2 } })), {
    progress: false,
    handleSignals: false,
  });
  const files: Record<string, Uint8Array> = {};
  for (const f of FILES) files[f] = await Deno.readFile(`${dir}/step-00000002/${f}`);
  await Deno.remove(dir, { recursive: true });
  return files;
}

for (const format of ["checked", "older"] as const) {
  Deno.test(`fuzz: checkpoint folders with one file damaged (${format} format)`, async () => {
    const valid = await validCheckpoint();
    if (format === "older") {
      const state = JSON.parse(new TextDecoder().decode(valid["state.json"]));
      valid["state.json"] = new TextEncoder().encode(JSON.stringify({ ...state, version: 1 }));
      delete valid["manifest.json"];
    }
    const names = Object.keys(valid);
    const root = await Deno.makeTempDir();
    let n = 0;
    const stats = await fuzz(
      `checkpoint (${format})`,
      fc.tuple(fc.nat({ max: names.length - 1 }), byteEdits(300)),
      async ([which, edits]) => {
        const dir = `${root}/${n++}/step-00000002`;
        await Deno.mkdir(dir, { recursive: true });
        for (const f of names) {
          await Deno.writeFile(
            `${dir}/${f}`,
            f === names[which] ? applyBytes(valid[f], edits) : valid[f],
          );
        }
        try {
          const c = await loadCheckpoint(dir);
          treeDispose([c.params, c.optState]);
        } catch (e) {
          if (e instanceof CheckpointError) assert(e.message.includes(dir), e.message);
          throw e;
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
      () => "step-00000002",
    );
    assert(stats.cases > 50, `${stats.cases} cases`);
    await Deno.remove(root, { recursive: true });
  });
}
