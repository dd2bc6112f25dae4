// A small well-formedness checker for the SVG we write: one root element, tags nested and
// closed in order, attributes quoted and unique, only the five named entities or numeric
// references, no bare "<" or "&" in text, no characters XML 1.0 forbids.

const NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]*$/;
const ENTITY = /&(?!(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
// deno-lint-ignore no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

/** Throws with a reason when `xml` is not well-formed. */
export function checkXml(xml: string): void {
  if (FORBIDDEN.test(xml)) throw new Error("xml: forbidden control character");
  let s = xml.replace(/^<\?xml[^?]*\?>\s*/, "");
  const stack: string[] = [];
  let roots = 0;
  while (s.length) {
    const lt = s.indexOf("<");
    const text = lt < 0 ? s : s.slice(0, lt);
    if (ENTITY.test(text)) throw new Error(`xml: bad entity in text ${JSON.stringify(text)}`);
    if (text.includes(">")) throw new Error(`xml: bare ">" in text`);
    if (stack.length === 0 && text.trim()) throw new Error("xml: text outside the root");
    if (lt < 0) break;
    s = s.slice(lt);
    const gt = s.indexOf(">");
    if (gt < 0) throw new Error("xml: unterminated tag");
    const tag = s.slice(1, gt);
    s = s.slice(gt + 1);
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      if (stack.pop() !== name) throw new Error(`xml: </${name}> closes the wrong element`);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^([^\s]+)\s*([\s\S]*)$/.exec(body);
    if (!m || !NAME.test(m[1])) throw new Error(`xml: bad tag name in <${tag}>`);
    let attrs = m[2].trim();
    const seen = new Set<string>();
    while (attrs.length) {
      const a = /^([^\s=]+)\s*=\s*("([^"<]*)"|'([^'<]*)')\s*/.exec(attrs);
      if (!a || !NAME.test(a[1])) throw new Error(`xml: bad attribute in <${tag}>`);
      if (seen.has(a[1])) throw new Error(`xml: duplicate attribute ${a[1]}`);
      seen.add(a[1]);
      if (ENTITY.test(a[3] ?? a[4])) throw new Error(`xml: bad entity in attribute ${a[1]}`);
      attrs = attrs.slice(a[0].length);
    }
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push(m[1]);
  }
  if (stack.length) throw new Error(`xml: unclosed <${stack.at(-1)}>`);
  if (roots !== 1) throw new Error(`xml: ${roots} root elements`);
}
