/**
 * `deno task train config.json [--out DIR] [--resume DIR]`: trains the pipeline a JSON file
 * describes (see `toJSON`), with progress, a JSONL log and checkpoints in the run folder.
 * Exit codes: 0 done, 1 training failed (a NaN loss, a full disk, a run folder in use),
 * 2 bad usage or config, 130 / 143 interrupted by SIGINT (Ctrl-C) / SIGTERM (after writing a
 * checkpoint and printing how to resume; a second signal stops at once).
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const code = await main(["--help"]);
 * console.log(code); // 0
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { setBackend } from "../../autograd/mod.ts";
import "../../cpu/mod.ts";
import { fastestBackend } from "../../gpu/mod.ts";
import { NonFiniteLossError, PipelineError } from "../spec/errors.ts";
import { pipelineFromJSON } from "../spec/json.ts";
import { registered } from "../spec/registry.ts";
import { signalExitCode } from "./stop_signals.ts";
import { resume, train, type TrainResult } from "./train.ts";
import "../mod.ts";

const HELP = `Usage: deno task train CONFIG.json [options]

Trains the pipeline described by CONFIG.json (write one with toJSON(pipeline)).

Options:
  --out DIR        run folder: events.jsonl, pipeline.json, checkpoints/
                   (default runs/<name>-<timestamp>)
  --resume DIR     continue from a checkpoint folder (CONFIG.json is then optional)
  --backend NAME   cpu or webgpu (default: LOSSFORGE_BACKEND, else webgpu on a GPU,
                   cpu on a CPU-only machine)
  --quiet          no progress output
  -h, --help       this text

SIGINT (Ctrl-C) or SIGTERM stop at the next step with a checkpoint (exit code 130 or 143);
a second signal stops at once. Exit code 1: training failed (a NaN loss, a full disk).

Registered parts:
  models:     ${registered("model").join(", ")}
  losses:     ${registered("loss").join(", ")}
  optimizers: ${registered("optimizer").join(", ")}
  schedules:  ${registered("schedule").join(", ")}
  data:       ${registered("data").join(", ")}
  evaluators: ${registered("eval").join(", ")}
`;

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
}

/**
 * Runs the command line `args` and returns the exit code (it never calls `Deno.exit`).
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * console.log(await main(["missing.json"])); // 2, after a one-line error
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        out: { type: "string" },
        resume: { type: "string" },
        backend: { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`error: ${(e as Error).message} (see --help)`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 1) {
    console.error(`error: expected one config file, got ${positionals.length} (see --help)`);
    return 2;
  }
  const configPath = positionals[0];
  if (!configPath && !values.resume) {
    console.error("error: give a config file (or --resume DIR); see --help");
    return 2;
  }
  const backend = values.backend ?? await fastestBackend();
  if (backend !== "cpu" && backend !== "webgpu") {
    console.error(`error: --backend must be cpu or webgpu, got ${JSON.stringify(backend)}`);
    return 2;
  }
  try {
    await setBackend(backend);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  let p;
  if (configPath) {
    let text: string;
    try {
      text = await Deno.readTextFile(configPath);
    } catch (e) {
      console.error(`error: ${configPath}: cannot read: ${(e as Error).message}`);
      return 2;
    }
    try {
      p = pipelineFromJSON(text);
    } catch (e) {
      if (!(e instanceof PipelineError)) throw e;
      console.error(`error: ${configPath}: ${e.message}`);
      return 2;
    }
  }
  const out = values.out ?? `runs/${p?.name ?? "resumed"}-${timestamp()}`;
  const common = { out, progress: !values.quiet };
  let result: TrainResult;
  try {
    result = values.resume
      ? await resume(values.resume, { ...common, ...(p ? { pipeline: p } : {}) })
      : await train(p!, common);
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    if (e instanceof PipelineError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  if (result.stopped === "interrupted") {
    const by = result.signal ? ` by ${result.signal}` : "";
    const from = result.checkpoint?.replace(/[\\/][^\\/]+$/, "");
    console.error(
      from
        ? `interrupted${by} after ${result.steps} steps; resume with: ` +
          `deno task train --resume ${from} --out ${out}`
        : `interrupted${by} after ${result.steps} steps; no checkpoint was written`,
    );
    return signalExitCode(result.signal ?? "SIGINT");
  }
  const evalText = result.eval
    ? "  " + Object.entries(result.eval).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(" ")
    : "";
  console.log(
    `${result.stopped} after ${result.steps} steps: loss ${result.loss.toFixed(4)}` +
      `${evalText}  (${result.elapsed.toFixed(1)}s)  run folder ${out}` +
      (result.checkpoint ? `  checkpoint ${result.checkpoint}` : ""),
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
