/**
 * A synthetic GSM8K-style data set: short templated word problems with 1 to 3 arithmetic
 * steps, solved in GSM8K's exact answer format (`<<a*b=c>>` annotations, `#### N`).
 * Small numbers and short texts, so that a small byte-level model can learn it.
 *
 * @module
 */

import { formatGsm8k, type Gsm8kExample, type Gsm8kTarget } from "./gsm8k.ts";
import { deriveSeed, seededRandom } from "./random.ts";

/**
 * How many arithmetic steps problems have: `d` in 1..3 means 1 to `d` steps (uniform);
 * `"mixed"` first draws `d` uniformly from 1..3, so easier problems are more frequent.
 *
 * @example
 * ```ts
 * import { gsm8kSynthetic, type SyntheticDifficulty } from "@lossforge/core";
 * const difficulty: SyntheticDifficulty = 2;
 * const steps = gsm8kSynthetic({ difficulty, count: 50 }).map((e) => e.steps);
 * console.log(new Set(steps)); // Set {1, 2}
 * ```
 */
export type SyntheticDifficulty = 1 | 2 | 3 | "mixed";

/**
 * Options of {@linkcode gsm8kSynthetic}.
 *
 * @example
 * ```ts
 * import { gsm8kSynthetic } from "@lossforge/core";
 * const test = gsm8kSynthetic({ seed: 7, difficulty: "mixed", count: 500, split: "test" });
 * console.log(test.length, test.filter((e) => e.steps === 1).length); // 500 280
 * ```
 */
export interface SyntheticOptions {
  /** Seed (default 42). The same options always give the same examples. */
  seed?: number;
  /** Maximum number of steps, or `"mixed"` (default `"mixed"`). */
  difficulty?: SyntheticDifficulty;
  /** How many examples (default 1000 for train, 200 for test). */
  count?: number;
  /** `"train"` or `"test"` (default `"train"`); their questions never overlap. */
  split?: "train" | "test";
  /** Target format, as in {@linkcode formatGsm8k} (default `"annotations"`). */
  target?: Gsm8kTarget;
  /**
   * Every number in a solution (operands and results) stays below this (default 1000, at most
   * 1000). Smaller values make problems a small model can learn in minutes.
   */
  maxNumber?: number;
}

/**
 * A synthetic example: a {@linkcode Gsm8kExample} plus its template and step count.
 *
 * @example
 * ```ts
 * import { gsm8kSynthetic, type SyntheticExample } from "@lossforge/core";
 * const [ex]: SyntheticExample[] = gsm8kSynthetic({ count: 1 });
 * console.log(ex.template, ex.steps, ex.target); // "discount" 2 "<<15/5=3>> <<15-3=12>> #### 12"
 * ```
 */
export interface SyntheticExample extends Gsm8kExample {
  /** Name of the template that produced it (one of {@linkcode SYNTHETIC_TEMPLATES}). */
  template: string;
  /** Number of arithmetic steps (annotations) in the solution. */
  steps: number;
}

type Op = "+" | "-" | "*" | "/";

/** Thrown inside a template when drawn numbers break a constraint; the caller redraws. */
class Reject extends Error {}

interface Person {
  name: string;
  he: string;
  He: string;
}

const PEOPLE: readonly [string, "he" | "she"][] = [
  ["Ana", "she"],
  ["Ben", "he"],
  ["Cal", "he"],
  ["Dee", "she"],
  ["Eli", "he"],
  ["Fay", "she"],
  ["Gus", "he"],
  ["Ivy", "she"],
  ["Jo", "she"],
  ["Kai", "he"],
  ["Liz", "she"],
  ["Max", "he"],
  ["Mia", "she"],
  ["Ned", "he"],
  ["Ola", "she"],
  ["Sam", "he"],
  ["Tom", "he"],
  ["Zoe", "she"],
];

const LIMIT = 1000;

class Gen {
  lines: string[] = [];
  last = -1;
  private used = new Set<string>();
  constructor(private rng: () => number, private limit = LIMIT) {}

