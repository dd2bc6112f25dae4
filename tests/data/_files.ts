/**
 * Test helpers that write task files in their real shapes: JSONL, JSON arrays, zip
 * archives (fflate) and parquet files (hyparquet-writer), and serve files over HTTP on
 * 127.0.0.1.
 *
 * @module
 */

import { parquetWriteBuffer } from "hyparquet-writer";
import { strToU8, zipSync } from "fflate";

/** A fresh temporary folder. */
export function tempDir(): Promise<string> {
  return Deno.makeTempDir({ prefix: "lossforge-tasks-" });
}

/** Writes `text` (or bytes) at `dir/rel`, creating folders; returns the path. */
export async function writeAt(dir: string, rel: string, data: string | Uint8Array) {
  const path = `${dir}/${rel}`;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  if (typeof data === "string") await Deno.writeTextFile(path, data);
  else await Deno.writeFile(path, data);
  return path;
}

/** One JSON object per line. */
export function jsonl(records: unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join("\n") + "\n";
}

/** A zip archive of text files. */
export function zip(files: Record<string, string>): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)])));
}

/** A parquet file of `rows` (column types guessed from the values, as hyparquet-writer does). */
export function parquet(rows: Record<string, unknown>[]): Uint8Array {
  const names = Object.keys(rows[0]);
  const columnData = names.map((name) => {
    const data = rows.map((r) => r[name]);
    const allStrings = data.every((v) => typeof v === "string");
    return allStrings ? { name, data, type: "STRING" as const } : { name, data };
  });
  return new Uint8Array(parquetWriteBuffer({ columnData }));
}

/** Serves `files` (by URL path) on 127.0.0.1 at a free port; `close` stops it. */
export function serve(files: Record<string, Uint8Array>): {
  base: string;
  hits: string[];
  close: () => Promise<void>;
} {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    const body = files[path];
    if (body === undefined) return new Response("not found", { status: 404 });
    return new Response(body as Uint8Array<ArrayBuffer>, {
      headers: { "content-length": String(body.length) },
    });
  });
  const { port } = server.addr as Deno.NetAddr;
  return { base: `http://127.0.0.1:${port}`, hits, close: () => server.shutdown() };
}

/** sha256 as hex. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}
