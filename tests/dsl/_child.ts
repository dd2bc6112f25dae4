// Child `deno run` processes for the tests that signal, kill or starve a run, and checks that
// a run folder holds nothing half-written.
import { listCheckpoints, verifyCheckpoint } from "../../mod.ts";
import { assert } from "../_assert.ts";

const root = new URL("../../", import.meta.url).pathname;

/** `deno run -A <script> ...args` from the repository root, output piped. */
export function spawnDeno(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: root,
    env: { NO_COLOR: "1", LOSSFORGE_BACKEND: "cpu", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Exit code and text output of a finished (or killed) child. */
export async function finish(
  child: Deno.ChildProcess,
): Promise<{ code: number; out: string; err: string }> {
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Polls `check` every `ms` until it is true; false when `child` exited or time ran out. */
export async function waitFor(
  check: () => Promise<boolean>,
  options: { child?: { exited: boolean }; timeoutMs?: number; ms?: number } = {},
): Promise<boolean> {
  const end = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < end) {
    if (await check()) return true;
    if (options.child?.exited) return false;
    await new Promise((r) => setTimeout(r, options.ms ?? 5));
  }
  return false;
}

/** Tracks whether a child has exited (so polling can stop). */
export function exitWatch(child: Deno.ChildProcess): { exited: boolean } {
  const w = { exited: false };
  child.status.then(() => (w.exited = true));
  return w;
}

/** Every path under `dir` (files and folders), relative, sorted. */
export async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      out.push(rel);
      if (e.isDirectory) out.push(...await walk(dir, rel));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** The temporary names interrupted atomic writes leave (`.name.tmp-<pid>-<random>`). */
export function isTemp(rel: string): boolean {
  return rel.split("/").some((part) => /^\..+\.tmp-\d+-[0-9a-z]+(-old)?$/.test(part));
}

/**
 * Asserts that no file of a run folder is half-written: every checkpoint matches its
 * checksums, every JSON file parses, every line of every event log parses. Temporary names
 * are skipped (the next run clears them). Returns the checkpoints checked.
 */
export async function assertSound(dir: string): Promise<number> {
  let checkpoints = 0;
  for (const rel of await walk(dir)) {
    if (isTemp(rel)) continue;
    const path = `${dir}/${rel}`;
    if (rel.endsWith("/checkpoints") || rel === "checkpoints") {
      for (const c of await listCheckpoints(path)) {
        await verifyCheckpoint(c);
        checkpoints++;
      }
    } else if (rel.endsWith(".json") && !rel.includes("/step-")) {
      const text = await Deno.readTextFile(path);
      try {
        JSON.parse(text);
      } catch (e) {
        throw new Error(`${path} is not valid JSON (${(e as Error).message}): ${text}`);
      }
    } else if (rel.endsWith(".jsonl")) {
      const text = await Deno.readTextFile(path);
      assert(text === "" || text.endsWith("\n"), `${path} ends mid-line`);
      for (const line of text.split("\n").filter((l) => l)) JSON.parse(line);
    }
  }
  return checkpoints;
}
