/**
 * Sweeps that leave one machine: `sweep(base, axes, { plan: DIR })` writes each variant as a
 * self-contained pipeline JSON, an index of them (`plan.json`), a Slurm array script
 * (`slurm.sh`) and a Kubernetes Indexed Job (`job.yaml`). Each array task or pod runs one
 * variant with `deno task train DIR/variant-<i>.json --out OUT/<folder>`, which leaves the
 * folder a sweep's variant has; `report --merge` gathers them into one table. No scheduler
 * here: the cluster's own does the scheduling.
 *
 * @module
 */

import { writeFileAtomic } from "../../util/atomic.ts";
import { isObject, show } from "../../util/show.ts";
import { PipelineError, type Problem, RunFolderError } from "../spec/errors.ts";
import { toJSON } from "../spec/json.ts";
import type { SweepOptions, SweepReportOptions, Variant } from "./sweep.ts";

/**
 * Options of `sweep(base, axes, { plan: DIR, ... })`: where the plan goes, how its variants
 * are named, and what the Slurm script and Kubernetes Job say.
 *
 * @example
 * ```ts
 * import { type PlanOptions, pipeline, sweep } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const options: PlanOptions = {
 *   plan: "runs/grid",
 *   name: "grid",
 *   parallelism: 4,
 *   slurm: { directives: ["--time=02:00:00", "--cpus-per-task=4"] },
 *   kubernetes: { image: "registry.example/lossforge:1", claimName: "runs" },
 * };
 * const plan = await sweep(base, { loss: ["ce", "focal", "dice"], seed: [1, 2] }, options);
 * console.log(plan.variants[5].label); // "loss=dice seed=2"
 * ```
 */
export interface PlanOptions extends Pick<SweepOptions, "label" | "folder"> {
  /** The plan's folder: variant-<i>.json, plan.json, slurm.sh, job.yaml, logs/. */
  plan: string;
  /**
   * Where the variants' folders and the merged report go, unless the jobs' environment says
   * otherwise (`LOSSFORGE_OUT`). Default: the plan's folder.
   */
  out?: string;
  /** The job's name (Slurm's `--job-name`, the Job's `metadata.name`). Default: the folder's. */
  name?: string;
  /** Variants running at once (Slurm's `%N` throttle, the Job's `parallelism`). Default: all. */
  parallelism?: number;
  /** Retries of a failed variant (the Job's `backoffLimitPerIndex`). Default 1. */
  retries?: number;
  /**
   * Modules `deno task train` imports before it builds a variant (where custom parts are
   * registered): URLs, or paths from the project's root as the jobs see it.
   */
  imports?: readonly (string | URL)[];
  /** The report `report --merge` (and a local run) writes; `write` cannot go into a file. */
  report?: boolean | Omit<SweepReportOptions, "write">;
  /** Slurm: extra `#SBATCH` options, e.g. `"--time=02:00:00"`, `"--gres=gpu:1"`. */
  slurm?: { directives?: readonly string[] };
  /** Kubernetes: what the placeholders in job.yaml become. */
  kubernetes?: KubernetesPlanOptions;
}

/**
 * The settings of job.yaml that depend on the cluster; unset ones stay `<...>` placeholders.
 *
 * @example
 * ```ts
 * import type { KubernetesPlanOptions } from "@lossforge/core";
 * const k8s: KubernetesPlanOptions = {
 *   image: "registry.example/lossforge:1", // deno and the project checkout, plan included
 *   workingDir: "/app",
 *   claimName: "lossforge-runs", // a ReadWriteMany volume every pod writes its folder to
 *   namespace: "research",
 * };
 * console.log(k8s.mountPath ?? "/runs");
 * ```
 */
export interface KubernetesPlanOptions {
  /** The container image: deno and the project's checkout (with the plan folder). */
  image?: string;
  /** The checkout's path in the image (the container's working directory). */
  workingDir?: string;
  /** The PersistentVolumeClaim the variants' folders are written to. */
  claimName?: string;
  /** Where that volume is mounted (default `/runs`); the output root is `<mountPath>/<name>`. */
  mountPath?: string;
  /** The Job's namespace (default: none, so kubectl's current one). */
  namespace?: string;
}

/**
 * One variant of a plan: its index (the array task's, the pod's completion index), labels,
 * folder under the output root and pipeline file in the plan's folder.
 *
 * @example
 * ```ts
 * import type { PlannedVariant } from "@lossforge/core";
 * const v: PlannedVariant = {
 *   index: 0,
 *   label: "loss=ce seed=1",
 *   variant: { loss: "ce", seed: "1" },
 *   folder: "loss=ce_seed=1",
 *   file: "variant-0.json",
 * };
 * console.log(`${v.index}: ${v.label} -> ${v.folder}/result.json`);
 * ```
 */
