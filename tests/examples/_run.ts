// Runs an example as a user would (a subprocess from the repository root) and checks the
// command-line contract for bad input: exit code 2, one line on stderr, nothing written.
import { assert, assertEquals } from "../_assert.ts";

const root = new URL("../../", import.meta.url).pathname;

/** The exit code and output of `deno run -A examples/<file> ...args`. */
export async function runExample(
  file: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `examples/${file}`, ...args],
    cwd: root,
    // LOSSFORGE_BACKEND=cpu: importing mod.ts does not probe for a GPU adapter.
    env: { NO_COLOR: "1", LOSSFORGE_BACKEND: "cpu" },
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Each case's args give exit code 2 with a one-line error containing its text, and no `--out`. */
export async function assertBadInput(file: string, cases: [string[], string][]): Promise<void> {
  for (const [args, text] of cases) {
    const out = `${await Deno.makeTempDir()}/out`;
    const r = await runExample(file, [...args, "--out", out]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert(r.err.includes(text), `${args.join(" ")}: ${r.err}`);
    assertEquals(r.err.trim().split("\n").length, 1, r.err);
    const written = await Deno.stat(out).then(() => true, () => false);
    assert(!written, `${args.join(" ")}: wrote ${out}`);
  }
}
