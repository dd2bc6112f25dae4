// GPU memory stays flat across training: 1,000 forward+backward steps of a small MLP inside
// `scope` leave the same pool bytes and live buffers in use as after step 10.
import * as lf from "../../mod.ts";
import type { Tensor } from "../../mod.ts";
import { assertAllClose, gpuTest } from "./_util.ts";
import type { WebGpuBackend } from "../../mod.ts";

type Params = { w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor };

function loss(p: Params, x: Tensor, labels: Tensor): Tensor {
  const h = lf.gelu(lf.matmul(x, p.w1).add(p.b1));
  const logits = lf.matmul(h, p.w2).add(p.b2);
  const logp = lf.logSoftmax(logits, -1);
  const picked = lf.gather(logp, 1, lf.reshape(labels, [labels.size, 1]));
  return lf.mean(picked).neg();
}

gpuTest(
  "webgpu memory is flat over 1,000 MLP training steps (pool bytes, live buffers)",
  async () => {
    await lf.setBackend("webgpu");
    try {
      const gpu = lf.backendInstance("webgpu") as WebGpuBackend;
      const r = lf.rng(3);
      let p: Params = {
        w1: lf.randn([8, 16], { rng: r, std: 0.3 }),
        b1: lf.zeros([16]),
        w2: lf.randn([16, 4], { rng: r, std: 0.3 }),
        b2: lf.zeros([4]),
      };
      const x = lf.randn([32, 8], { rng: r });
      const labels = lf.tensor(Array.from({ length: 32 }, (_, i) => i % 4), { dtype: "int32" });
      const step = lf.valueAndGrad(loss);
      let at10 = { buffers: 0, bytes: 0 }, pooledAt10 = 0;
      let first = NaN, last = NaN;
      for (let it = 1; it <= 1000; it++) {
        const [v, next] = lf.scope(() => {
          const [v, g] = step(p, x, labels);
          const upd = lf.treeMap((w, gw) => w.sub(gw.mul(0.1)), p, g);
          return [v, upd] as const;
        });
        lf.treeDispose(p);
        p = next as Params;
        if (it === 1) first = await v.item();
        if (it === 1000) last = await v.item();
        v.dispose();
        if (it % 50 === 0) gpu.flush();
        if (it === 10) {
          gpu.flush();
          at10 = gpu.memory();
          pooledAt10 = gpu.stats().pooledBytes + gpu.stats().liveBytes;
        }
      }
      gpu.flush();
      const at1000 = gpu.memory();
      if (at1000.buffers !== at10.buffers || at1000.bytes !== at10.bytes) {
        throw new Error(
          `memory grew: after step 10 ${JSON.stringify(at10)}, after 1000 ${
            JSON.stringify(at1000)
          }`,
        );
      }
      const total = gpu.stats().pooledBytes + gpu.stats().liveBytes;
      if (total > pooledAt10 * 2) throw new Error(`pool grew from ${pooledAt10} to ${total} bytes`);
      if (!(last < first)) throw new Error(`loss did not fall: ${first} -> ${last}`);
      lf.treeDispose(p);
      x.dispose();
      labels.dispose();
    } finally {
      await lf.setBackend("cpu");
    }
  },
);

gpuTest("webgpu training step gives the same loss and gradients as cpu", async () => {
  const mk = (b: lf.BackendName) => {
    const rr = lf.rng(5);
    return {
      p: {
        w1: lf.randn([8, 16], { rng: rr, std: 0.3, backend: b }),
        b1: lf.randn([16], { rng: rr, std: 0.1, backend: b }),
        w2: lf.randn([16, 4], { rng: rr, std: 0.3, backend: b }),
        b2: lf.randn([4], { rng: rr, std: 0.1, backend: b }),
      },
      x: lf.randn([32, 8], { rng: rr, backend: b }),
      labels: lf.tensor(Array.from({ length: 32 }, (_, i) => (i * 7) % 4), {
        dtype: "int32",
        backend: b,
      }),
    };
  };
  const out: Float32Array[][] = [];
  for (const b of ["cpu", "webgpu"] as const) {
    const { p, x, labels } = mk(b);
    const [v, g] = lf.valueAndGrad(loss)(p, x, labels);
    out.push(
      await Promise.all(
        [v, g.w1, g.b1, g.w2, g.b2].map(async (t) => (await t.data()) as Float32Array),
      ),
    );
  }
  out[0].forEach((c, i) => assertAllClose(out[1][i], c, { rtol: 1e-4, atol: 1e-5 }, `mlp ${i}`));
});
