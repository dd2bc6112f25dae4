import fc from "fast-check";
import {
  bf16ToF32,
  decodeSafetensors,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  loadShardedIndex,
  readSafetensorsFile,
  readSafetensorsHeader,
  writeSafetensorsFile,
} from "../../src/nn/safetensors_codec.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  haveTinyLlama,
  TINY_LLAMA_DIR,
} from "./_assert.ts";

const bitsToF32 = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0];
const h = (v: number): number => f32ToF16([v])[0];
const bf = (bits: number): number => f32ToBf16(new Float32Array([bitsToF32(bits)]))[0];

/** Build a safetensors buffer by hand from a header string and data bytes. */
function handBuilt(header: string, data: Uint8Array = new Uint8Array(), n?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("f16: known bit patterns", () => {
  assertEquals(h(1), 0x3c00);
  assertEquals(h(-2), 0xc000);
  assertEquals(h(65504), 0x7bff);
  assertEquals(h(65519), 0x7bff, "below the rounding midpoint stays finite");
  assertEquals(h(65520), 0x7c00, "the midpoint to 2^16 rounds (to even) to inf");
  assertEquals(h(2 ** -24), 0x0001, "smallest subnormal");
  assertEquals(h(2 ** -14), 0x0400, "smallest normal");
  assertEquals(h(2 ** -14 - 2 ** -24), 0x03ff, "largest subnormal");
  assertEquals(h(2 ** -25), 0x0000, "tie at half the smallest subnormal rounds to even (0)");
  assertEquals(h(1.5 * 2 ** -25), 0x0001);
  assertEquals(h(3 * 2 ** -25), 0x0002, "subnormal tie 1.5 ulp rounds to even (2)");
  assertEquals(h(1 + 2 ** -11), 0x3c00, "tie rounds to even");
  assertEquals(h(1 + 3 * 2 ** -11), 0x3c02, "tie rounds to even (up)");
  assertEquals(h(1e-10), 0x0000);
  assertEquals(h(-0), 0x8000);
  assertEquals(h(Infinity), 0x7c00);
  assertEquals(h(-Infinity), 0xfc00);
  assertEquals(h(1e6), 0x7c00);
  const nan = h(NaN);
  assert((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0, `NaN -> ${nan.toString(16)}`);
  assertEquals(
    Array.from(f16ToF32(new Uint16Array([0x3c00, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x8000]))),
    [1, 65504, 2 ** -24, 2 ** -14, Infinity, -Infinity, -0],
  );
  assert(Number.isNaN(f16ToF32(new Uint16Array([0x7e00]))[0]));
});

Deno.test("f16: every non-NaN half round-trips through f32", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = f32ToF16(f16ToF32(all));
  for (let i = 0; i < 65536; i++) {
    const isNan = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
    if (isNan) assert(Number.isNaN(f16ToF32(new Uint16Array([back[i]]))[0]));
    else if (back[i] !== i) {
      throw new Error(`half 0x${i.toString(16)} -> 0x${back[i].toString(16)}`);
    }
  }
});

Deno.test("f16: f32 -> f16 rounds to the nearest half (fast-check)", () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, min: -70000, max: 70000 }), (x) => {
      const v = f16ToF32(f32ToF16([x]))[0];
      if (!Number.isFinite(v)) return Math.abs(x) >= 65520;
      // no other finite half is closer
      const bits = f32ToF16([x])[0];
      for (const nb of [bits - 1, bits + 1]) {
        if (nb < 0 || nb > 0xffff || (nb & 0x7c00) === 0x7c00) continue;
        const w = f16ToF32(new Uint16Array([nb]))[0];
        if (Math.sign(w) === Math.sign(v) && Math.abs(w - x) < Math.abs(v - x)) return false;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});

