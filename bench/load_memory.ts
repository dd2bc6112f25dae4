/**
 * Host memory of `loadPretrained`: writes a synthetic Llama checkpoint stored as BF16 (about
 * 330 MB of weights by default), then loads it in a fresh process per mode and prints the
 * process's peak resident memory (VmHWM of /proc/self/status) against its resident memory
 * before the load, and the bytes the CPU backend holds afterwards.
 *
 *   deno run -A bench/load_memory.ts [--dir DIR] [--layers 8] [--modes float32,keep]
 *
 * A load that held the whole file and then a decoded copy of every tensor peaks near
 * file + float32 weights; reading each tensor straight into its final array peaks near the
 * weights alone (4 bytes per weight for "float32", 2 for "keep").
 * @module
 */
import { parseArgs } from "node:util";
import { encodeSafetensors, loadPretrained, type SafetensorsEntry, setBackend } from "../mod.ts";
import { backendInstance } from "../mod.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string" },
    layers: { type: "string", default: "8" },
    modes: { type: "string", default: "float32,keep" },
    load: { type: "string" }, // internal: the child process's mode
  },
});

const MB = 1 << 20;

/** Resident and peak resident memory of this process, in bytes. */
function memory(): { rss: number; peak: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

const config = (layers: number) => ({
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 32000,
  hidden_size: 1024,
  intermediate_size: 2816,
  num_hidden_layers: layers,
  num_attention_heads: 16,
  num_key_value_heads: 16,
  max_position_embeddings: 2048,
  rope_theta: 10000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
  hidden_act: "silu",
});

/** A byte-level tokenizer.json (the load needs one; its content does not matter here). */
function tokenizerJson(): unknown {
  const chars: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const keep = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCharCode(keep ? b : 256 + n++));
  }
  return {
    version: "1.0",
    added_tokens: [{ id: 256, content: "<|endoftext|>", special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true },
    post_processor: null,
    decoder: { type: "ByteLevel" },
    model: { type: "BPE", vocab: Object.fromEntries(chars.map((c, i) => [c, i])), merges: [] },
  };
}

/** Random small bf16 bit patterns (values in about ±0.03). */
function bits(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = 0x3c00 | (s & 0x807f);
  }
  return out;
}

async function write(dir: string, layers: number): Promise<number> {
  const c = config(layers), d = c.hidden_size, h = c.intermediate_size, v = c.vocab_size;
  const entries: Record<string, SafetensorsEntry> = {};
  let seed = 1;
  const add = (name: string, shape: number[]) => {
    entries[name] = { dtype: "BF16", shape, data: bits(shape.reduce((a, b) => a * b), seed++) };
  };
  add("model.embed_tokens.weight", [v, d]);
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    for (const n of ["q_proj", "k_proj", "v_proj", "o_proj"]) {
      add(`${p}.self_attn.${n}.weight`, [d, d]);
    }
    add(`${p}.mlp.gate_proj.weight`, [h, d]);
    add(`${p}.mlp.up_proj.weight`, [h, d]);
    add(`${p}.mlp.down_proj.weight`, [d, h]);
    add(`${p}.input_layernorm.weight`, [d]);
    add(`${p}.post_attention_layernorm.weight`, [d]);
  }
  add("model.norm.weight", [d]);
  add("lm_head.weight", [v, d]);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(c));
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(tokenizerJson()));
  const bytes = encodeSafetensors(entries, { format: "pt" });
  await Deno.writeFile(`${dir}/model.safetensors`, bytes);
  return Object.values(entries).reduce((a, e) => a + e.data.length, 0);
}

if (args.values.load) {
  // The child: one load, then the numbers as one JSON line.
  await setBackend("cpu");
  const start = memory();
  const t0 = performance.now();
  await loadPretrained(args.values.dir!, {
    backend: "cpu",
    dtype: args.values.load as "float32" | "keep",
  });
  const seconds = (performance.now() - t0) / 1000;
  const end = memory();
  const held = backendInstance("cpu").memory().bytes;
  console.log(JSON.stringify({ start: start.rss, peak: end.peak, end: end.rss, held, seconds }));
} else {
  const dir = args.values.dir ?? await Deno.makeTempDir();
  const layers = Number(args.values.layers);
  try {
    const weights = await write(dir, layers);
    console.log(
      `checkpoint: ${(weights / 1e6).toFixed(1)}M weights, BF16 file ${
        ((await Deno.stat(`${dir}/model.safetensors`)).size / MB).toFixed(0)
      } MiB (float32: ${(weights * 4 / MB).toFixed(0)} MiB)`,
    );
    for (const mode of args.values.modes.split(",")) {
      const child = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL(import.meta.url).pathname, "--dir", dir, "--load", mode],
        stderr: "inherit",
      }).output();
      const line = new TextDecoder().decode(child.stdout).trim().split("\n").pop()!;
      const r = JSON.parse(line);
      const mib = (b: number) => `${(b / MB).toFixed(0)} MiB`;
      console.log(
        `${mode.padEnd(8)} peak RSS ${mib(r.peak)} (+${mib(r.peak - r.start)} over ${
          mib(r.start)
        } before the load), RSS after ${mib(r.end)}, backend holds ${mib(r.held)} (${
          (r.held / weights).toFixed(2)
        } bytes/weight), ${r.seconds.toFixed(1)} s`,
      );
    }
  } finally {
    if (!args.values.dir) await Deno.remove(dir, { recursive: true });
  }
}
