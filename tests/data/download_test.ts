// Every download here goes to a server on 127.0.0.1 started by the test; no other network.
import { downloadFiles, progressBar } from "../../src/data/download.ts";
import type { DownloadProgress } from "../../src/data/download.ts";
import { downloadTask, loadTask, taskCacheDir, TASKS } from "../../src/data/tasks.ts";
import { DataError } from "../../src/data/errors.ts";
import { assert, assertEquals, assertRejects, realGsm8kDir } from "./_assert.ts";
import { jsonl, serve, sha256, tempDir, zip } from "./_files.ts";

const OBQA = {
  id: "8-343",
  question: {
    stem: "A person wants to start saving money so that they can afford a nice vacation at the " +
      "end of the year. After looking over their budget and expenses, they decide the best way " +
      "to save money is to",
    choices: [
      { text: "make more phone calls", label: "A" },
      { text: "quit eating lunch out", label: "B" },
      { text: "buy less with monopoly money", label: "C" },
      { text: "have lunch with friends", label: "D" },
    ],
  },
  fact1: "using less resources usually causes money to be saved",
  humanScore: "1.00",
  clarity: "2.00",
  turkIdAnonymized: "b356d338b7",
  answerKey: "B",
};

function obqaZip(): Uint8Array {
  const root = "OpenBookQA-V1-Sep2018/Data/Additional";
  return zip({
    [`${root}/train_complete.jsonl`]: jsonl([OBQA]),
    [`${root}/dev_complete.jsonl`]: jsonl([OBQA]),
    [`${root}/test_complete.jsonl`]: jsonl([OBQA]),
  });
}

Deno.test("downloadFiles: fetches, verifies, reports progress, keeps verified files", async () => {
  const body = obqaZip();
  const server = serve({ "/d/OpenBookQA-V1-Sep2018.zip": body });
  try {
    const dir = `${await tempDir()}/cache/openbookqa`;
    const spec = {
      name: "OpenBookQA-V1-Sep2018.zip",
      url: `${server.base}/d/OpenBookQA-V1-Sep2018.zip`,
      sha256: await sha256(body),
    };
    const events: DownloadProgress[] = [];
    const lines: string[] = [];
    const bar = progressBar({ write: (s) => lines.push(s), width: 10, label: "openbookqa" });
    const paths = await downloadFiles([spec], dir, {
      onProgress: (p) => {
        events.push(p);
        bar(p);
      },
    });
    assertEquals(paths, { "OpenBookQA-V1-Sep2018.zip": `${dir}/OpenBookQA-V1-Sep2018.zip` });
    assertEquals(await Deno.readFile(paths["OpenBookQA-V1-Sep2018.zip"]), body);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["OpenBookQA-V1-Sep2018.zip"]);
    const last = events[events.length - 1];
    assertEquals([last.done, last.bytes, last.total], [true, body.length, body.length]);
    assert(events.slice(0, -1).every((e) => !e.done && e.total === body.length));
    assert(lines[lines.length - 1].endsWith(`100% 0.0/0.0 MB\n`), lines[lines.length - 1]);
    assert(lines[0].startsWith("\ropenbookqa OpenBookQA-V1-Sep2018.zip ["), lines[0]);
    // The downloaded archive is what the task reads.
    const data = await loadTask("openbookqa", { path: dir, split: "test" });
    assertEquals(data.examples[0].target, "B");
    // Already there and verified: no request.
    const hits = server.hits.length;
    await downloadFiles([spec], dir);
    assertEquals(server.hits.length, hits);
    // force fetches again.
    await downloadFiles([spec], dir, { force: true });
    assertEquals(server.hits.length, hits + 1);
  } finally {
    await server.close();
  }
});

Deno.test("downloadTask: pinned checksums refuse other bytes, leave nothing", async () => {
  const server = serve({ "/MathQA.zip": zip({ "train.json": "[]" }) });
  try {
    const dir = `${await tempDir()}/mathqa`;
    const err = await assertRejects(
      () => downloadTask("mathqa", dir, { mirror: `${server.base}/` }),
      DataError,
      "sha256 mismatch: expected a digest starting 7344f30456a7",
    );
    assert(err.message.startsWith(`${server.base}/MathQA.zip: `), err.message);
    assertEquals([...Deno.readDirSync(dir)], []);
    // A file the mirror lacks is an HTTP error with the advice.
    const missing = await assertRejects(
      () => downloadTask("hellaswag", dir, { mirror: server.base }),
      DataError,
      `${server.base}/hellaswag_train.jsonl: download failed with HTTP 404`,
    );
    assert(missing.message.includes("https://rowanzellers.com/hellaswag/"), missing.message);
    assert(missing.message.includes("--data DIR"), missing.message);
  } finally {
    await server.close();
  }
});

Deno.test("downloadTask: offline is one line: where to get the files, which flag", async () => {
  const server = serve({});
  const base = server.base;
  await server.close(); // nothing listens there any more
  const dir = `${await tempDir()}/obqa`;
  for (const name of ["openbookqa", "mathqa", "hellaswag", "gsm8k"] as const) {
    const err = await assertRejects(
      () => downloadTask(name, dir, { mirror: base }),
      DataError,
      "download failed (",
    );
    assert(!err.message.includes("\n"), `one line: ${err.message}`);
    assert(err.message.includes("--data DIR"), err.message);
    for (const f of TASKS[name].files) assert(err.message.includes(f.name), err.message);
  }
});

Deno.test("downloadTask: GSM8K from a local mirror of the real files", async () => {
  const real = await realGsm8kDir();
  if (real === null) return;
  const server = serve({
    "/train.jsonl": await Deno.readFile(`${real}/train.jsonl`),
    "/test.jsonl": await Deno.readFile(`${real}/test.jsonl`),
  });
  try {
    const dir = `${await tempDir()}/gsm8k`;
    const done: string[] = [];
    const got = await downloadTask("gsm8k", dir, {
      mirror: server.base,
      onProgress: (p) => p.done && done.push(p.file),
    });
    assertEquals(got, dir);
    assertEquals(done, ["train.jsonl", "test.jsonl"]);
    assertEquals(server.hits, ["/train.jsonl", "/test.jsonl"]);
    const test = await loadTask("gsm8k", { path: dir, split: "test" });
    assertEquals(test.examples.length, 1319);
    await downloadTask("gsm8k", dir, { mirror: server.base });
    assertEquals(server.hits.length, 2, "verified files are not fetched again");
  } finally {
    await server.close();
  }
});

Deno.test("taskCacheDir: LOSSFORGE_CACHE, then XDG_CACHE_HOME, then HOME", () => {
  const saved = ["LOSSFORGE_CACHE", "XDG_CACHE_HOME", "LOCALAPPDATA", "HOME"].map((
    k,
  ) => [k, Deno.env.get(k)] as const);
  try {
    for (const [k] of saved) Deno.env.delete(k);
    Deno.env.set("HOME", "/home/me");
    assertEquals(taskCacheDir("mathqa"), "/home/me/.cache/lossforge/mathqa");
    Deno.env.set("XDG_CACHE_HOME", "/xdg");
    assertEquals(taskCacheDir("hellaswag"), "/xdg/lossforge/hellaswag");
    Deno.env.set("LOSSFORGE_CACHE", "/data");
    assertEquals(taskCacheDir("gsm8k"), "/data/gsm8k");
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
});