Deno.test("bf16: known bit patterns and round-to-nearest-even", () => {
  assertEquals(f32ToBf16([1])[0], 0x3f80);
  assertEquals(f32ToBf16([-2])[0], 0xc000);
  assertEquals(bf(0x3f808000), 0x3f80, "tie, lower is even: round down");
  assertEquals(bf(0x3f818000), 0x3f82, "tie, lower is odd: round up");
  assertEquals(bf(0x3f808001), 0x3f81, "above the tie");
  assertEquals(bf(0x3f807fff), 0x3f80, "below the tie");
  assertEquals(bf(0x7f7fffff), 0x7f80, "max f32 rounds to inf");
  assertEquals(bf(0x00000001), 0x0000, "tiny subnormal rounds to zero");
  assertEquals(bf(0x00018000), 0x0002, "subnormal tie rounds to even");
  assertEquals(f32ToBf16([Infinity, -Infinity, -0]), new Uint16Array([0x7f80, 0xff80, 0x8000]));
  const nan = bf(0x7f800001); // signaling NaN whose payload is all in the low half
  assert((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0, `NaN -> ${nan.toString(16)}`);
  assertEquals(
    Array.from(bf16ToF32(new Uint16Array([0x3f80, 0xc000, 0x7f80, 0x0001]))),
    [1, -2, Infinity, bitsToF32(0x00010000)],
  );
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = f32ToBf16(bf16ToF32(all));
  for (let i = 0; i < 65536; i++) {
    const isNan = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
    if (!isNan && back[i] !== i) throw new Error(`bf16 0x${i.toString(16)} did not round-trip`);
  }
});

Deno.test("encode: layout matches the spec (length prefix, 8-byte alignment, offsets)", () => {
  const bytes = encodeSafetensors(
    {
      a: { dtype: "F32", shape: [2], data: new Float32Array([1, -1]) },
      b: { dtype: "I32", shape: [1, 1], data: new Int32Array([7]) },
    },
    { format: "pt" },
  );
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(n % 8, 0, "header length is a multiple of 8");
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert(headerText.startsWith("{"), headerText);
  assert(/^[^ ]*\} *$/.test(headerText), "padding is trailing spaces");
  const header = JSON.parse(headerText);
  assertEquals(header, {
    __metadata__: { format: "pt" },
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "I32", shape: [1, 1], data_offsets: [8, 12] },
  });
  assertEquals(bytes.length, 8 + n + 12);
  const data = bytes.subarray(8 + n);
  assertEquals(Array.from(data.subarray(0, 8)), [0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xbf]);
  assertEquals(Array.from(data.subarray(8)), [7, 0, 0, 0]);
});

Deno.test("decode: a hand-built (unpadded) buffer", () => {
  const header = '{"x":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},' +
    '"y":{"dtype":"BF16","shape":[1],"data_offsets":[6,8]},' +
    '"z":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"__metadata__":{"k":"v"}}';
  const data = new Uint8Array(24);
  const dv = new DataView(data.buffer);
  dv.setUint16(0, 0x3c00, true);
  dv.setUint16(2, 0x7bff, true);
  dv.setUint16(4, 0x0001, true);
  dv.setUint16(6, 0x3f80, true);
  dv.setBigInt64(8, -5n, true);
  dv.setBigInt64(16, 2147483647n, true);
  const { tensors, metadata } = decodeSafetensors(handBuilt(header, data));
  assertEquals(metadata, { k: "v" });
  assertEquals(tensors.x, {
    dtype: "F16",
    shape: [3],
    data: new Float32Array([1, 65504, 2 ** -24]),
  });
  assertEquals(tensors.y, { dtype: "BF16", shape: [1], data: new Float32Array([1]) });
  assertEquals(tensors.z, { dtype: "I64", shape: [2], data: new Int32Array([-5, 2147483647]) });
});

Deno.test("round trip for each dtype", () => {
  const f32 = new Float32Array([0, -1.5, 3.25, 1e-30, -Infinity, 6]);
  const bytes = encodeSafetensors({
    f32: { dtype: "F32", shape: [2, 3], data: f32 },
    f64: { dtype: "F64", shape: [3], data: new Float64Array([Math.PI, -0, 1e300]) },
    i32: { dtype: "I32", shape: [4], data: new Int32Array([0, -1, 2 ** 31 - 1, -(2 ** 31)]) },
    i64: { dtype: "I64", shape: [2], data: new BigInt64Array([-3n, 2n ** 31n - 1n]) },
    i64b: { dtype: "I64", shape: [1], data: new Int32Array([-7]) },
    f16: { dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x0001]) },
    f16f: { dtype: "F16", shape: [2], data: new Float32Array([0.5, 65504]) },
    bf16: { dtype: "BF16", shape: [2], data: new Float32Array([1, -2.5]) },
    empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    scalar: { dtype: "F32", shape: [], data: new Float32Array([42]) },
  });
  const { tensors, metadata } = decodeSafetensors(bytes, { source: "mem" });
  assertEquals(metadata, {});
  assertEquals(tensors.f32, { dtype: "F32", shape: [2, 3], data: f32 });
  assertEquals(tensors.f64.data, new Float64Array([Math.PI, -0, 1e300]));
  assertEquals(tensors.i32.data, new Int32Array([0, -1, 2 ** 31 - 1, -(2 ** 31)]));
  assertEquals(tensors.i64, { dtype: "I64", shape: [2], data: new Int32Array([-3, 2 ** 31 - 1]) });
  assertEquals(tensors.i64b.data, new Int32Array([-7]));
  assertEquals(tensors.f16.data, new Float32Array([1, -2, 2 ** -24]));
  assertEquals(tensors.f16f.data, new Float32Array([0.5, 65504]));
  assertEquals(tensors.bf16, { dtype: "BF16", shape: [2], data: new Float32Array([1, -2.5]) });
  assertEquals(tensors.empty.shape, [0, 4]);
  assertEquals(tensors.scalar, { dtype: "F32", shape: [], data: new Float32Array([42]) });
});

