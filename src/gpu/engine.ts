/**
 * The execution engine under the WebGPU backend: a buffer pool by size class, one uniform
 * ring for small kernel parameters (dynamic offsets, so bind groups are reusable), cached
 * pipelines and bind groups, and command batching (every dispatch goes into one open compute
 * pass; the batch is submitted on `flush`, on a read, or when it grows large).
 *
 * Ordering rule that keeps pooled buffers correct: recorded commands run at submit time,
 * while `queue.writeBuffer` runs at the point of the call, before any unsubmitted command.
 * A buffer freed while the current batch still references it may therefore be reused as a
 * kernel output (queue order protects it) but must not be written with `writeBuffer`: uploads
 * only take pooled buffers whose last use was already submitted (or fresh ones).
 * @module
 */
/// <reference types="@webgpu/types" />
import { BackendError } from "../autograd/errors.ts";
import { checkGpu, type GpuContext } from "./device.ts";
import { FreeList } from "./free_list.ts";

/**
 * A GPU buffer owned by the pool; handed out wrapped in a `GpuBuffer`.
 *
 * @example
 * ```ts
 * import { backendInstance, setBackend } from "@lossforge/core";
 * import type { EngineBackend } from "./backend.ts";
 * import type { PooledBuffer } from "./engine.ts";
 * await setBackend("webgpu");
 * const b = (backendInstance("webgpu") as EngineBackend).engine.alloc("example", 4);
 * const p: PooledBuffer = b.pooled;
 * console.log(p.bytes); // 256: the smallest size class
 * ```
 */
export interface PooledBuffer {
  /** The WebGPU buffer (STORAGE | COPY_SRC | COPY_DST). */
  buffer: GPUBuffer;
  /** Its size class in bytes (the buffer's real size). */
  bytes: number;
  /** A stable id, used in bind-group cache keys. */
  id: number;
  /** The batch (epoch) in which it was last returned to the pool; -1 when never used. */
  freeEpoch: number;
}

/**
 * A backend buffer as the engine hands it out: a pooled GPU buffer and whether this handle
 * still owns it (a second `free` is an error, not a corruption of the pool).
 *
 * @example
 * ```ts
 * import { backendInstance, setBackend } from "@lossforge/core";
 * import type { EngineBackend } from "./backend.ts";
 * await setBackend("webgpu");
 * const gpu = backendInstance("webgpu") as EngineBackend;
 * const b = gpu.engine.alloc("example", 16);
 * console.log(b.byteLength, b.pooled.bytes, b.live); // 16 256 true
 * gpu.engine.release(b); // back to the pool; b.live is false
 * ```
 */
export class GpuBuffer {
  /** True until freed. */
  live = true;
  /** Wraps a pooled buffer; `byteLength` is the bytes the owner asked for. */
  constructor(readonly pooled: PooledBuffer, readonly byteLength: number) {}
  /** The underlying WebGPU buffer. */
  get buffer(): GPUBuffer {
    return this.pooled.buffer;
  }
}

/**
 * A compiled kernel: pipeline plus the bind-group layout it was made with.
 *
 * @example
 * ```ts
 * import { backendInstance, setBackend } from "@lossforge/core";
 * import type { EngineBackend } from "./backend.ts";
 * await setBackend("webgpu");
 * const gpu = backendInstance("webgpu") as EngineBackend;
 * const k = gpu.engine.kernel("noop", () => "@compute @workgroup_size(1) fn main() {}", 0, 0, 0);
 * console.log(k.key); // "noop": compiled once, then taken from the cache
 * ```
 */
export interface Kernel {
  /** Cache key (kernel name plus specialization). */
  key: string;
  /** The pipeline. */
  pipeline: GPUComputePipeline;
  /** Its only bind group's layout. */
  layout: GPUBindGroupLayout;
  /** Layout key: inputs, outputs, params. */
  layoutKey: string;
  /** Prefix of its bind groups' cache keys (layout and params size). */
  bindPrefix: string;
  /** Number of read-only storage bindings (first). */
  inputs: number;
  /** Number of read-write storage bindings (after the inputs). */
  outputs: number;
  /** Bytes of the uniform params binding (last), 0 when none. */
  paramBytes: number;
}