export interface PlannedVariant {
  /** 0 .. n-1. */
  index: number;
  /** The variant's label (its pipeline's name and its table row's). */
  label: string;
  /** The label of each axis. */
  variant: Record<string, string>;
  /** Its folder under the output root. */
  folder: string;
  /** Its pipeline JSON, in the plan's folder. */
  file: string;
}

/**
 * A plan as `plan.json` holds it, with the folder it was read from or written to.
 *
 * @example
 * ```ts
 * import { readPlan } from "@lossforge/core";
 * const plan = await readPlan("runs/grid");
 * for (const v of plan?.variants ?? []) console.log(v.index, v.label, `${plan!.out}/${v.folder}`);
 * ```
 */
export interface SweepPlan {
  /** The format's version (1). */
  version: 1;
  /** The job's name. */
  name: string;
  /** The axes swept, in order. */
  axes: string[];
  /** The default output root (relative paths are from the project's root). */
  out: string;
  /** Modules the train command imports first. */
  imports: string[];
  /** The report layout merges write (`false`: none while running locally). */
  report: false | Omit<SweepReportOptions, "write">;
  /** Every variant, by index. */
  variants: PlannedVariant[];
  /** The plan's folder (not stored: where it was found). */
  dir: string;
  /** The files written, under `dir` (not stored). */
  files: { plan: string; slurm: string; job: string; variants: string[] };
}

const PLAN_FILE = "plan.json";

/**
 * Writes the plan's files for `variants` (laid out by the sweep) and returns the plan. A
 * variant whose parts have no spec cannot become JSON: a `PipelineError` names each one.
 *
 * @example
 * ```ts
 * import { pipeline } from "@lossforge/core";
 * import { writePlan } from "./plan.ts";
 * import { planVariants } from "./sweep.ts";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const variants = planVariants(base, { loss: ["ce", "focal"] }, ["loss"], { out: "runs/p" });
 * const plan = await writePlan(variants, ["loss"], { plan: "runs/p" });
 * console.log(plan.files.variants); // ["runs/p/variant-0.json", "runs/p/variant-1.json"]
 * ```
 */
export async function writePlan(
  variants: readonly Variant[],
  axes: readonly string[],
  options: PlanOptions,
): Promise<SweepPlan> {
  const dir = options.plan.replace(/[\\/]+$/, "") || ".";
  const problems: Problem[] = [];
  const check = (path: string, ok: boolean, message: string) => {
    if (!ok) problems.push({ path, message });
  };
  const { parallelism, retries } = options;
  check(
    "plan.parallelism",
    parallelism === undefined || (Number.isInteger(parallelism) && parallelism >= 1),
    `must be an integer >= 1, got ${show(parallelism)}`,
  );
  check(
    "plan.retries",
    retries === undefined || (Number.isInteger(retries) && retries >= 0),
    `must be an integer >= 0, got ${show(retries)}`,
  );
  const report = options.report === false
    ? false
    : options.report === true || options.report === undefined
    ? {}
    : options.report;
  check(
    "plan.report.write",
    !(report && "write" in report && report.write !== undefined),
    "a function cannot go into plan.json; merge and write the tables yourself instead",
  );
  const files = variants.map((v) => {
    try {
      return JSON.stringify(toJSON(v.p), null, 2) + "\n";
    } catch (e) {
      if (!(e instanceof PipelineError)) throw e;
      for (const q of e.problems) {
        problems.push({
          path: `plan (variant "${v.label}"): ${q.path}`,
          message: `cannot go to another machine as JSON: ${q.message}`,
        });
      }
      return "";
    }
  });
  if (problems.length) throw new PipelineError(problems);

  const name = options.name ?? (dir.split(/[\\/]/).pop() || "sweep");
  // The root the sweep laid the variants' folders under (see `sweep`).
  const root = (options.out ?? options.plan).replace(/[\\/]+$/, "");
  const plan: SweepPlan = {
    version: 1,
    name,
    axes: [...axes],
    out: root || ".",
    imports: (options.imports ?? []).map((m) => m instanceof URL ? m.href : m),
    report,
    variants: variants.map((v, index) => ({
      index,
      label: v.label,
      variant: { ...v.axisLabels },
      folder: v.dir!.slice(root.length + 1),
      file: `variant-${index}.json`,
    })),
    dir,
    files: {
      plan: `${dir}/${PLAN_FILE}`,
      slurm: `${dir}/slurm.sh`,
      job: `${dir}/job.yaml`,
      variants: variants.map((_, i) => `${dir}/variant-${i}.json`),
    },
  };
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  for (const [i, text] of files.entries()) await writeFileAtomic(plan.files.variants[i], text);
  await writeFileAtomic(plan.files.slurm, slurmScript(plan, options));
  await Deno.chmod(plan.files.slurm, 0o755).catch(() => {});
  await writeFileAtomic(plan.files.job, jobManifest(plan, options));
  // The index last: a folder with plan.json is a complete plan.
  await writeFileAtomic(plan.files.plan, planJson(plan));
  return plan;
}

