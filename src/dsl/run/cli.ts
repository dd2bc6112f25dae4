/**
 * `deno task train config.json [--out DIR] [--resume DIR]`: trains the pipeline a JSON file
 * describes (see `toJSON`), with progress, a JSONL log and checkpoints in the run folder.
 * `deno task train --plan DIR sweep.json` writes a sweep's plan for a cluster, `deno task
 * train DIR/variant-<i>.json` trains one of its variants (leaving what a sweep's variant folder
 * holds, result.json included) and `--plan DIR --run-local` trains them all here.
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
import { LossforgeError } from "../../autograd/errors.ts";
import { NonFiniteLossError, PipelineError } from "../spec/errors.ts";
import { pipelineFromJSON } from "../spec/json.ts";
import { readPlan } from "../report/plan.ts";
import { importModules, loadVariant, planFromConfig, runPlan } from "../report/plan_run.ts";
import { sweepVariants } from "../report/sweep.ts";
import { registered } from "../spec/registry.ts";
import { signalExitCode } from "./stop_signals.ts";
import { resume, train, type TrainResult } from "./train.ts";
import "../mod.ts";

const HELP = `Usage: deno task train CONFIG.json [options]
       deno task train --plan DIR SWEEP.json      write a sweep's plan for a cluster
       deno task train DIR/variant-N.json [--out OUT/FOLDER]   train variant N of a plan
       deno task train --plan DIR --run-local [--workers N] [--out OUT]   train it here

Trains the pipeline described by CONFIG.json (write one with toJSON(pipeline)).

Options:
  --out DIR        run folder: events.jsonl, pipeline.json, checkpoints/
                   (default runs/<name>-<timestamp>; a plan's variant: its folder
                   under the plan's output root; --run-local: the output root)
  --resume DIR     continue from a checkpoint folder (CONFIG.json is then optional)
  --backend NAME   cpu or webgpu (default: LOSSFORGE_BACKEND, else webgpu on a GPU,
                   cpu on a CPU-only machine)
  --import MODULE  import a module first (where custom parts are registered); repeatable
  --plan DIR       with SWEEP.json: write DIR/variant-<i>.json, plan.json, slurm.sh and
                   job.yaml; with --run-local: train the plan in DIR
  --run-local      train every variant of --plan DIR here, keeping finished ones, then
                   merge the output root (as deno task report --merge does)
  --workers N      variants trained side by side with --run-local (default 1)
  --quiet          no progress output
  -h, --help       this text

A sweep config (SWEEP.json):
  { "pipeline": <toJSON(pipeline)>,
    "axes": { "loss": ["ce", "focal"], "seed": [1, 2] },    // or { "label": value }
    "out": "runs/grid",             // output root the jobs write to (default: DIR)
    "name": "grid", "parallelism": 4, "retries": 1,
    "imports": ["my_parts.ts"],     // modules registering custom parts
    "report": { "style": "summary", "heading": "...", "metrics": ["exactMatch"] },
    "slurm": { "directives": ["--time=02:00:00", "--gres=gpu:1"] },
    "kubernetes": { "image": "...", "workingDir": "/app", "claimName": "runs" } }
Each variant of a plan is a self-contained pipeline JSON; trained, its folder holds
events.jsonl, pipeline.json, checkpoints/ and result.json, as a sweep's does. A variant
that finished is kept; one that stopped continues from its checkpoint.

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
        import: { type: "string", multiple: true },
        plan: { type: "string" },
        "run-local": { type: "boolean" },
        workers: { type: "string" },
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
  try {
    await importModules(values.import ?? []);
  } catch (e) {
    console.error(`error: --import: ${(e as Error).message}`);
    return 2;
  }
  if (values.workers !== undefined && !values["run-local"]) {
    console.error("error: --workers goes with --plan DIR --run-local (see --help)");
    return 2;
  }
  if (values.plan !== undefined || values["run-local"]) {
    return await planCommand(values.plan, configPath, {
      runLocal: values["run-local"] ?? false,
      workers: values.workers,
      out: values.out,
      backend: values.backend,
      quiet: values.quiet ?? false,
    });
  }
  if (!configPath && !values.resume) {
    console.error("error: give a config file (or --resume DIR); see --help");
    return 2;
  }
  const badBackend = await chooseBackend(values.backend);
  if (badBackend) {
    console.error(`error: ${badBackend}`);
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
  if (configPath && p && !values.resume) {
    const code = await trainPlannedVariant(configPath, values.out, values.quiet ?? false);
    if (code !== undefined) return code;
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

/** Sets the backend `--backend` names (else the fastest); a usage error's text, or undefined. */
async function chooseBackend(name: string | undefined): Promise<string | undefined> {
  const backend = name ?? await fastestBackend();
  if (backend !== "cpu" && backend !== "webgpu") {
    return `--backend must be cpu or webgpu, got ${JSON.stringify(backend)}`;
  }
  try {
    await setBackend(backend);
  } catch (e) {
    return (e as Error).message;
  }
}