/**
 * Words of the uniform params block every built-in kernel declares (see kernels/common.ts).
 *
 * @example
 * ```ts
 * import { PARAM_WORDS } from "./engine.ts";
 * // A kernel's params block (kernels/common.ts's `params()`): one slot of the ring per dispatch.
 * const p = new Uint32Array(PARAM_WORDS);
 * p[0] = 1000; // P(0): the element count every generated kernel bounds its threads by
 * console.log(p.byteLength); // 256
 * ```
 */
export const PARAM_WORDS = 64;

/**
 * A byte range `[offset, offset + size)` of a buffer bound in place of the whole buffer, so
 * one dispatch sees a slice of a buffer larger than maxStorageBufferBindingSize. The offset
 * is a multiple of the device's minStorageBufferOffsetAlignment.
 *
 * @example
 * ```ts
 * import type { BindingWindow } from "./engine.ts";
 * // The window of rows [row0, row0 + rows) of a float32 buffer with 256 floats per row.
 * const rowsWindow = (row0: number, rows: number): BindingWindow => [row0 * 1024, rows * 1024];
 * console.log(rowsWindow(2, 2)); // [2048, 2048]
 * ```
 */
export type BindingWindow = readonly [offset: number, size: number];

/** Greatest common divisor of two non-negative integers. */
function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Rows per chunk when a dispatch over `rows` rows binds, for each buffer with a non-zero
 * entry of `rowBytes`, a window of whole rows: the most rows whose windows fit `limit` bytes,
 * rounded down so every window starts at a multiple of `align` bytes. Returns `rows` when
 * everything fits at once; throws a BackendError naming `op` when not even one aligned
 * group of rows fits.
 *
 * @example
 * ```ts
 * import { chunkRows } from "./engine.ts";
 * console.log(chunkRows("loss", 4096, [128000, 4], 134217728, 256)); // 1048
 * ```
 */
export function chunkRows(
  op: string,
  rows: number,
  rowBytes: readonly number[],
  limit: number,
  align: number,
): number {
  const widest = Math.max(0, ...rowBytes);
  if (widest === 0 || widest * rows <= limit) return rows;
  let step = 1;
  for (const b of rowBytes) {
    if (b > 0) {
      const s = align / gcd(b, align);
      step = (step * s) / gcd(step, s);
    }
  }
  const per = Math.floor(Math.floor(limit / widest) / step) * step;
  if (per < 1) {
    throw new BackendError(
      `${op}: ${step} row(s) of ${widest} bytes exceed maxStorageBufferBindingSize ${limit}`,
    );
  }
  return per;
}
const RING_BYTES = 1 << 20;
/** Dispatches per batch before an automatic submit (bounds latency and pool growth). */
const MAX_DISPATCHES_PER_BATCH = 512;
const BIND_GROUP_CACHE_LIMIT = 4096;

/**
 * Rounds a byte count up to its pool size class (powers of two, then eighths of them).
 *
 * @example
 * ```ts
 * import { sizeClass } from "./engine.ts";
 * console.log(sizeClass(1000)); // 1024
 * ```
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 256);
  if (b <= 1 << 20) return 2 ** Math.ceil(Math.log2(b));
  const step = 2 ** Math.floor(Math.log2(b)) / 8;
  return Math.ceil(b / step) * step;
}

/**
 * Counters for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { backendInstance, setBackend, tensor, type WebGpuBackend } from "@lossforge/core";
 * await setBackend("webgpu");
 * const gpu = backendInstance("webgpu") as WebGpuBackend;
 * const before = gpu.stats().liveBuffers;
 * const x = tensor([1, 2, 3]);
 * console.log(gpu.stats().liveBuffers - before); // 1: what a leak test watches
 * x.dispose();
 * ```
 */