  int(lo: number, hi: number): number {
    if (hi < lo) throw new Reject();
    return lo + Math.floor(this.rng() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng() * items.length)];
  }

  /** A person whose name is not used yet in this problem. */
  person(): Person {
    for (;;) {
      const [name, he] = this.pick(PEOPLE);
      if (this.used.has(name)) continue;
      this.used.add(name);
      return { name, he, He: he === "he" ? "He" : "She" };
    }
  }

  /**
   * One solution line `lead a op b = <<a op b=c>>c post.` (money puts `$` before `<<`).
   * Rejects non-integer, negative or too large results, and inexact division.
   */
  step(lead: string, a: number, op: Op, b: number, post = "", money = false): number {
    let c: number;
    switch (op) {
      case "+":
        c = a + b;
        break;
      case "-":
        c = a - b;
        break;
      case "*":
        c = a * b;
        break;
      case "/":
        if (b === 0 || a % b !== 0) throw new Reject();
        c = a / b;
        break;
    }
    for (const v of [a, b, c]) {
      if (!Number.isInteger(v) || v < 0 || v >= this.limit) throw new Reject();
    }
    const f = `<<${a}${op}${b}=${c}>>`;
    this.lines.push(`${lead} ${a} ${op} ${b} = ${money ? "$" : ""}${f}${c}${post}.`);
    this.last = c;
    return c;
  }
}

type Steps = 1 | 2 | 3;
type Template = (g: Gen, steps: Steps) => string;

