import { curvesSvg, plotCurves } from "../../mod.ts";
import { escapeXml } from "../../src/dsl/report/plot.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { checkXml } from "./_xml.ts";

const curves = [
  {
    label: "ce",
    curve: [{ step: 10, loss: 2.5 }, { step: 20, loss: 1.9 }],
    metrics: { exactMatch: 0.31 },
  },
  {
    label: `0.6*ce+0.4*lovasz@answer <&"'>\u0001`,
    curve: [{ step: 10, loss: 2.7 }, { step: 20, loss: NaN }, { step: 30, loss: 1.7 }],
    metrics: { exactMatch: 0.27 },
  },
];

Deno.test("the XML checker rejects what it should", () => {
  checkXml(`<?xml version="1.0"?><a x="1"><b/>t &amp; &#38;</a>`);
  for (
    const bad of [
      "<a><b></a></b>",
      "<a>x & y</a>",
      "<a x=1/>",
      "<a/><b/>",
      `<a x="1" x="2"/>`,
      "<a>",
    ]
  ) assertThrows(() => checkXml(bad), Error, "xml:");
});

Deno.test("curvesSvg: well-formed XML, labels escaped, bars for the metric", () => {
  const svg = curvesSvg(curves, { title: "GSM8K <synthetic>" });
  checkXml(svg);
  assert(svg.includes("&lt;&amp;&quot;&apos;&gt;") && svg.includes("GSM8K &lt;synthetic&gt;"));
  assertEquals((svg.match(/<polyline/g) ?? []).length, 2);
  assert(svg.includes(">exactMatch</text>") && svg.includes(">0.31</text>"));
  assertEquals(escapeXml("a\u0000b"), "ab");
});

Deno.test("curvesSvg: empty or metric-less input is still well-formed", () => {
  checkXml(curvesSvg([]));
  const svg = curvesSvg([{ label: "flat", curve: [{ step: 1, loss: 1 }] }]);
  checkXml(svg);
  assert(!svg.includes("exactMatch"));
});

Deno.test("plotCurves writes the file", async () => {
  const dir = await Deno.makeTempDir();
  await plotCurves(curves, `${dir}/curves.svg`);
  checkXml(await Deno.readTextFile(`${dir}/curves.svg`));
  await Deno.remove(dir, { recursive: true });
});