export interface EngineStats {
  /** Buffers handed out and not yet freed. */
  liveBuffers: number;
  /** Their size-class bytes. */
  liveBytes: number;
  /** Buffers waiting in the pool. */
  pooledBuffers: number;
  /** Their bytes. */
  pooledBytes: number;
  /** Dispatches recorded since the engine was made. */
  dispatches: number;
  /** Submits since the engine was made. */
  submits: number;
  /** Pipelines compiled. */
  pipelines: number;
  /** Bind groups created (cache misses). */
  bindGroupsCreated: number;
}

/**
 * Records and submits GPU work; owns buffers, pipelines and bind groups.
 *
 * @example
 * ```ts
 * import { backendInstance, setBackend, tensor } from "@lossforge/core";
 * import type { EngineBackend } from "./backend.ts";
 * await setBackend("webgpu");
 * const { engine } = backendInstance("webgpu") as EngineBackend;
 * const y = tensor([1, 2]).mul(2); // one dispatch, recorded in the open batch
 * engine.flush(); // submits the batch
 * await engine.done(); // resolves once the GPU has run it
 * console.log(engine.getStats().submits >= 1, await y.array()); // true [2, 4]
 * ```
 */
export class Engine {
  /** The device. */
  readonly device: GPUDevice;
  /** Limits used for dispatch splitting and binding checks. */
  readonly maxWorkgroupsPerDim: number;
  /**
   * The largest storage binding in bytes: the device's maxStorageBufferBindingSize. Writable
   * so tests can lower it and exercise the row-chunked paths on small tensors.
   */
  maxStorageBinding: number;
  /** The device's minStorageBufferOffsetAlignment: a binding window starts at a multiple. */
  readonly storageAlign: number;
  private readonly uniformAlign: number;
  private epoch = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private passPipeline: GPUComputePipeline | null = null;
  private batchDispatches = 0;
  private readonly pool = new Map<number, FreeList<PooledBuffer>>();
  private readonly stagingPool = new Map<number, GPUBuffer[]>();
  private nextId = 1;
  private liveBuffers = 0;
  private liveBytes = 0;
  private pooledBuffers = 0;
  private pooledBytes = 0;
  private readonly ring: GPUBuffer;
  private readonly ringMirror = new Uint8Array(RING_BYTES);
  private readonly ringWords = new Uint32Array(this.ringMirror.buffer);
  private ringCursor = 0;
  private readonly dynamicOffset = [0];
  private ringUsed = 0;
  private readonly kernels = new Map<string, Kernel>();
  private readonly layouts = new Map<string, [GPUBindGroupLayout, GPUPipelineLayout]>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /**
   * The common case of the bind-group cache without building a string key: per layout
   * (`bindPrefix`), bind groups of at most three whole buffers keyed by their ids packed into
   * one number (17 bits each).
   */
  private readonly bindGroupsById = new Map<string, Map<number, GPUBindGroup>>();
  private bindGroupsByIdCount = 0;
  private readonly stats = { dispatches: 0, submits: 0, pipelines: 0, bindGroupsCreated: 0 };
  /**
   * When set, called with every recorded dispatch (benchmarks use it to replay each kernel
   * on its own and time it on the GPU).
   */
  trace:
    | ((
      op: string,
      k: Kernel,
      inputs: readonly GpuBuffer[],
      outputs: readonly GpuBuffer[],
      params: Uint32Array | null,
      groups: readonly [number, number, number],
      windows?: readonly (BindingWindow | undefined)[],
    ) => void)
    | null = null;