Deno.test("round trip: arbitrary F32 tensors (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.dictionary(
        fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== "__metadata__"),
        fc.array(fc.float(), { maxLength: 10 }),
        { maxKeys: 5 },
      ),
      (dict) => {
        const entries = Object.fromEntries(
          Object.entries(dict).map((
            [k, v],
          ) => [k, { dtype: "F32" as const, shape: [v.length], data: new Float32Array(v) }]),
        );
        const out = decodeSafetensors(encodeSafetensors(entries)).tensors;
        assertEquals(Object.keys(out).sort(), Object.keys(entries).sort());
        for (const [k, e] of Object.entries(entries)) assertEquals(out[k].data, e.data);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("encode: invalid entries are rejected", () => {
  assertThrows(
    () => encodeSafetensors({ w: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
    '"w"',
    "3 elements",
  );
  assertThrows(
    () => encodeSafetensors({ w: { dtype: "I32", shape: [1], data: new Float32Array(1) } }),
    '"w"',
    "I32",
  );
});

Deno.test("decode: malformed files give errors naming the file and tensor", () => {
  const src = { source: "bad.safetensors" };
  assertThrows(() => decodeSafetensors(new Uint8Array(5), src), "bad.safetensors", "shorter");
  assertThrows(
    () => decodeSafetensors(handBuilt("{}", new Uint8Array(), 1000n), src),
    "bad.safetensors",
    "header length 1000",
  );
  assertThrows(
    () => decodeSafetensors(handBuilt("{not json"), src),
    "bad.safetensors",
    "not valid JSON",
  );
  const t = (dtype: string, shape: number[], off: number[]) =>
    JSON.stringify({ w: { dtype, shape, data_offsets: off } });
  assertThrows(
    () => decodeSafetensors(handBuilt(t("F32", [2], [0, 8]), new Uint8Array(4)), src),
    "bad.safetensors",
    '"w"',
    "outside the data area",
  );
  assertThrows(
    () => decodeSafetensors(handBuilt(t("F32", [3], [0, 8]), new Uint8Array(8)), src),
    '"w"',
    "needs 12",
  );
  assertThrows(
    () => decodeSafetensors(handBuilt(t("Q4", [2], [0, 8]), new Uint8Array(8)), src),
    '"w"',
    "unknown dtype",
    "Q4",
  );
  assertThrows(
    () => decodeSafetensors(handBuilt(t("U8", [8], [0, 8]), new Uint8Array(8)), src),
    '"w"',
    "unsupported dtype",
  );
  assertThrows(
    () => decodeSafetensors(handBuilt(t("F32", [2], [8, 0]), new Uint8Array(8)), src),
    '"w"',
    "[8,0]",
  );
  const overlap = JSON.stringify({
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
  });
  assertThrows(
    () => decodeSafetensors(handBuilt(overlap, new Uint8Array(12)), src),
    "bad.safetensors",
    '"b"',
    "overlap",
    '"a"',
  );
  const hole = JSON.stringify({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } });
  assertThrows(() => decodeSafetensors(handBuilt(hole, new Uint8Array(8)), src), '"a"', "hole");
  const big = new Uint8Array(8);
  new DataView(big.buffer).setBigInt64(0, 2n ** 40n, true);
  assertThrows(
    () => decodeSafetensors(handBuilt(t("I64", [1], [0, 8]), big), src),
    '"w"',
    "does not fit in Int32",
  );
});

Deno.test("decode: a truncated real file fails", () => {
  const bytes = encodeSafetensors({
    w: { dtype: "F32", shape: [4, 4], data: new Float32Array(16).fill(1) },
  });
  for (const cut of [3, 8, 20, bytes.length - 1]) {
    assertThrows(() => decodeSafetensors(bytes.subarray(0, cut), { source: "cut.st" }), "cut.st");
  }
});

Deno.test("files: atomic write, read back, header-only read, sharded index", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lossforge_st_" });
  try {
    const path = `${dir}/a.safetensors`;
    await writeSafetensorsFile(path, {
      w: { dtype: "BF16", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    }, { format: "pt" });
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, ["a.safetensors"], "no temp file is left behind");
    const read = await readSafetensorsFile(path);
    assertEquals(read.tensors.w.data, new Float32Array([1, 2, 3, 4]));
    assertEquals(read.metadata, { format: "pt" });
    const header = await readSafetensorsHeader(path);
    assertEquals(header.tensors, {
      w: { dtype: "BF16", shape: [2, 2], data_offsets: [0, 8] },
    });
    assertEquals(header.dataLength, 8);
    assertEquals(header.dataStart % 8, 0);
    // overwrite in place
    await writeSafetensorsFile(path, {
      v: { dtype: "F32", shape: [1], data: new Float32Array([5]) },
    });
    assertEquals(Object.keys((await readSafetensorsFile(path)).tensors), ["v"]);

    await Deno.writeFile(`${dir}/trunc.safetensors`, new Uint8Array(4));
    await assertRejects(
      () => readSafetensorsHeader(`${dir}/trunc.safetensors`),
      "trunc.safetensors",
    );
    await assertRejects(() => readSafetensorsFile(`${dir}/missing.safetensors`), "missing");

    // sharded: two shards + index
    await writeSafetensorsFile(`${dir}/model-00001-of-00002.safetensors`, {
      "x.weight": { dtype: "F32", shape: [1], data: new Float32Array([1]) },
    });
    await writeSafetensorsFile(`${dir}/model-00002-of-00002.safetensors`, {
      "y.weight": { dtype: "F32", shape: [1], data: new Float32Array([2]) },
      "z.weight": { dtype: "F32", shape: [1], data: new Float32Array([3]) },
    });
    await Deno.writeTextFile(
      `${dir}/model.safetensors.index.json`,
      JSON.stringify({
        metadata: { total_size: 12 },
        weight_map: {
          "x.weight": "model-00001-of-00002.safetensors",
          "y.weight": "model-00002-of-00002.safetensors",
          "z.weight": "model-00002-of-00002.safetensors",
        },
      }),
    );
    const index = await loadShardedIndex(dir);
    assertEquals(index.shards, [
      `${dir}/model-00001-of-00002.safetensors`,
      `${dir}/model-00002-of-00002.safetensors`,
    ]);
    assertEquals(index.metadata, { total_size: 12 });
    const found: string[] = [];
    for (const s of index.shards) {
      found.push(...Object.keys((await readSafetensorsHeader(s)).tensors));
    }
    assertEquals(found.sort(), Object.keys(index.weightMap).sort());
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, '{"weight_map": {"a": 3}}');
    await assertRejects(() => loadShardedIndex(dir), "model.safetensors.index.json", '"a"');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tiny-llama model.safetensors loads", async () => {
  if (!(await haveTinyLlama())) return;
  const url = new URL("model.safetensors", TINY_LLAMA_DIR);
  const { tensors, metadata } = await readSafetensorsFile(url);
  assertEquals(metadata, { format: "pt" });
  const names = Object.keys(tensors);
  assertEquals(names.length, 21);
  assertEquals(tensors["lm_head.weight"].shape, [600, 64]);
  assertEquals(tensors["model.embed_tokens.weight"].shape, [600, 64]);
  assertEquals(tensors["model.layers.0.self_attn.q_proj.weight"].shape, [64, 64]);
  assertEquals(tensors["model.layers.0.self_attn.k_proj.weight"].shape, [32, 64]);
  assertEquals(tensors["model.layers.1.mlp.down_proj.weight"].shape, [64, 172]);
  assertEquals(tensors["model.norm.weight"].shape, [64]);
  for (const [name, t] of Object.entries(tensors)) {
    assertEquals(t.dtype, "F32", name);
    assert(t.data instanceof Float32Array, name);
    assertEquals(t.data.length, t.shape.reduce((a, b) => a * b, 1), name);
    assert(t.data.every(Number.isFinite), `${name} has non-finite values`);
  }
  const header = await readSafetensorsHeader(url);
  assertEquals(Object.keys(header.tensors).sort(), names.sort());
});

Deno.test("a tensor named __proto__ round-trips as an own property", () => {
  const entries = Object.fromEntries([
    ["__proto__", { dtype: "F32" as const, shape: [1], data: new Float32Array([9]) }],
  ]);
  const out = decodeSafetensors(encodeSafetensors(entries)).tensors;
  assertEquals(Object.keys(out), ["__proto__"]);
  assertEquals(
    Object.getOwnPropertyDescriptor(out, "__proto__")?.value.data,
    new Float32Array([9]),
  );
});