/** `--plan DIR SWEEP.json` (write a plan) and `--plan DIR --run-local` (train it here). */
async function planCommand(
  dir: string | undefined,
  configPath: string | undefined,
  o: { runLocal: boolean; workers?: string; out?: string; backend?: string; quiet: boolean },
): Promise<number> {
  if (dir === undefined) {
    console.error("error: --run-local needs --plan DIR (see --help)");
    return 2;
  }
  if (!configPath && !o.runLocal) {
    console.error("error: --plan DIR needs a sweep config to write, or --run-local (see --help)");
    return 2;
  }
  const workers = o.workers === undefined ? 1 : Number(o.workers);
  if (!Number.isInteger(workers) || workers < 1) {
    console.error(`error: --workers must be an integer >= 1, got ${JSON.stringify(o.workers)}`);
    return 2;
  }
  try {
    if (configPath) {
      let text: string;
      try {
        text = await Deno.readTextFile(configPath);
      } catch (e) {
        console.error(`error: ${configPath}: cannot read: ${(e as Error).message}`);
        return 2;
      }
      let plan;
      try {
        plan = await planFromConfig(dir, text);
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e;
        console.error(`error: ${configPath}: ${e.message}`);
        return 2;
      }
      console.log(
        `wrote ${plan.variants.length} variants to ${plan.dir}: ` +
          `sbatch ${plan.files.slurm}, or kubectl apply -f ${plan.files.job}, ` +
          `or deno task train --plan ${plan.dir} --run-local`,
      );
    }
    if (!o.runLocal) return 0;
    const bad = await chooseBackend(o.backend);
    if (bad) {
      console.error(`error: ${bad}`);
      return 2;
    }
    const r = await runPlan(dir, { workers, out: o.out, progress: !o.quiet });
    if (r.stopped === "interrupted") {
      console.error(`interrupted; the same command continues the plan`);
      return signalExitCode(r.signal ?? "SIGINT");
    }
    const failed = r.table.rows.filter((row) => row.error);
    for (const row of failed) console.error(`failed: ${row.label}: ${row.error}`);
    for (const q of r.problems) console.error(`error: ${q.path}: ${q.message}`);
    for (const v of r.missing) console.error(`missing: ${v.index} ${v.label}`);
    console.log(
      `${r.table.rows.length} of ${r.table.rows.length + r.missing.length} variants done` +
        (r.out ? `; report in ${r.out}/results.md` : ""),
    );
    return failed.length || r.problems.length || r.missing.length ? 1 : 0;
  } catch (e) {
    if (e instanceof PipelineError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    if (!(e instanceof LossforgeError)) throw e;
    console.error(`error: ${e.message}`);
    return 1;
  }
}

/**
 * Trains `configPath` as a plan's variant when the plan.json beside it lists it, into its
 * folder (result.json included) by the sweep's own code; undefined when it is no variant.
 */
async function trainPlannedVariant(
  configPath: string,
  outOption: string | undefined,
  quiet: boolean,
): Promise<number | undefined> {
  const slash = Math.max(configPath.lastIndexOf("/"), configPath.lastIndexOf("\\"));
  let plan;
  try {
    plan = await readPlan(slash < 0 ? "." : configPath.slice(0, slash) || "/");
  } catch (e) {
    // A plan.json beside the config that is not one: the config may be that plan's variant.
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  const file = configPath.slice(slash + 1);
  const v = plan?.variants.find((x) => x.file === file);
  if (!plan || !v) return undefined;
  const out = (outOption ?? `${plan.out}/${v.folder}`).replace(/[\\/]+$/, "");
  try {
    const table = await sweepVariants([await loadVariant(plan, v, out)], plan.axes, {
      resume: true,
      progress: !quiet,
    });
    const row = table.rows[0];
    if (!row) {
      console.error(`interrupted; resume with the same command`);
      return signalExitCode(table.signal ?? "SIGINT");
    }
    if (row.error) {
      console.error(`error: variant ${v.index} (${v.label}): ${row.error}`);
      return 1;
    }
    console.log(`variant ${v.index} (${v.label}) done: ${out}/result.json`);
    return 0;
  } catch (e) {
    if (e instanceof PipelineError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