  /** Makes an engine on an acquired device. */
  constructor(readonly ctx: GpuContext) {
    this.device = ctx.device;
    const l = ctx.info.limits;
    this.maxWorkgroupsPerDim = l.maxComputeWorkgroupsPerDimension ?? 65535;
    this.maxStorageBinding = l.maxStorageBufferBindingSize ?? 134217728;
    this.storageAlign = l.minStorageBufferOffsetAlignment ?? 256;
    this.uniformAlign = l.minUniformBufferOffsetAlignment ?? 256;
    this.ring = this.device.createBuffer({
      label: "lossforge params ring",
      size: RING_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  // ---------------------------------------------------------------- buffers

  /** A buffer for a kernel's output (may reuse one still referenced by queued commands). */
  alloc(op: string, bytes: number): GpuBuffer {
    const cls = sizeClass(bytes);
    const list = this.pool.get(cls);
    const p = list?.pop() ?? this.create(op, cls);
    if (p.freeEpoch !== -2) this.takeFromPool(p);
    return this.handOut(p, bytes);
  }

  /** A buffer holding `data`, uploaded with writeBuffer (see the module comment). */
  upload(op: string, data: ArrayBufferView): GpuBuffer {
    const bytes = data.byteLength;
    const cls = sizeClass(bytes);
    // Only buffers whose last use was already submitted (see the module comment).
    let p = this.pool.get(cls)?.popWhere((b) => b.freeEpoch < this.epoch);
    if (p) this.takeFromPool(p);
    else p = this.create(op, cls);
    if (bytes > 0) {
      // writeBuffer needs a multiple of 4 bytes; every dtype here is 4 bytes wide.
      this.device.queue.writeBuffer(
        p.buffer,
        0,
        data.buffer as ArrayBuffer,
        data.byteOffset,
        bytes,
      );
    }
    return this.handOut(p, bytes);
  }

  /** Returns a buffer to the pool. */
  release(buf: GpuBuffer): void {
    if (!buf.live) throw new BackendError("free: webgpu buffer was already freed");
    buf.live = false;
    const p = buf.pooled;
    this.liveBuffers--;
    this.liveBytes -= p.bytes;
    p.freeEpoch = this.epoch;
    let list = this.pool.get(p.bytes);
    if (!list) this.pool.set(p.bytes, list = new FreeList());
    list.push(p);
    this.pooledBuffers++;
    this.pooledBytes += p.bytes;
  }

  /** A new GPU buffer of size class `cls`. */
  private create(op: string, cls: number): PooledBuffer {
    const maxBuffer = this.ctx.info.limits.maxBufferSize ?? 268435456;
    if (cls > maxBuffer) {
      throw new BackendError(
        `${op}: needs a ${cls}-byte buffer, above this device's maxBufferSize ${maxBuffer}`,
      );
    }
    const buffer = this.device.createBuffer({
      size: cls,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    // -2 marks "never pooled" so alloc does not count it out of the pool.
    return { buffer, bytes: cls, id: this.nextId++, freeEpoch: -2 };
  }

  /** Accounts for a buffer leaving the pool. */
  private takeFromPool(p: PooledBuffer): void {
    this.pooledBuffers--;
    this.pooledBytes -= p.bytes;
  }

  /** Wraps a buffer in a fresh handle and counts it live. */
  private handOut(p: PooledBuffer, bytes: number): GpuBuffer {
    p.freeEpoch = -1;
    this.liveBuffers++;
    this.liveBytes += p.bytes;
    return new GpuBuffer(p, bytes);
  }

  /** Destroys every pooled (free) buffer and forgets cached bind groups. */
  trim(): void {
    this.flush();
    for (const list of this.pool.values()) for (const p of list.values()) p.buffer.destroy();
    this.pool.clear();
    this.pooledBuffers = 0;
    this.pooledBytes = 0;
    this.forgetBindGroups();
  }

  /** Drops every cached bind group. */
  private forgetBindGroups(): void {
    this.bindGroups.clear();
    this.bindGroupsById.clear();
    this.bindGroupsByIdCount = 0;
  }

  /** Pool and work counters. */
  getStats(): EngineStats {
    return {
      liveBuffers: this.liveBuffers,
      liveBytes: this.liveBytes,
      pooledBuffers: this.pooledBuffers,
      pooledBytes: this.pooledBytes,
      ...this.stats,
    };
  }

  // ---------------------------------------------------------------- kernels

  /**
   * The kernel called `key`, compiled on first use from `code()`. Bindings: `inputs`
   * read-only storage buffers, then `outputs` read-write ones, then (when `paramBytes` > 0) a
   * uniform block at a dynamic offset.
   */
  kernel(
    key: string,
    code: () => string,
    inputs: number,
    outputs: number,
    paramBytes = PARAM_WORDS * 4,
  ): Kernel {
    const have = this.kernels.get(key);
    if (have) return have;
    const [layout, pipelineLayout, layoutKey] = this.layoutFor(inputs, outputs, paramBytes > 0);
    const device = this.device;
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ label: key, code: code() });
    const pipeline = device.createComputePipeline({
      label: key,
      layout: pipelineLayout,
      compute: { module, entryPoint: "main" },
    });
    // Compilation errors arrive asynchronously; they surface at the next check, named.
    device.popErrorScope().then((e) => {
      if (!e) return;
      this.ctx.pendingError ??= `kernel "${key}" failed to compile: ${e.message}`;
      // Forget the broken pipeline so a corrected kernel under the same key can compile.
      this.kernels.delete(key);
    });
    const k: Kernel = {
      key,
      pipeline,
      layout,
      layoutKey,
      bindPrefix: `${layoutKey}|${paramBytes}`,
      inputs,
      outputs,
      paramBytes,
    };
    this.kernels.set(key, k);
    this.stats.pipelines++;
    return k;
  }

  /** The bind-group and pipeline layouts for a binding pattern (cached). */
  private layoutFor(
    inputs: number,
    outputs: number,
    params: boolean,
  ): [GPUBindGroupLayout, GPUPipelineLayout, string] {
    const key = `${inputs}:${outputs}:${params ? 1 : 0}`;
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < inputs + outputs; i++) {
        entries.push({
          binding: i,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: i < inputs ? "read-only-storage" : "storage" },
        });
      }
      if (params) {
        entries.push({
          binding: inputs + outputs,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: "uniform", hasDynamicOffset: true },
        });
      }
      const bgl = this.device.createBindGroupLayout({ entries });
      l = [bgl, this.device.createPipelineLayout({ bindGroupLayouts: [bgl] })];
      this.layouts.set(key, l);
    }
    return [l[0], l[1], key];
  }

  // ---------------------------------------------------------------- recording

  /**
   * Records one dispatch. `groups` is a workgroup count (split into a 2D grid when above the
   * per-dimension limit: kernels compute their linear id as `wid.y * nwg.x + wid.x`) or an
   * explicit [x, y, z] grid. Nothing is recorded for an empty grid.
   */
  dispatch(
    op: string,
    k: Kernel,
    inputs: readonly GpuBuffer[],
    outputs: readonly GpuBuffer[],
    params: Uint32Array | null,
    groups: number | readonly [number, number, number],
    windows?: readonly (BindingWindow | undefined)[],
  ): void {
    checkGpu(this.ctx, op);
    let x: number, y = 1, z = 1;
    if (typeof groups !== "number") [x, y, z] = groups;
    else if (groups <= this.maxWorkgroupsPerDim) x = groups;
    else [x, y, z] = this.grid(op, groups);
    if (x <= 0 || y === 0 || z === 0) return;
    if (
      x > this.maxWorkgroupsPerDim || y > this.maxWorkgroupsPerDim || z > this.maxWorkgroupsPerDim
    ) {
      throw new BackendError(`${op}: dispatch [${x},${y},${z}] exceeds the workgroup limit`);
    }
    if (inputs.length !== k.inputs || outputs.length !== k.outputs) {
      throw new BackendError(
        `${op}: kernel "${k.key}" takes ${k.inputs} inputs and ${k.outputs} outputs, got ${inputs.length} and ${outputs.length}`,
      );
    }
    if (this.trace) this.trace(op, k, inputs, outputs, params, [x, y, z], windows);
    let offset = 0;
    if (k.paramBytes > 0) offset = this.pushParams(params ?? new Uint32Array(0), k.paramBytes);
    const bg = this.bindGroup(op, k, inputs, outputs, windows);
    const pass = this.openPass();
    if (this.passPipeline !== k.pipeline) {
      pass.setPipeline(k.pipeline);
      this.passPipeline = k.pipeline;
    }
    if (k.paramBytes > 0) {
      // One reused array: the offsets are read during the call.
      this.dynamicOffset[0] = offset;
      pass.setBindGroup(0, bg, this.dynamicOffset);
    } else pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(x, y, z);
    this.ctx.lastOp = op;
    this.stats.dispatches++;
    if (++this.batchDispatches >= MAX_DISPATCHES_PER_BATCH) this.flush();
  }

  /**
   * Records a kernel over `rows` rows in as few dispatches as the binding limit allows: each
   * buffer with a non-zero entry in `rowBytes` (inputs, then outputs) is bound a window of
   * whole rows per chunk (`chunkRows`), the others whole. `params(row0, rows)` and
   * `groups(rows)` describe each chunk; the kernel reads windowed buffers at `row - row0`.
   * One chunk, without windows, when everything fits.
   */
  dispatchRows(
    op: string,
    k: Kernel,
    inputs: readonly GpuBuffer[],
    outputs: readonly GpuBuffer[],
    rowBytes: readonly number[],
    rows: number,
    params: (row0: number, rows: number) => Uint32Array,
    groups: (rows: number) => number | readonly [number, number, number],
  ): void {
    const per = chunkRows(op, rows, rowBytes, this.maxStorageBinding, this.storageAlign);
    const all = [...inputs, ...outputs];
    for (let row0 = 0; row0 < rows; row0 += per) {
      const n = Math.min(per, rows - row0);
      // Each window ends where the chunk's rows do, or at the buffer's end.
      const windows = per === rows
        ? undefined
        : rowBytes.map((w, i): BindingWindow | undefined =>
          w === 0 ? undefined : [row0 * w, Math.min(n * w, all[i].byteLength - row0 * w)]
        );
      this.dispatch(op, k, inputs, outputs, params(row0, n), groups(n), windows);
    }
  }

  /** Splits a linear workgroup count into a 2D grid within the per-dimension limit. */
  grid(op: string, n: number): [number, number, number] {
    if (n <= 0) return [0, 0, 0];
    const lim = this.maxWorkgroupsPerDim;
    if (n <= lim) return [n, 1, 1];
    const y = Math.ceil(n / lim);
    if (y > lim) throw new BackendError(`${op}: ${n} workgroups is more than one dispatch holds`);
    return [Math.ceil(n / y), y, 1];
  }

  /** Stages params in the ring mirror; returns the dynamic offset. */
  private pushParams(params: Uint32Array, bindingBytes: number): number {
    const align = this.uniformAlign;
    let at = Math.ceil(this.ringCursor / align) * align;
    if (at + bindingBytes > RING_BYTES) {
      this.flush();
      at = 0;
    }
    if (params.byteLength > bindingBytes) {
      throw new BackendError(`params of ${params.byteLength} bytes exceed ${bindingBytes}`);
    }
    this.ringWords.set(params, at / 4);
    this.ringCursor = at + bindingBytes;
    this.ringUsed = this.ringCursor;
    return at;
  }

  /** The bind group for these buffers (cached by buffer ids). */
  private bindGroup(
    op: string,
    k: Kernel,
    inputs: readonly GpuBuffer[],
    outputs: readonly GpuBuffer[],
    windows?: readonly (BindingWindow | undefined)[],
  ): GPUBindGroup {
    // Numeric key: whole buffers, at most three, ids below 2^17 (else the string key below).
    let id = -1;
    if (!windows && inputs.length + outputs.length <= 3) {
      id = 0;
      for (const b of inputs) id = b.pooled.id < 131072 && id >= 0 ? id * 131072 + b.pooled.id : -1;
      for (const b of outputs) {
        id = b.pooled.id < 131072 && id >= 0 ? id * 131072 + b.pooled.id : -1;
      }
    }
    let byId: Map<number, GPUBindGroup> | undefined;
    let key = "";
    let bg: GPUBindGroup | undefined;
    if (id >= 0) {
      byId = this.bindGroupsById.get(k.bindPrefix);
      if (!byId) this.bindGroupsById.set(k.bindPrefix, byId = new Map());
      bg = byId.get(id);
    } else {
      key = k.bindPrefix;
      for (const b of inputs) key += `,${b.pooled.id}`;
      for (const b of outputs) key += `,${b.pooled.id}`;
      if (windows) { for (const w of windows) key += w ? `@${w[0]}+${w[1]}` : "@"; }
      bg = this.bindGroups.get(key);
    }
    if (bg) return bg;
    const entries: GPUBindGroupEntry[] = [];
    const all = [...inputs, ...outputs];
    for (let i = 0; i < all.length; i++) {
      const b = all[i];
      if (!b.live) throw new BackendError(`${op}: a webgpu buffer was used after it was freed`);
      const w = windows?.[i];
      if (w) {
        const [offset, size] = w;
        if (offset % this.storageAlign !== 0 || offset + size > b.pooled.bytes || size <= 0) {
          throw new BackendError(
            `${op}: binding window [${offset}, ${
              offset + size
            }) of a ${b.pooled.bytes}-byte buffer is out of range or not aligned to ${this.storageAlign}`,
          );
        }
        if (size > this.maxStorageBinding) {
          throw new BackendError(
            `${op}: a ${size}-byte binding window exceeds maxStorageBufferBindingSize ${this.maxStorageBinding}`,
          );
        }
        entries.push({ binding: i, resource: { buffer: b.buffer, offset, size } });
        continue;
      }
      const size = Math.min(b.pooled.bytes, this.maxStorageBinding);
      if (b.byteLength > this.maxStorageBinding) {
        throw new BackendError(
          `${op}: a ${b.byteLength}-byte buffer exceeds maxStorageBufferBindingSize ${this.maxStorageBinding}`,
        );
      }
      entries.push({ binding: i, resource: { buffer: b.buffer, offset: 0, size } });
    }
    if (k.paramBytes > 0) {
      entries.push({
        binding: all.length,
        resource: { buffer: this.ring, offset: 0, size: k.paramBytes },
      });
    }
    bg = this.device.createBindGroup({ layout: k.layout, entries });
    if (this.bindGroups.size + this.bindGroupsByIdCount >= BIND_GROUP_CACHE_LIMIT) {
      this.forgetBindGroups();
      if (byId) this.bindGroupsById.set(k.bindPrefix, byId = new Map());
    }
    if (byId) {
      byId.set(id, bg);
      this.bindGroupsByIdCount++;
    } else this.bindGroups.set(key, bg);
    this.stats.bindGroupsCreated++;
    return bg;
  }

  /** The open compute pass (opening encoder and pass when needed). */
  private openPass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass();
      this.passPipeline = null;
    }
    return this.pass;
  }

  /** Ends the open pass, if any, and returns the encoder (for copies). */
  private closePass(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
      this.passPipeline = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Submits everything recorded (params first), and starts a new batch (epoch). */
  flush(): void {
    if (!this.encoder) return;
    const enc = this.closePass();
    if (this.ringUsed > 0) {
      this.device.queue.writeBuffer(this.ring, 0, this.ringMirror.buffer, 0, this.ringUsed);
    }
    this.device.queue.submit([enc.finish()]);
    this.encoder = null;
    this.ringCursor = 0;
    this.ringUsed = 0;
    this.batchDispatches = 0;
    this.epoch++;
    this.stats.submits++;
  }

  /** Copies `bytes` of `src` into a mapped staging buffer and returns a copy of them. */
  async read(op: string, src: GpuBuffer, bytes: number): Promise<ArrayBuffer> {
    checkGpu(this.ctx, op);
    if (!src.live) throw new BackendError(`${op}: reading a webgpu buffer that was freed`);
    if (bytes === 0) return new ArrayBuffer(0);
    const cls = sizeClass(bytes);
    const staging = this.stagingPool.get(cls)?.pop() ?? this.device.createBuffer({
      size: cls,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const enc = this.closePass();
    enc.copyBufferToBuffer(src.buffer, 0, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      checkGpu(this.ctx, op);
      throw new BackendError(
        `${op}: reading back failed after ${this.ctx.lastOp}: ${(e as Error).message}`,
      );
    }
    const out = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    let list = this.stagingPool.get(cls);
    if (!list) this.stagingPool.set(cls, list = []);
    list.push(staging);
    checkGpu(this.ctx, op);
    return out;
  }

  /** Resolves when everything submitted so far has run (flushes first). */
  async done(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    checkGpu(this.ctx, "done");
  }
}