/**
 * plan.json's text: the plan without the fields that say where it lies.
 *
 * @example
 * ```ts
 * import { planJson, readPlan } from "./plan.ts";
 * const plan = await readPlan("runs/grid");
 * if (plan) await Deno.writeTextFile("elsewhere/plan.json", planJson(plan));
 * ```
 */
export function planJson(plan: SweepPlan): string {
  const { dir: _dir, files: _files, ...stored } = plan;
  return JSON.stringify(stored, null, 2) + "\n";
}

/**
 * Reads the plan in `dir` (its `plan.json`), or undefined when there is none. A file that is
 * not a plan throws `RunFolderError` with its path.
 *
 * @example
 * ```ts
 * import { readPlan } from "@lossforge/core";
 * const plan = await readPlan("runs/grid");
 * console.log(plan ? `${plan.variants.length} variants` : "no plan.json there");
 * ```
 */
export async function readPlan(dir: string): Promise<SweepPlan | undefined> {
  const base = dir.replace(/[\\/]+$/, "") || ".";
  const path = `${base}/${PLAN_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new RunFolderError(`${path}: cannot read: ${(e as Error).message}`, path);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RunFolderError(`${path}: not valid JSON: ${(e as Error).message}`, path);
  }
  const bad = (what: string) => new RunFolderError(`${path}: not a plan: ${what}`, path);
  if (!isObject(value) || value.version !== 1) {
    throw bad(`version is ${show(isObject(value) ? value.version : value)}, expected 1`);
  }
  if (!Array.isArray(value.variants) || !Array.isArray(value.axes)) {
    throw bad("it needs axes and variants lists");
  }
  value.variants.forEach((v, i) => {
    if (
      !isObject(v) || v.index !== i || typeof v.label !== "string" ||
      typeof v.folder !== "string" || typeof v.file !== "string" || !isObject(v.variant)
    ) throw bad(`variants[${i}] is ${show(v)}`);
  });
  const plan = value as unknown as Omit<SweepPlan, "dir" | "files">;
  return {
    ...plan,
    imports: plan.imports ?? [],
    report: plan.report ?? {},
    dir: base,
    files: {
      plan: path,
      slurm: `${base}/slurm.sh`,
      job: `${base}/job.yaml`,
      variants: plan.variants.map((v) => `${base}/${v.file}`),
    },
  };
}

/** A word for a POSIX shell: single-quoted, with `'` closed, escaped and reopened. */
function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The lines both job engines run, given the variable holding the index: pick the variant's
 * folder, copy plan.json beside the results (so a merge of the output root knows every
 * variant, finished or not), and train it. POSIX sh, so that it runs in any image.
 */
function runLines(plan: SweepPlan, indexVar: string, projectDefault: string): string[] {
  const imports = plan.imports.map((m) => ` --import ${shellQuote(m)}`).join("");
  const last = plan.variants.length - 1;
  return [
    `cd "\${LOSSFORGE_PROJECT:-${projectDefault}}"`,
    `DEFAULT_PLAN=${shellQuote(plan.dir)}`,
    `DEFAULT_OUT=${shellQuote(plan.out)}`,
    `PLAN="\${LOSSFORGE_PLAN:-$DEFAULT_PLAN}"`,
    `OUT="\${LOSSFORGE_OUT:-$DEFAULT_OUT}"`,
    `INDEX="\${${indexVar}:?${indexVar} is not set: the job engine sets it}"`,
    `case "$INDEX" in`,
    ...plan.variants.map((v) => `  ${v.index}) FOLDER=${shellQuote(v.folder)} ;;`),
    `  *) echo "no variant $INDEX in this plan (0-${last})" >&2; exit 2 ;;`,
    `esac`,
    `mkdir -p "$OUT"`,
    `[ "$PLAN" -ef "$OUT" ] || cp "$PLAN/plan.json" "$OUT/plan.json"`,
    `exec "\${DENO:-deno}" task train "$PLAN/variant-$INDEX.json" --out "$OUT/$FOLDER"${imports}`,
  ];
}

function slurmScript(plan: SweepPlan, options: PlanOptions): string {
  const n = plan.variants.length;
  const throttle = options.parallelism !== undefined ? `%${options.parallelism}` : "";
  const sbatch = (o: string) => `#SBATCH ${/\s/.test(o) ? JSON.stringify(o) : o}`;
  return [
    "#!/usr/bin/env bash",
    `# lossforge plan "${plan.name}": ${n} variants over ${plan.axes.join(", ") || "nothing"},`,
    "# one per array task. Submit from the project's root:",
    `#   sbatch ${plan.files.slurm}`,
    "# Environment: LOSSFORGE_OUT (the output root), LOSSFORGE_PLAN (this plan's folder),",
    "# LOSSFORGE_PROJECT (the checkout to run in), DENO (the deno binary). A task run again",
    "# keeps a finished variant and continues a stopped one from its checkpoint, so",
    `#   sbatch --array=3,5 ${plan.files.slurm}`,
    "# reruns variants 3 and 5 (`deno task report --merge OUT` lists the missing ones).",
    sbatch(`--job-name=${plan.name.replace(/\s+/g, "_")}`),
    sbatch(`--array=0-${n - 1}${throttle}`),
    sbatch(`--output=${plan.dir}/logs/%x-%A_%a.log`),
    ...(options.slurm?.directives ?? []).map(sbatch),
    "set -euo pipefail",
    ...runLines(plan, "SLURM_ARRAY_TASK_ID", "${SLURM_SUBMIT_DIR:-.}"),
    "",
  ].join("\n");
}

const PLACEHOLDER = {
  image: "<IMAGE: deno and this project's checkout, plan folder included>",
  claimName: "<CLAIM: a ReadWriteMany PersistentVolumeClaim for the variants' folders>",
  workingDir: "<WORKDIR: the checkout's path in the image>",
};

function jobManifest(plan: SweepPlan, options: PlanOptions): string {
  const k = options.kubernetes ?? {};
  const mountPath = k.mountPath ?? "/runs";
  // A DNS-1123 label, short enough for the pods' names with their index and a suffix.
  const name = plan.name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")
    .slice(0, 50).replace(/-+$/, "") || "lossforge-sweep";
  const script = ["set -eu", ...runLines(plan, "JOB_COMPLETION_INDEX", ".")].join("\n") + "\n";
  const job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, ...(k.namespace ? { namespace: k.namespace } : {}) },
    spec: {
      completionMode: "Indexed",
      completions: plan.variants.length,
      parallelism: options.parallelism ?? plan.variants.length,
      backoffLimitPerIndex: options.retries ?? 1,
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [{
            name: "train",
            image: k.image ?? PLACEHOLDER.image,
            workingDir: k.workingDir ?? PLACEHOLDER.workingDir,
            command: ["sh", "-c", script],
            env: [{ name: "LOSSFORGE_OUT", value: `${mountPath}/${name}` }],
            volumeMounts: [{ name: "runs", mountPath }],
          }],
          volumes: [{
            name: "runs",
            persistentVolumeClaim: { claimName: k.claimName ?? PLACEHOLDER.claimName },
          }],
        },
      },
    },
  };
  const unset = (Object.keys(PLACEHOLDER) as (keyof typeof PLACEHOLDER)[]).filter((f) =>
    k[f] === undefined
  );
  return [
    `# lossforge plan "${plan.name}": an Indexed Job, one pod per variant (0-${
      plan.variants.length - 1
    }).`,
    ...(unset.length
      ? [
        `# Replace the <...> placeholders (${unset.join(", ")}) here or set them in the plan's`,
        "# kubernetes options, then: kubectl apply -f job.yaml",
      ]
      : ["# kubectl apply -f job.yaml"]),
    `# The variants' folders go to ${mountPath}/${name} on the volume; merge them with`,
    `#   deno task report --merge <that folder, copied here>`,
    yaml(job, ""),
    "",
  ].join("\n");
}

/**
 * Block-style YAML for plain data: strings as JSON (a valid YAML double-quoted scalar) or,
 * with newlines, as literal blocks; so the manifest needs no YAML library to write.
 */
function yaml(value: unknown, indent: string): string {
  const key = (k: string) => /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) ? k : JSON.stringify(k);
  const scalar = (v: unknown, at: string): string | undefined => {
    if (typeof v === "string" && v.includes("\n")) {
      const body = v.replace(/\n$/, "").split("\n").map((l) => l ? `${at}  ${l}` : "");
      return `${v.endsWith("\n") ? "|" : "|-"}\n${body.join("\n")}`;
    }
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    return undefined;
  };
  if (Array.isArray(value)) {
    return value.map((item) => {
      const s = scalar(item, indent);
      if (s !== undefined) return `${indent}- ${s}`;
      return `${indent}- ${yaml(item, indent + "  ").slice(indent.length + 2)}`;
    }).join("\n");
  }
  return Object.entries(value as Record<string, unknown>).map(([k, v]) => {
    const s = scalar(v, indent);
    if (s !== undefined) return `${indent}${key(k)}: ${s}`;
    return `${indent}${key(k)}:\n${yaml(v, indent + "  ")}`;
  }).join("\n");
}
