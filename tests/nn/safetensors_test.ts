// Parameter trees to and from .safetensors files.
import {
  flattenParams,
  gpt,
  loadSafetensors,
  type ParamTree,
  rng,
  saveSafetensors,
  tensor,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function flatData(
  tree: ParamTree,
): Promise<Record<string, { shape: readonly number[]; dtype: string; data: number[] }>> {
  const out: Record<string, { shape: readonly number[]; dtype: string; data: number[] }> = {};
  for (const [k, t] of Object.entries(flattenParams(tree))) {
    out[k] = { shape: t.shape, dtype: t.dtype, data: Array.from(await t.data()) };
  }
  return out;
}

Deno.test("save then load gives back the same tree, names, dtypes and metadata", async () => {
  await withDir(async (dir) => {
    const params = gpt({ vocab: 7, context: 4, layers: 2, dim: 4, heads: 2 }).init(rng(0));
    const tree = {
      ...params,
      extra: {
        f64: tensor([1e-300, Math.PI], { dtype: "float64" }),
        ids: tensor([1, -2], { dtype: "int32" }),
      },
    };
    const path = `${dir}/model.safetensors`;
    await saveSafetensors(path, tree, { format: "pt", note: "hi" });
    const { params: back, metadata } = await loadSafetensors(path);
    assertEquals(metadata, { format: "pt", note: "hi" });
    assertEquals(await flatData(back), await flatData(tree));
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [
      "model.safetensors",
    ]);
  });
});

Deno.test("saving as BF16 and F16 reloads as float32 within their precision", async () => {
  await withDir(async (dir) => {
    const w = tensor([0.1, -2.5, 3.14159, 1000]);
    for (const dtype of ["BF16", "F16"] as const) {
      await saveSafetensors(`${dir}/w.safetensors`, { w }, undefined, { dtype });
      const { params } = await loadSafetensors(`${dir}/w.safetensors`);
      const got = flattenParams(params).w;
      assertEquals(got.dtype, "float32");
      assertClose(await got.data(), await w.data(), { rtol: dtype === "BF16" ? 1e-2 : 1e-3 });
    }
  });
});

Deno.test("a truncated file or a header pointing outside the file is a clear error", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/m.safetensors`;
    await saveSafetensors(path, { a: { weight: tensor([1, 2, 3, 4]) } });
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(`${dir}/cut.safetensors`, bytes.subarray(0, bytes.length - 3));
    const e = await assertRejects(
      () => loadSafetensors(`${dir}/cut.safetensors`),
      "cut.safetensors",
    );
    assert(/truncat|outside|end|exceed|beyond|short/i.test(e.message), e.message);
    await Deno.writeFile(`${dir}/tiny.safetensors`, bytes.subarray(0, 5));
    await assertRejects(() => loadSafetensors(`${dir}/tiny.safetensors`), "tiny.safetensors");
    await assertRejects(() => loadSafetensors(`${dir}/absent.safetensors`), "absent.safetensors");
  });
});
