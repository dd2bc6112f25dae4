// Straightforward float64 loops for one-sequence forward passes of Llama and GPT-2, written
// from the papers / transformers' modeling code and independent of src/nn. Weights come in
// by their Hugging Face names.

export type Weights = Record<string, { data: Float64Array; shape: readonly number[] }>;
type Mat = Float64Array[];

function get(w: Weights, name: string): { data: Float64Array; shape: readonly number[] } {
  const t = w[name];
  if (!t) throw new Error(`naive model: no weight ${name}`);
  return t;
}

/** y[t] = x[t] · Wᵀ for W stored [out, in] (nn.Linear), or x[t] · W for [in, out] (Conv1D). */
function dense(x: Mat, w: Weights, name: string, conv1d = false, bias = false): Mat {
  const { data, shape } = get(w, `${name}.weight`);
  const [outDim, inDim] = conv1d ? [shape[1], shape[0]] : [shape[0], shape[1]];
  const b = bias ? get(w, `${name}.bias`).data : null;
  return x.map((row) => {
    const y = new Float64Array(outDim);
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) {
        s += row[i] * (conv1d ? data[i * outDim + o] : data[o * inDim + i]);
      }
      y[o] = s;
    }
    return y;
  });
}

function rmsNorm(x: Mat, weight: Float64Array, eps: number): Mat {
  return x.map((row) => {
    const ms = row.reduce((s, v) => s + v * v, 0) / row.length;
    return row.map((v, i) => weight[i] * v / Math.sqrt(ms + eps));
  });
}

function layerNorm(x: Mat, weight: Float64Array, bias: Float64Array, eps: number): Mat {
  return x.map((row) => {
    const mu = row.reduce((s, v) => s + v, 0) / row.length;
    const variance = row.reduce((s, v) => s + (v - mu) ** 2, 0) / row.length;
    return row.map((v, i) => (v - mu) / Math.sqrt(variance + eps) * weight[i] + bias[i]);
  });
}

function add(a: Mat, b: Mat): Mat {
  return a.map((row, t) => row.map((v, i) => v + b[t][i]));
}

/** Causal attention: q has `heads` heads, k/v `kvHeads`; head h reads kv head floor(h / group). */
function attention(q: Mat, k: Mat, v: Mat, heads: number, kvHeads: number, hd: number): Mat {
  const T = q.length, group = heads / kvHeads;
  return q.map((_, t) => {
    const out = new Float64Array(heads * hd);
    for (let h = 0; h < heads; h++) {
      const kh = Math.floor(h / group);
      const scores: number[] = [];
      for (let j = 0; j <= t; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[t][h * hd + d] * k[j][kh * hd + d];
        scores.push(s / Math.sqrt(hd));
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < e.length; j++) {
        for (let d = 0; d < hd; d++) out[h * hd + d] += (e[j] / z) * v[j][kh * hd + d];
      }
    }
    void T;
    return out;
  });
}

function rope(x: Mat, heads: number, hd: number, theta: number): Mat {
  const half = hd / 2;
  return x.map((row, pos) => {
    const out = new Float64Array(row.length);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < half; i++) {
        const angle = pos * Math.pow(theta, -(2 * i) / hd);
        const a = row[h * hd + i], b = row[h * hd + i + half];
        out[h * hd + i] = a * Math.cos(angle) - b * Math.sin(angle);
        out[h * hd + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
      }
    }
    return out;
  });
}

function rows(table: Float64Array, width: number, ids: number[]): Mat {
  return ids.map((id) => table.slice(id * width, (id + 1) * width));
}

/** Logits [T][vocab] of a Llama model (untied head unless `tied`). */
export function naiveLlama(
  w: Weights,
  ids: number[],
  cfg: {
    layers: number;
    heads: number;
    kvHeads: number;
    theta: number;
    eps: number;
    tied: boolean;
    qkvBias: boolean;
  },
): Mat {
  const emb = get(w, "model.embed_tokens.weight");
  const dim = emb.shape[1], hd = dim / cfg.heads;
  let x = rows(emb.data, dim, ids);
  for (let l = 0; l < cfg.layers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, get(w, `${p}.input_layernorm.weight`).data, cfg.eps);
    const q = rope(
      dense(h, w, `${p}.self_attn.q_proj`, false, cfg.qkvBias),
      cfg.heads,
      hd,
      cfg.theta,
    );
    const k = rope(
      dense(h, w, `${p}.self_attn.k_proj`, false, cfg.qkvBias),
      cfg.kvHeads,
      hd,
      cfg.theta,
    );
    const v = dense(h, w, `${p}.self_attn.v_proj`, false, cfg.qkvBias);
    x = add(x, dense(attention(q, k, v, cfg.heads, cfg.kvHeads, hd), w, `${p}.self_attn.o_proj`));
    const h2 = rmsNorm(x, get(w, `${p}.post_attention_layernorm.weight`).data, cfg.eps);
    const gate = dense(h2, w, `${p}.mlp.gate_proj`), up = dense(h2, w, `${p}.mlp.up_proj`);
    const act = gate.map((row, t) => row.map((g, i) => (g / (1 + Math.exp(-g))) * up[t][i]));
    x = add(x, dense(act, w, `${p}.mlp.down_proj`));
  }
  x = rmsNorm(x, get(w, "model.norm.weight").data, cfg.eps);
  return cfg.tied ? dense(x, { "e.weight": emb }, "e") : dense(x, w, "lm_head");
}

function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** Logits [T][vocab] of a GPT-2 model (head tied to wte). */
export function naiveGpt(
  w: Weights,
  ids: number[],
  cfg: { layers: number; heads: number; eps: number },
): Mat {
  const wte = get(w, "transformer.wte.weight");
  const dim = wte.shape[1], hd = dim / cfg.heads;
  const pos = rows(get(w, "transformer.wpe.weight").data, dim, ids.map((_, i) => i));
  let x = add(rows(wte.data, dim, ids), pos);
  for (let l = 0; l < cfg.layers; l++) {
    const p = `transformer.h.${l}`;
    const ln = (n: string, m: Mat) =>
      layerNorm(m, get(w, `${p}.${n}.weight`).data, get(w, `${p}.${n}.bias`).data, cfg.eps);
    const qkv = dense(ln("ln_1", x), w, `${p}.attn.c_attn`, true, true);
    const part = (i: number) => qkv.map((row) => row.slice(i * dim, (i + 1) * dim));
    const a = attention(part(0), part(1), part(2), cfg.heads, cfg.heads, hd);
    x = add(x, dense(a, w, `${p}.attn.c_proj`, true, true));
    const hidden = dense(ln("ln_2", x), w, `${p}.mlp.c_fc`, true, true).map((r) => r.map(gelu));
    x = add(x, dense(hidden, w, `${p}.mlp.c_proj`, true, true));
  }
  x = layerNorm(
    x,
    get(w, "transformer.ln_f.weight").data,
    get(w, "transformer.ln_f.bias").data,
    cfg.eps,
  );
  return dense(x, { "e.weight": wte }, "e");
}
