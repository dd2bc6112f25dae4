// Fuzzing the safetensors codec: mutated and truncated files, and mutated headers re-encoded
// with a correct length, decode or throw a named error naming the file; a header that claims
// terabytes is refused before anything that size is allocated.
import fc from "fast-check";
import {
  decodeSafetensors,
  encodeSafetensors,
  LossforgeError,
  readSafetensorsFile,
  readSafetensorsHeader,
} from "../../mod.ts";
import { assert, assertEquals } from "../_assert.ts";
import { applyBytes, applyJson, byteEdits, fuzz, jsonEdits } from "./_fuzz.ts";

const SOURCE = "fuzz.safetensors";

/** A small valid file: every dtype the codec writes, and metadata. */
function validFile(): Uint8Array {
  return encodeSafetensors({
    "model.embed.weight": { dtype: "F32", shape: [4, 3], data: new Float32Array(12).fill(0.5) },
    "model.norm.weight": { dtype: "F16", shape: [3], data: new Float32Array([1, 2, 3]) },
    "model.bf": { dtype: "BF16", shape: [2], data: new Float32Array([1, -1]) },
    "model.d": { dtype: "F64", shape: [1], data: new Float64Array([Math.PI]) },
    "ids": { dtype: "I32", shape: [2, 2], data: new Int32Array([1, 2, 3, 4]) },
    "wide": { dtype: "I64", shape: [2], data: new BigInt64Array([5n, -6n]) },
  }, { format: "pt" });
}

function headerOf(bytes: Uint8Array): { length: number; json: unknown } {
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  return { length: n, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) };
}

/** A file with `header` as its JSON (length prefix set to fit) and `data` after it. */
function withHeader(header: unknown, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

Deno.test("fuzz: safetensors bytes mutated or truncated", async () => {
  const valid = validFile();
  const { length } = headerOf(valid);
  const stats = await fuzz(
    "safetensors bytes",
    byteEdits(8 + length),
    (edits) => {
      decodeSafetensors(applyBytes(valid, edits), { source: SOURCE });
    },
    () => SOURCE,
  );
  assert(stats.cases > 100, `${stats.cases} cases`);
});

Deno.test("fuzz: safetensors headers mutated (length prefix kept right)", async () => {
  const valid = validFile();
  const { length, json } = headerOf(valid);
  const data = valid.subarray(8 + length);
  const stats = await fuzz(
    "safetensors header",
    jsonEdits(),
    (edits) => {
      decodeSafetensors(withHeader(applyJson(json, edits), data), { source: SOURCE });
    },
    () => SOURCE,
  );
  assert(stats.cases > 100, `${stats.cases} cases`);
});

Deno.test("safetensors: headers claiming terabytes are refused before allocation", async () => {
  const valid = validFile();
  const { length, json } = headerOf(valid);
  const data = valid.subarray(8 + length);
  const dir = await Deno.makeTempDir();
  const cases: [string, Uint8Array][] = [];
  // The length prefix: 1 TiB, 2^63, 2^64 - 1.
  for (const n of [2n ** 40n, 2n ** 63n, 2n ** 64n - 1n]) {
    const b = valid.slice();
    new DataView(b.buffer).setBigUint64(0, n, true);
    cases.push([`header length ${n}`, b]);
  }
  // A tensor whose shape and offsets claim 4 TB of data the file does not have.
  const huge = structuredClone(json) as Record<string, Record<string, unknown>>;
  huge["model.embed.weight"] = { dtype: "F32", shape: [1e12], data_offsets: [0, 4e12] };
  cases.push(["a [1e12] tensor", withHeader(huge, data)]);
  huge["model.embed.weight"] = { dtype: "F32", shape: [2 ** 26, 2 ** 26], data_offsets: [0, 48] };
  cases.push(["a [2^26, 2^26] tensor in 48 bytes", withHeader(huge, data)]);
  const rss0 = Deno.memoryUsage().rss;
  for (const [what, bytes] of cases) {
    const path = `${dir}/${what.replaceAll(/\W+/g, "_")}.safetensors`;
    await Deno.writeFile(path, bytes);
    for (
      const read of [
        // deno-lint-ignore require-await
        async () => decodeSafetensors(bytes, { source: path }),
        () => readSafetensorsHeader(path),
        () => readSafetensorsFile(path),
      ]
    ) {
      const t0 = performance.now();
      const e = await read().then(() => undefined, (e) => e);
      assert(e instanceof LossforgeError, `${what}: ${e}`);
      assert(e.message.includes(path), `${what}: ${e.message}`);
      assert(performance.now() - t0 < 200, `${what}: took ${performance.now() - t0} ms`);
    }
  }
  const grew = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
  assert(grew < 64, `resident memory grew ${grew.toFixed(0)} MiB`);
  assertEquals(cases.length, 5);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fuzz: safetensors files read from disk, cut anywhere", async () => {
  const valid = validFile();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${SOURCE}`;
  const stats = await fuzz(
    "safetensors file",
    fc.integer({ min: 0, max: valid.length }),
    async (cut) => {
      await Deno.writeFile(path, valid.subarray(0, cut));
      await readSafetensorsHeader(path);
      await readSafetensorsFile(path);
    },
    () => path,
  );
  assert(stats.cases > 50, `${stats.cases} cases`);
  await Deno.remove(dir, { recursive: true });
});
