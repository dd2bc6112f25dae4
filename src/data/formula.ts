/**
 * Reading one `<<...>>` step: GSM8K's infix calculator annotations (`48/2=24`) and
 * MathQA's program steps (`divide(n0,n1)`), into operator classes, operands in order, and
 * a canonical form in which commutative operations (`+`, `*`, `add`, `multiply`, ...) have
 * their operands sorted.
 *
 * @module
 */

/**
 * What a step computes: its operator classes and operands in reading order, and a
 * canonical text that is the same for `a+b` and `b+a`.
 *
 * @example
 * ```ts
 * import { type ParsedFormula, parseFormula } from "@lossforge/core";
 * const f: ParsedFormula = parseFormula("<<48/2=24>>");
 * console.log(f.operators, f.operands, f.canonical); // ["div"] ["48", "2"] "(48/2)=24"
 * ```
 */
export interface ParsedFormula {
  /** Operator classes in reading order: `add`, `sub`, `mul`, `div`, `pow`, `neg`, or a name. */
  operators: string[];
  /** Operands (numbers, names such as `n0` or `#1`) in reading order. */
  operands: string[];
  /** Commutative operations sorted; equal for formulas that differ only by such swaps. */
  canonical: string;
  /** Whether the left-hand side parsed as an expression (else the lists are empty). */
  parsed: boolean;
}

type Node =
  | { kind: "leaf"; text: string }
  | { kind: "bin"; op: string; left: Node; right: Node }
  | { kind: "neg"; arg: Node }
  | { kind: "call"; name: string; args: Node[] };

const CLASS: Record<string, string> = {
  "+": "add",
  "-": "sub",
  "*": "mul",
  "×": "mul",
  "/": "div",
  "÷": "div",
  "^": "pow",
  "**": "pow",
  "%": "mod",
  add: "add",
  subtract: "sub",
  multiply: "mul",
  divide: "div",
  power: "pow",
  negate: "neg",
};

const SYMBOL: Record<string, string> = { add: "+", sub: "-", mul: "*", div: "/", pow: "^" };

/** Operations whose operands can be swapped without changing the value. */
const COMMUTATIVE = new Set(["add", "mul", "gcd", "lcm", "max", "min"]);

