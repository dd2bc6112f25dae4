import { createLiveDisplay, type TrainEvent } from "../../mod.ts";
import { assert, assertEquals } from "../_assert.ts";

const event = (step: number, extra: Partial<TrainEvent> = {}): TrainEvent => ({
  step,
  totalSteps: 100,
  loss: 2.5,
  lr: 1e-3,
  gradNorm: 1,
  tokensPerSecond: 1500,
  elapsed: step / 10,
  epoch: 0,
  skipped: 0,
  ...extra,
});

/** A display on a fake clock that records what it writes. */
function fake(isTerminal: boolean) {
  let t = 0;
  const out: string[] = [];
  const live = createLiveDisplay({
    write: (s) => out.push(s),
    isTerminal,
    refreshMs: 0,
    now: () => t,
  });
  return { live, out, advance: (ms: number) => (t += ms) };
}

Deno.test("live display: plain lines when not a terminal, no cursor moves", () => {
  const { live, out, advance } = fake(false);
  live.add("ce", 100);
  live.add("0.6 ce + 0.4 focal", 100);
  live.message("2 run(s) on cpu");
  live.start("ce");
  advance(5000);
  live.event("ce", event(50));
  live.draw(); // nothing: only a terminal is redrawn
  advance(5000);
  live.event("ce", event(100, { eval: { exactMatch: 0.25 } }));
  live.finish("ce", "ce: done");
  live.close();
  assertEquals(out.length, 4, out.join(""));
  assert(out.every((l) => l.endsWith("\n") && !l.includes("\x1b")), out.join(""));
  assertEquals(out[0], "2 run(s) on cpu\n");
  // 50 steps in 5 s: 50 more take 5 s; the sweep has 150 steps left at 10 steps/s.
  assert(out[1].startsWith("ce                  "), out[1]);
  assert(out[1].includes("step 50/100  loss 2.5000  1500 tok/s  ETA 5s  (sweep ETA 15s)"), out[1]);
  assert(out[2].includes("step 100/100") && out[2].includes("eval exactMatch 0.2500"), out[2]);
  assertEquals(out[3], "ce: done\n");
});

Deno.test("live display: a terminal gets one line per running variant, redrawn in place", () => {
  const { live, out, advance } = fake(true);
  live.add("ce", 100);
  live.add("focal", 100);
  live.start("ce");
  live.start("focal", 40); // resumed from a checkpoint at step 40
  advance(5000);
  live.event("ce", event(50));
  live.event("focal", event(50, { loss: 1.25 }));
  out.length = 0;
  advance(2000);
  live.draw();
  // A redraw moves up over the 3 lines drawn last (2 variants + the sweep line), clears them.
  assert(out[0].startsWith("\x1b[3F\x1b[J"), JSON.stringify(out[0]));
  const lines = out[0].slice("\x1b[3F\x1b[J".length).split("\n").slice(0, -1);
  assertEquals(lines.length, 3, JSON.stringify(out[0]));
  // Between events the step moves on at the measured rate: ce 10 steps/s, focal 2 steps/s.
  assert(lines[0].startsWith("ce   ") && lines[0].includes(" 70/100  loss 2.5000"), lines[0]);
  assert(lines[0].endsWith("ETA 3s"), lines[0]);
  assert(lines[1].includes(" 54/100  loss 1.2500") && lines[1].endsWith("ETA 23s"), lines[1]);
  assert(lines[2].startsWith("sweep: 0/2 done, 2 running  ETA "), lines[2]);

  // A finished variant leaves its line above the live block, which shrinks to one variant.
  out.length = 0;
  live.finish("ce", "ce: done");
  const after = out[0].slice("\x1b[3F\x1b[J".length).split("\n").slice(0, -1);
  assertEquals(after[0], "ce: done");
  assertEquals(after.length, 3);
  assert(after[1].startsWith("focal"), after[1]);
  assert(after[2].startsWith("sweep: 1/2 done, 1 running"), after[2]);
  live.close();
});

Deno.test("live display: a variant that has not reported yet shows its time so far", () => {
  const { live, out, advance } = fake(true);
  live.add("ce", 700);
  live.start("ce");
  advance(12_000);
  out.length = 0;
  live.draw();
  assert(out[0].includes("0/700  starting (12s)"), JSON.stringify(out[0]));
  assert(out[0].includes("sweep: 0/1 done, 1 running  ETA ?"), JSON.stringify(out[0]));
  live.close();
});
