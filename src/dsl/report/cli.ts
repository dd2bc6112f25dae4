/**
 * `deno task report --merge DIR...`: merges finished variants (a plan's output roots, or
 * sweeps' folders) into one table, written as a sweep writes its report, and lists the
 * planned variants that have no result. Exit codes: 0 every planned variant is there, 3 some
 * are missing (the report of the others is written all the same), 1 a result file could not
 * be read (named by path), 2 bad usage.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * console.log(await main(["--help"])); // 0
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { LossforgeError } from "../../autograd/errors.ts";
import { mergeResults } from "./merge.ts";

const HELP = `Usage: deno task report --merge DIR... [--out DIR]

Merges the finished variants under each DIR into one table: results.md, results.csv,
results.json and curves.svg, as a sweep writes them (the plan's report layout).
A DIR is a plan's output root (it holds plan.json: the jobs copy it there) or a sweep's
folder; several roots complete each other (the first one's result wins).

Options:
  --merge          merge the folders given (the only command so far)
  --out DIR        where the report goes (default: the first DIR)
  -h, --help       this text

Missing variants are listed by index and label, with the Slurm command that reruns them.
Exit codes: 0 all planned variants finished; 3 some are missing (the others' report is
written); 1 a result.json could not be read (its path is named); 2 bad usage.
`;

/**
 * Runs the report command line `args` and returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * console.log(await main(["--merge"])); // 2: no folder given
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        merge: { type: "boolean" },
        out: { type: "string" },
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
  if (!values.merge || positionals.length === 0) {
    console.error("error: give --merge and at least one folder (see --help)");
    return 2;
  }
  for (const d of positionals) {
    try {
      if (!(await Deno.stat(d)).isDirectory) throw new Error("not a folder");
    } catch (e) {
      console.error(`error: ${d}: ${(e as Error).message}`);
      return 2;
    }
  }
  let r;
  try {
    r = await mergeResults(positionals, { out: values.out });
  } catch (e) {
    if (!(e instanceof LossforgeError)) throw e;
    console.error(`error: ${e.message}`);
    return 1;
  }
  for (const q of r.problems) console.error(`error: ${q.path}: ${q.message}`);
  const total = r.table.rows.length + r.missing.length;
  console.log(
    `${r.table.rows.length} of ${total} variants finished` +
      (r.out ? `; report in ${r.out}/results.md` : "; nothing to report yet"),
  );
  if (r.missing.length) {
    console.log(`missing (${r.missing.length}):`);
    for (const v of r.missing) console.log(`  ${v.index}  ${v.label}  (${v.folder})`);
    console.log(
      `rerun them: sbatch --array=${r.missing.map((v) => v.index).join(",")} <plan>/slurm.sh`,
    );
  }
  return r.problems.length ? 1 : r.missing.length ? 3 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
