// Parameter trees and their dotted names, through the one tree walker (treeMapWithPath).
import {
  countParams,
  flattenParams,
  treeLeavesWithPaths,
  treeMapWithPath,
  unflattenParams,
  zeros,
} from "../../mod.ts";
import { assertEquals, assertThrows } from "./_assert.ts";

Deno.test("flattenParams names tensors by their tree paths, and unflattenParams inverts it", () => {
  const tree = { model: { layers: [{ w: zeros([2]) }, { w: zeros([3]) }] }, lm_head: zeros([4]) };
  const flat = flattenParams(tree);
  assertEquals(Object.keys(flat), ["model.layers.0.w", "model.layers.1.w", "lm_head"]);
  assertEquals(Object.keys(flattenParams(tree, "base")), Object.keys(flat).map((k) => `base.${k}`));
  assertEquals(Object.keys(flattenParams(unflattenParams(flat))), Object.keys(flat));
  assertEquals(countParams(tree), 9);
  assertThrows(() => flattenParams(zeros([1])), "the root is a tensor with no name");
  assertThrows(
    () => flattenParams({ "a.b": zeros([1]), a: { b: zeros([1]) } }),
    'two tensors are named "a.b"',
  );
});

Deno.test("treeMapWithPath keeps the tree's shape and its other leaves", () => {
  const w = zeros([2]);
  const tree = { step: 3, slots: { m: [w] }, none: null };
  assertEquals(treeMapWithPath((_t, path) => path.join("/"), tree), {
    step: 3,
    slots: { m: ["slots/m/0"] },
    none: null,
  });
  const named = treeLeavesWithPaths(tree);
  assertEquals(named.map(([path]) => path), [["slots", "m", "0"]]);
  assertEquals(named[0][1], w);
});
