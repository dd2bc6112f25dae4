import { listCheckpoints } from "../../mod.ts";
import { main } from "../../src/dsl/run/cli.ts";
import { assert, assertEquals } from "../_assert.ts";

const tinyGpt = {
  name: "cli",
  model: { kind: "gpt", options: { vocab: 259, context: 16, layers: 1, dim: 16, heads: 2 } },
  loss: "ce",
  optimizer: { kind: "adamw", options: { lr: 0.01 } },
  data: {
    kind: "inline",
    options: {
      train: [{ prompt: "ab", target: "ab" }, { prompt: "ba", target: "ba" }],
      maxLength: 8,
    },
  },
  steps: 4,
  batchSize: 2,
  logEvery: 2,
};

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; err: string }> {
  const errors: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = () => {};
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    return { value: await fn(), err: errors.join("\n") };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

Deno.test("cli: trains a config into the run folder", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(tinyGpt));
  const { value } = await quietly(() =>
    main([`${dir}/config.json`, "--out", `${dir}/run`, "--quiet"])
  );
  assertEquals(value, 0);
  const lines = (await Deno.readTextFile(`${dir}/run/events.jsonl`)).trim().split("\n");
  assertEquals(lines.map((l) => JSON.parse(l).step), [2, 4]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: bad usage and bad configs exit 2 with every problem", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/bad.json`,
    JSON.stringify({ ...tinyGpt, optimizer: { kind: "adamw", options: { lr: -1 } }, steps: 0 }),
  );
  const bad = await quietly(() => main([`${dir}/bad.json`, "--quiet"]));
  assertEquals(bad.value, 2);
  assert(bad.err.includes("optimizer.options.lr: must be > 0, got -1"), bad.err);
  assert(bad.err.includes("steps: must be an integer >= 1, got 0"), bad.err);
  assertEquals((await quietly(() => main([`${dir}/missing.json`]))).value, 2);
  assertEquals((await quietly(() => main([]))).value, 2);
  assertEquals((await quietly(() => main(["--bogus"]))).value, 2);
  assertEquals((await quietly(() => main(["--help"]))).value, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "cli: SIGINT writes a checkpoint and exits with 130; --resume finishes the run",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...tinyGpt, steps: 100000, logEvery: 1 }),
    );
    const cli = new URL("../../src/dsl/run/cli.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, `${dir}/config.json`, "--out", `${dir}/run`, "--quiet"],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Wait for training to be under way, then interrupt it.
    for (let i = 0; i < 600; i++) {
      const text = await Deno.readTextFile(`${dir}/run/events.jsonl`).catch(() => "");
      if (text.split("\n").length > 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGINT");
    const status = await child.output();
    assertEquals(status.code, 130, new TextDecoder().decode(status.stderr));
    const saved = await listCheckpoints(`${dir}/run/checkpoints`);
    assertEquals(saved.length, 1);
    const step = Number(saved[0].slice(-8));
    assert(step >= 3, `checkpoint at step ${step}`);
    // Resume with a shorter run in the config: the saved pipeline is used as is.
    await Deno.writeTextFile(`${dir}/short.json`, JSON.stringify({ ...tinyGpt, steps: step + 2 }));
    const { value } = await quietly(() =>
      main([
        `${dir}/short.json`,
        "--resume",
        `${dir}/run/checkpoints`,
        "--out",
        `${dir}/run2`,
        "--quiet",
      ])
    );
    assertEquals(value, 0);
    await Deno.remove(dir, { recursive: true });
  },
});