const TOKEN =
  /\s*(\*\*|[-+*/^÷×()]|,|\$?\d[\d,]*(?:\.\d+)?%?|\$?\.\d+%?|[A-Za-z_#][A-Za-z0-9_#.]*)/y;

function tokenize(text: string): string[] | null {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (!m) return /^\s*$/.test(text.slice(at)) ? out : null;
    out.push(m[1]);
    at = TOKEN.lastIndex;
  }
  return out;
}

/** A recursive-descent parser over the tokens: + - (left), * / (left), ^ (right), unary -. */
function parse(tokens: string[]): Node | null {
  let i = 0;
  const peek = () => tokens[i];
  const isLeaf = (t: string | undefined) => t !== undefined && /^[$.\dA-Za-z_#]/.test(t);
  const primary = (): Node | null => {
    const t = peek();
    if (t === "(") {
      i++;
      const e = expr();
      if (e === null || peek() !== ")") return null;
      i++;
      return e;
    }
    if (!isLeaf(t)) return null;
    i++;
    if (peek() === "(" && /^[A-Za-z_]/.test(t as string)) {
      i++;
      const args: Node[] = [];
      if (peek() !== ")") {
        for (;;) {
          const a = expr();
          if (a === null) return null;
          args.push(a);
          if (peek() === ",") i++;
          else break;
        }
      }
      if (peek() !== ")") return null;
      i++;
      return { kind: "call", name: t as string, args };
    }
    return { kind: "leaf", text: (t as string).replace(/^\$/, "").replaceAll(",", "") };
  };
  const unary = (): Node | null => {
    if (peek() === "-") {
      i++;
      const a = unary();
      return a === null ? null : { kind: "neg", arg: a };
    }
    if (peek() === "+") i++;
    return power();
  };
  const power = (): Node | null => {
    const base = primary();
    if (base === null) return null;
    if (peek() === "^" || peek() === "**") {
      const op = tokens[i++];
      const exp = unary();
      return exp === null ? null : { kind: "bin", op, left: base, right: exp };
    }
    return base;
  };
  const term = (): Node | null => {
    let left = unary();
    while (left !== null && ["*", "/", "×", "÷"].includes(peek() ?? "")) {
      const op = tokens[i++];
      const right = unary();
      left = right === null ? null : { kind: "bin", op, left, right };
    }
    return left;
  };
  const expr = (): Node | null => {
    let left = term();
    while (left !== null && (peek() === "+" || peek() === "-")) {
      const op = tokens[i++];
      const right = term();
      left = right === null ? null : { kind: "bin", op, left, right };
    }
    return left;
  };
  const root = expr();
  return root !== null && i === tokens.length ? root : null;
}

function opClass(op: string): string {
  return CLASS[op] ?? CLASS[op.toLowerCase()] ?? op.toLowerCase();
}

function walk(node: Node, operators: string[], operands: string[]): void {
  switch (node.kind) {
    case "leaf":
      operands.push(node.text);
      return;
    case "neg":
      operators.push("neg");
      walk(node.arg, operators, operands);
      return;
    case "bin":
      walk(node.left, operators, operands);
      operators.push(opClass(node.op));
      walk(node.right, operators, operands);
      return;
    case "call":
      operators.push(opClass(node.name));
      for (const a of node.args) walk(a, operators, operands);
  }
}

/** Operands of a chain of one commutative binary operator (a+b+c gives a, b, c). */
function flatten(node: Node, cls: string, out: Node[]): void {
  if (node.kind === "bin" && opClass(node.op) === cls) {
    flatten(node.left, cls, out);
    flatten(node.right, cls, out);
  } else {
    out.push(node);
  }
}

function canon(node: Node): string {
  switch (node.kind) {
    case "leaf":
      return node.text;
    case "neg":
      return `(-${canon(node.arg)})`;
    case "bin": {
      const cls = opClass(node.op);
      const symbol = SYMBOL[cls] ?? cls;
      if (COMMUTATIVE.has(cls)) {
        const parts: Node[] = [];
        flatten(node, cls, parts);
        return `(${parts.map(canon).sort().join(symbol)})`;
      }
      return `(${canon(node.left)}${symbol}${canon(node.right)})`;
    }
    case "call": {
      const cls = opClass(node.name);
      const args = node.args.map(canon);
      if (COMMUTATIVE.has(cls)) args.sort();
      return `${cls}(${args.join(",")})`;
    }
  }
}

/**
 * Reads one step, with or without its `<<` `>>` brackets. The part before the first `=`
 * is parsed as an expression (numbers with `$`, `,` and `%`, names such as `n0`, `#1`,
 * `const_100`, the operators `+ - * × / ÷ ^ **`, unary minus, parentheses, and function
 * calls such as MathQA's `divide(n0,n1)`); the part after it, if any, is kept as the
 * result in the canonical form. Operators are reported by class (`+` and `add` are both
 * `add`). A step that does not parse keeps its whitespace-free text as canonical form.
 *
 * @param formula The step, e.g. `<<48/2=24>>` or `multiply(#0,const_100)`.
 * @returns Operators, operands, canonical form.
 *
 * @example
 * ```ts
 * import { parseFormula } from "@lossforge/core";
 * console.log(parseFormula("<<2+3=5>>").canonical === parseFormula("<<3+2=5>>").canonical); // true
 * console.log(parseFormula("add(n1,n0)").canonical); // "add(n0,n1)"
 * console.log(parseFormula("<<5-3=2>>").canonical); // "(5-3)=2", not (3-5)=2
 * ```
 */
export function parseFormula(formula: string): ParsedFormula {
  let inner = formula.trim();
  if (inner.startsWith("<<") && inner.endsWith(">>")) inner = inner.slice(2, -2);
  inner = inner.replace(/\s+/g, "");
  const eq = inner.indexOf("=");
  const lhs = eq < 0 ? inner : inner.slice(0, eq);
  const result = eq < 0 ? null : inner.slice(eq + 1);
  const tokens = tokenize(lhs);
  const tree = tokens === null || tokens.length === 0 ? null : parse(tokens);
  if (tree === null) return { operators: [], operands: [], canonical: inner, parsed: false };
  const operators: string[] = [];
  const operands: string[] = [];
  walk(tree, operators, operands);
  const body = canon(tree);
  return {
    operators,
    operands,
    canonical: result === null ? body : `${body}=${result}`,
    parsed: true,
  };
}