const TEMPLATES: Readonly<Record<string, Template>> = {
  shopping(g, steps) {
    const p = g.person();
    const items = g.pick(["pens", "apples", "notebooks", "cookies", "stickers", "balloons"]);
    const a = g.int(2, 9), price = g.int(2, 12);
    let q = `${p.name} buys ${a} ${items} at $${price} each.`;
    const c1 = g.step(`The ${items} cost`, a, "*", price, "", true);
    if (steps === 1) return `${q} How much does ${p.he} spend?`;
    const x = g.int(2, 15);
    q += ` ${p.He} also buys ${g.pick(["a book", "a bag", "a hat", "a toy"])} for $${x}.`;
    const c2 = g.step("In total", c1, "+", x, "", true);
    if (steps === 2) return `${q} How much does ${p.he} spend in total?`;
    const bill = [20, 50, 100].find((v) => v >= c2);
    if (bill === undefined) throw new Reject();
    g.step("The change is", bill, "-", c2, "", true);
    return `${q} ${p.He} pays with a $${bill} bill. How much change does ${p.he} get?`;
  },

  travel(g, steps) {
    const v = g.pick(["car", "bus", "train", "truck"]);
    const speed = 5 * g.int(4, 14), h = g.int(2, 6);
    let q = `A ${v} travels at ${speed} miles per hour for ${h} hours.`;
    const c1 = g.step("It travels", speed, "*", h, " miles");
    if (steps === 1) return `${q} How many miles does it travel?`;
    const m = g.int(5, 60);
    q += ` Then it goes ${m} more miles.`;
    const c2 = g.step("In all it travels", c1, "+", m, " miles");
    if (steps === 2) return `${q} How many miles does it travel in all?`;
    const trip = c2 + 10 * g.int(1, 20);
    g.step("Miles left:", trip, "-", c2);
    return `${q} The trip is ${trip} miles. How many miles are left?`;
  },

  sharing(g, steps) {
    const p = g.person();
    const things = g.pick(["marbles", "stickers", "candies", "cards", "grapes"]);
    const k = g.int(2, 6), per = g.int(2, 12), total = k * per;
    if (steps === 1) {
      g.step("Each friend gets", total, "/", k, ` ${things}`);
      return `${p.name} shares ${total} ${things} equally among ${k} friends. ` +
        `How many ${things} does each friend get?`;
    }
    const b = g.int(1, total - 1), a = total - b;
    const c1 = g.step(`${p.name} has`, a, "+", b, ` ${things}`);
    const c2 = g.step("Each friend gets", c1, "/", k);
    const q = `${p.name} has ${a} ${things} and gets ${b} more. ` +
      `${p.He} shares them equally among ${k} friends.`;
    if (steps === 2) return `${q} How many does each friend get?`;
    const away = g.int(1, c2 - 1);
    g.step("Each friend has", c2, "-", away, " left");
    return `${q} Each friend gives ${away} away. How many does each friend have left?`;
  },

  ages(g, steps) {
    const p = g.person(), m = g.person();
    const a = g.int(3, 15), k = g.int(2, 4);
    let q = `${p.name} is ${a} years old. ${m.name} is ${k} times as old.`;
    const c1 = g.step(`${m.name} is`, a, "*", k, " years old");
    if (steps === 1) return `${q} How old is ${m.name}?`;
    const r = g.person();
    const d = g.int(1, c1 - 1);
    q += ` ${r.name} is ${d} years younger than ${m.name}.`;
    const c2 = g.step(`${r.name} is`, c1, "-", d, " years old");
    if (steps === 2) return `${q} How old is ${r.name}?`;
    g.step("Together they are", c1, "+", c2, " years old");
    return `${q} What is the sum of ${m.name}'s and ${r.name}'s ages?`;
  },

  chores(g, steps) {
    const p = g.person();
    if (steps === 3) {
      const total = 60 * g.int(1, 4), k = g.int(2, 5);
      const m = 5 * g.int(1, Math.floor((total - 5) / (5 * k)));
      const r = total - m * k;
      const c1 = g.step(`${p.name} spends`, m, "*", k, " minutes on chores");
      const c2 = g.step("With the rest that is", c1, "+", r, " minutes");
      g.step("In hours that is", c2, "/", 60, " hours");
      return `${p.name} spends ${m} minutes on each of ${k} chores, then rests ${r} minutes. ` +
        `How many hours is that in all?`;
    }
    const m = 5 * g.int(1, 9), k = g.int(2, 6);
    const c1 = g.step(`${p.name} spends`, m, "*", k, " minutes");
    const q = `${p.name} spends ${m} minutes on each of ${k} chores.`;
    if (steps === 1) return `${q} How many minutes is that?`;
    const r = g.int(5, 40);
    g.step("In all that is", c1, "+", r, " minutes");
    return `${q} Then ${p.he} rests ${r} minutes. How many minutes is that in all?`;
  },

  savings(g, steps) {
    const p = g.person();
    const s = g.int(2, 20), w = g.int(2, 10);
    if (steps === 1) {
      g.step(`${p.name} saves`, s, "*", w, "", true);
      return `${p.name} saves $${s} each week for ${w} weeks. How much does ${p.he} save?`;
    }
    const a = g.int(5, 80);
    const c1 = g.step(`${p.name} saves`, s, "*", w, "", true);
    const c2 = g.step(`${p.He} has`, a, "+", c1, "", true);
    const q = `${p.name} has $${a} and saves $${s} a week for ${w} weeks.`;
    if (steps === 2) return `${q} How much does ${p.he} have now?`;
    const cost = g.int(1, c2);
    const thing = g.pick(["bike", "game", "jacket", "radio", "lamp"]);
    g.step("Left:", c2, "-", cost, "", true);
    return `${q} Then ${p.he} buys a ${thing} for $${cost}. How much is left?`;
  },

  baking(g, steps) {
    const p = g.person();
    if (steps === 3) {
      const carton = g.pick([6, 12]), n = g.int(2, 6), total = carton * n;
      const a = g.int(2, 4), k = g.int(2, Math.floor((total - 1) / a));
      const e = total - a * k;
      const c1 = g.step("The cakes need", a, "*", k, " eggs");
      const c2 = g.step("In all", c1, "+", e, " eggs");
      g.step("That is", c2, "/", carton, " cartons");
      return `A cake needs ${a} eggs. ${p.name} bakes ${k} cakes and uses ${e} eggs for ` +
        `cookies. Eggs come in cartons of ${carton}. How many cartons does ${p.he} need?`;
    }
    const a = g.int(2, 4), k = g.int(2, 9);
    const c1 = g.step("The cakes need", a, "*", k, " eggs");
    const q = `A cake needs ${a} eggs. ${p.name} bakes ${k} cakes`;
    if (steps === 1) return `${q}. How many eggs does ${p.he} use?`;
    const e = g.int(1, 12);
    g.step("In all", c1, "+", e, " eggs");
    return `${q} and uses ${e} eggs for cookies. How many eggs does ${p.he} use in all?`;
  },

  garden(g, steps) {
    const l = g.int(3, 20), w = g.int(2, 15);
    const q = `A garden is ${l} meters long and ${w} meters wide.`;
    if (steps === 1) {
      g.step("The area is", l, "*", w, " square meters");
      return `${q} What is its area in square meters?`;
    }
    const c1 = g.step("Half the perimeter is", l, "+", w, " meters");
    const c2 = g.step("The perimeter is", c1, "*", 2, " meters");
    if (steps === 2) return `${q} What is its perimeter in meters?`;
    const f = g.int(2, 9);
    g.step("The fence costs", c2, "*", f, "", true);
    return `${q} A fence costs $${f} per meter. How much does it cost to fence it?`;
  },

  discount(g, steps) {
    const [item, items] = g.pick(
      [["jacket", "jackets"], ["lamp", "lamps"], ["chair", "chairs"], [
        "backpack",
        "backpacks",
      ]] as const,
    );
    if (steps === 1) {
      const price = g.int(10, 90), off = g.int(2, price - 1);
      g.step("The sale price is", price, "-", off, "", true);
      return `A ${item} costs $${price}. It is $${off} off. What is the sale price?`;
    }
    const [pct, div] = g.pick([[50, 2], [25, 4], [20, 5], [10, 10]] as const);
    if (steps === 2) {
      const price = div * g.int(2, Math.floor(200 / div));
      const d = g.step("The discount is", price, "/", div, "", true);
      g.step("The sale price is", price, "-", d, "", true);
      return `A ${item} costs $${price}. It is ${pct}% off. What is the sale price?`;
    }
    const p = g.person();
    const price = div * g.int(1, Math.floor(60 / div)), k = g.int(2, 6);
    const t = g.step("The total is", k, "*", price, "", true);
    const d = g.step("The discount is", t, "/", div, "", true);
    g.step(`${p.He} pays`, t, "-", d, "", true);
    return `${p.name} buys ${k} ${items} at $${price} each with ${pct}% off the total. ` +
      `How much does ${p.he} pay?`;
  },

  packing(g, steps) {
    const p = g.person();
    const r = g.int(3, 20);
    if (steps === 1) {
      const h = g.int(2, 9);
      g.step(`${p.name} packs`, r, "*", h, " boxes");
      return `${p.name} packs ${r} boxes per hour. How many boxes does ${p.he} pack in ${h} hours?`;
    }
    const m = g.person();
    const s = g.int(3, 20);
    const q = `${p.name} packs ${r} boxes per hour and ${m.name} packs ${s} per hour.`;
    if (steps === 2) {
      const h = g.int(2, 8);
      const c1 = g.step("Together they pack", r, "+", s, " boxes per hour");
      g.step("In all they pack", c1, "*", h, " boxes");
      return `${q} How many boxes do they pack together in ${h} hours?`;
    }
    const rate = r + s, hours = g.int(2, 8), rest = rate * hours, done = g.int(5, 99);
    const total = rest + done;
    const c1 = g.step("Boxes left:", total, "-", done);
    const c2 = g.step("Together they pack", r, "+", s, " boxes per hour");
    g.step("It takes", c1, "/", c2, " hours");
    return `${q} ${done} of ${total} boxes are packed. How many hours until all are packed?`;
  },

  orchard(g, steps) {
    const a = g.int(2, 9), b = g.int(2, 12);
    let q = `A farm has ${a} rows of ${b} trees.`;
    const c1 = g.step("There are", a, "*", b, " trees");
    if (steps === 1) return `${q} How many trees are there?`;
    const d = g.int(1, c1 - 1);
    q += ` ${d} trees die.`;
    const c2 = g.step("Left:", c1, "-", d, " trees");
    if (steps === 2) return `${q} How many trees are left?`;
    const f = g.int(2, 9);
    g.step("They give", c2, "*", f, " apples");
    return `${q} Each tree left gives ${f} apples. How many apples are there?`;
  },

  teams(g, steps) {
    const t = g.int(2, 8), n = g.int(2, 12), s = t * n;
    let q = `${s} students split into teams of ${t}.`;
    const c1 = g.step("There are", s, "/", t, " teams");
    if (steps === 1) return `${q} How many teams are there?`;
    const b = g.int(2, 6);
    q += ` Each team gets ${b} balls.`;
    const c2 = g.step("They need", c1, "*", b, " balls");
    if (steps === 2) return `${q} How many balls are needed?`;
    const h = g.int(1, c2 - 1);
    g.step("They need", c2, "-", h, " more");
    return `${q} The school has ${h} balls. How many more balls does it need?`;
  },

  reading(g, steps) {
    const p = g.person();
    if (steps === 1) {
      const a = g.int(5, 60), b = g.int(5, 60);
      g.step(`${p.name} reads`, a, "+", b, " pages");
      return `${p.name} reads ${a} pages on Monday and ${b} on Tuesday. ` +
        `How many pages does ${p.he} read?`;
    }
    const r = g.int(5, 20), d = g.int(2, 7);
    const k = g.int(2, 5), per = g.int(3, 20);
    const rest = steps === 3 ? k * per : g.int(10, 200);
    const total = r * d + rest;
    const c1 = g.step(`${p.He} reads`, r, "*", d, " pages");
    const c2 = g.step("Pages left:", total, "-", c1);
    const q = `A book has ${total} pages. ${p.name} reads ${r} pages a day for ${d} days.`;
    if (steps === 2) return `${q} How many pages are left?`;
    g.step("Each day", c2, "/", k, " pages");
    return `${q} ${p.He} reads the rest in ${k} equal days. How many pages a day is that?`;
  },

  wages(g, steps) {
    const p = g.person();
    const w = g.int(5, 20), h = g.int(2, 8);
    if (steps === 1) {
      g.step(`${p.He} earns`, w, "*", h, "", true);
      return `${p.name} earns $${w} an hour and works ${h} hours. How much does ${p.he} earn?`;
    }
    const d = g.int(2, 6);
    const c1 = g.step(`${p.He} works`, h, "*", d, " hours");
    const c2 = g.step(`${p.He} earns`, c1, "*", w, "", true);
    const q = `${p.name} earns $${w} an hour and works ${h} hours a day for ${d} days.`;
    if (steps === 2) return `${q} How much does ${p.he} earn?`;
    const x = g.int(1, c2 - 1);
    g.step("Left:", c2, "-", x, "", true);
    return `${q} ${p.He} spends $${x}. How much is left?`;
  },
};

/**
 * Names of the synthetic problem templates.
 *
 * @example
 * ```ts
 * import { SYNTHETIC_TEMPLATES } from "@lossforge/core";
 * console.log(SYNTHETIC_TEMPLATES.length, SYNTHETIC_TEMPLATES[0]); // 14 "shopping"
 * ```
 */
export const SYNTHETIC_TEMPLATES: readonly string[] = Object.freeze(Object.keys(TEMPLATES));

/** FNV-1a of a string; decides which split a question belongs to. */
function hashText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The split that owns a question: a fixed 1-in-5 share of all possible questions (by hash
 * of the text) belongs to `"test"`, the rest to `"train"`, so the splits never overlap
 * whatever the seeds and counts.
 *
 * @example
 * ```ts
 * import { syntheticSplitOf } from "@lossforge/core";
 * const question = "A farm has 2 rows of 3 trees. How many trees are there?";
 * console.log(syntheticSplitOf(question)); // "train"
 * ```
 */
export function syntheticSplitOf(question: string): "train" | "test" {
  return hashText(question) % 5 === 0 ? "test" : "train";
}

/**
 * Generates GSM8K-style word problems from {@linkcode SYNTHETIC_TEMPLATES} (shopping, travel,
 * sharing, ages, time, savings, baking, area/perimeter, discounts, work rates, ...), each
 * solved in 1 to 3 steps with GSM8K's answer format: one line per step with a
 * `<<a op b=c>>` annotation and a final `#### N` line. All numbers are non-negative
 * integers below 1000 and divisions are exact; `final` is the last step's result.
 * Deterministic for given options; questions are unique within a split, and the train and
 * test splits never share a question (see {@linkcode syntheticSplitOf}).
 *
 * @param options Seed, difficulty, count, split and target format.
 * @returns The examples, with `prompt`/`target` as produced by {@linkcode formatGsm8k}.
 *
 * @example
 * ```ts
 * import { gsm8kSynthetic } from "@lossforge/core";
 * const [ex] = gsm8kSynthetic({ seed: 1, difficulty: 2, count: 1 });
 * console.log(ex.question); // "Tom saves $7 each week for 2 weeks. How much does he save?"
 * console.log(ex.answer); // "Tom saves 7 * 2 = $<<7*2=14>>14.\n#### 14"
 * console.log(ex.target); // "<<7*2=14>> #### 14"
 * ```
 */
export function gsm8kSynthetic(options: SyntheticOptions = {}): SyntheticExample[] {
  const { seed = 42, difficulty = "mixed", split = "train", target = "annotations" } = options;
  const maxNumber = options.maxNumber ?? LIMIT;
  if (!Number.isInteger(maxNumber) || maxNumber < 10 || maxNumber > LIMIT) {
    throw new RangeError(
      `gsm8kSynthetic: maxNumber must be an integer in [10, ${LIMIT}], got ${maxNumber}`,
    );
  }
  const count = options.count ?? (split === "test" ? 200 : 1000);
  if (!Number.isFinite(seed)) {
    throw new RangeError(`gsm8kSynthetic: seed must be finite, got ${seed}`);
  }
  if (difficulty !== 1 && difficulty !== 2 && difficulty !== 3 && difficulty !== "mixed") {
    throw new RangeError(
      `gsm8kSynthetic: difficulty must be 1, 2, 3 or "mixed", got ${JSON.stringify(difficulty)}`,
    );
  }
  if (split !== "train" && split !== "test") {
    throw new RangeError(
      `gsm8kSynthetic: split must be "train" or "test", got ${JSON.stringify(split)}`,
    );
  }
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`gsm8kSynthetic: count must be a non-negative integer, got ${count}`);
  }
  // The salt keeps this spelling: another would draw other problems from every seed.
  const rng = seededRandom(deriveSeed(seed, `gsm8k-synthetic/${split}`));
  const names = SYNTHETIC_TEMPLATES;
  const seen = new Set<string>();
  const out: SyntheticExample[] = [];
  const maxAttempts = 1000 + 200 * count;
  for (let attempt = 0; out.length < count; attempt++) {
    if (attempt >= maxAttempts) {
      throw new RangeError(
        `gsm8kSynthetic: could only make ${out.length} distinct ${split} questions of the ` +
          `${count} asked for at difficulty ${difficulty}; ask for fewer`,
      );
    }
    const maxSteps = difficulty === "mixed" ? 1 + Math.floor(rng() * 3) : difficulty;
    const steps = (1 + Math.floor(rng() * maxSteps)) as Steps;
    const name = names[Math.floor(rng() * names.length)];
    const g = new Gen(rng, maxNumber);
    let question: string;
    try {
      question = TEMPLATES[name](g, steps);
    } catch (e) {
      if (e instanceof Reject) continue;
      throw e;
    }
    if (g.lines.length !== steps) throw new Error(`template ${name} made a wrong step count`);
    if (seen.has(question) || syntheticSplitOf(question) !== split) continue;
    seen.add(question);
    const final = String(g.last);
    const answer = `${g.lines.join("\n")}\n#### ${final}`;
    const f = formatGsm8k({ question, answer }, { target });
    out.push({
      question,
      answer,
      prompt: f.prompt,
      target: f.target,
      final,
      template: name,
      steps,
    });
  }
  return out;
}
