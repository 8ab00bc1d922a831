// The fused kernels of an NB201 mixed edge / node (shaders/mixed_*.wgsl, batchnorm_stats.wgsl,
// batchnorm_backward_st.wgsl), with the semantics of the Backend methods:
//   - batchNormStats: training-mode statistics only, as a [mean | invstd | scale | shift] block;
//   - mixedSum: out = sum_k w[wIndex_k] * apply_k(x_k), apply_k = BN apply from a statistics block
//     or the identity: the BN outputs of a node's conv ops are never stored;
//   - mixedDots: the architecture-weight gradient of that sum, one read of dy for all terms;
//   - batchNormStatsBackward: BN backward from the statistics block with dy scaled on read by the
//     term's weight, so the weighted sum's backward stores nothing;
//   - batchNormApply: materialise a deferred BN output (when something else reads it).
// mixed_sum / mixed_dots are templates expanded per term count (up to 6 terms per dispatch, fewer when
// the device allows fewer storage bindings); more terms chain dispatches (sum: accumulate; dots:
// more partial columns). Elementwise loops are grid-stride, so CPU rasterisers get few workgroups.
import type { BatchNormGeom, BnBackwardTerm, ChannelGeom, MixedTerm, ScaleRef } from '../../backend.js';
import { GpuError } from '../device.js';
import type { DeferredFamily, GpuRuntime, GpuStorage } from '../runtime.js';
import { chunks, sizesWords } from './multi.js';
import { shaderVariant, vectorWidthFor } from './shader-variants.js';
import { auxStorage, channelReduceWorkgroup, foldGrid, requireLength, requirePositive } from './conv.js';
import { checkBnGeom } from './batchnorm.js';
import { switches } from '../../switches.js';

const WG = 256;
const FINAL_WG = 64;
/** terms per dispatch at most (the templates' partial columns: MAX_DOT_COLS per final pass; more
 *  terms are tiled) */
const MAX_TERMS = 6;
const MAX_DOT_COLS = 32;
/** workgroups of the first dots pass at most (its partials are summed by one small pass) */
const MAX_DOT_GROUPS = 256;

/** Terms per dispatch on this device (2 bindings per term + 2 others within the storage-binding limit). */
function termsPerDispatch(rt: GpuRuntime, sum: boolean): number {
  const want = sum ? switches.mixedSumMaxTerms ?? MAX_TERMS : MAX_TERMS;
  return Math.max(1, Math.min(want, MAX_TERMS, Math.floor((rt.limits.maxStorageBuffersPerShaderStage - 2) / 2)));
}

/** [mean 0 | invstd 1 | scale 1 | shift 0] for C channels: the statistics block of a plain term. */
const identities = new WeakMap<GpuRuntime, Map<number, GpuStorage>>();
function identityStats(rt: GpuRuntime, C: number): GpuStorage {
  let m = identities.get(rt);
  if (!m) identities.set(rt, (m = new Map()));
  let s = m.get(C);
  if (!s) {
    const a = new Float32Array(4 * C);
    a.fill(1, C, 3 * C);
    s = rt.upload(a);
    m.set(C, s);
  }
  return s;
}

/** Elements per lane and chunk of the mixed kernels: the largest of 16, 4, 1 dividing H*W, so a
 *  chunk lies in one channel plane (its statistics are loaded once per chunk). */
function vecOf(HW: number): number { return HW % 16 === 0 ? 16 : HW % 4 === 0 ? 4 : 1; }

/** Values per lane and chunk of the per-channel BN kernels: 4 or 1 (16 measured no better there). */
function bnVec(HW: number): number { return HW % 4 === 0 ? 4 : 1; }

function checkTerms(op: string, terms: MixedTerm[], g: ChannelGeom): void {
  requirePositive(op, g, ['N', 'C', 'HW']);
  const n = g.N * g.C * g.HW;
  terms.forEach((t, k) => {
    requireLength(op, `terms[${k}].x`, t.x as GpuStorage, n);
    if (t.stats) requireLength(op, `terms[${k}].stats`, t.stats as GpuStorage, 4 * g.C);
    if (!Number.isInteger(t.wIndex) || t.wIndex < 0) throw new GpuError(`${op}: terms[${k}].wIndex ${t.wIndex} must be a non-negative integer`);
  });
}

/** out = sum_k w[wIndex_k] * (stats_k ? x_k * scale_k[c] + shift_k[c] : x_k) */
export function mixedSum(rt: GpuRuntime, terms: MixedTerm[], w: GpuStorage, out: GpuStorage, g: ChannelGeom): void {
  const op = 'mixedSum';
  checkTerms(op, terms, g);
  const n = g.N * g.C * g.HW;
  requireLength(op, 'out', out, n);
  if (terms.length) requireLength(op, 'w', w, Math.max(...terms.map((t) => t.wIndex)) + 1);
  for (const t of terms) {
    if (t.x === out || t.stats === out) throw new GpuError(`${op}: an input is also the output`);
  }
  if (w === out) throw new GpuError(`${op}: w is also the output`);
  if (terms.length === 0) {
    rt.dispatch({ shader: 'elementwise', entry: 'fill', bindings: [out], constants: { WG },
      params: { u: [n, 0, 0, 0], f: [0] }, workgroups: rt.strideGrid(n, WG) });
    return;
  }
  const vec = vecOf(g.HW);
  const chunks = n / vec;
  const per = termsPerDispatch(rt, true);
  const id = identityStats(rt, g.C);
  for (let start = 0; start < terms.length; start += per) {
    const part = terms.slice(start, start + per);
    const K = part.length;
    const bindings: GpuStorage[] = [];
    for (const t of part) bindings.push(t.x as GpuStorage, (t.stats ?? id) as GpuStorage);
    bindings.push(w, out);
    const widx = part.map((t) => t.wIndex);
    while (widx.length < 8) widx.push(0);
    rt.dispatch({
      shader: shaderVariant(rt, 'mixed_sum', { K, width: vectorWidthFor(vec) }), bindings, readOnly: 2 * K + 1,
      params: { u: [chunks, g.HW / vec, g.C, start > 0 ? 1 : 0, ...widx] },
      constants: { WG, VEC: vec }, workgroups: rt.strideGrid(chunks, WG),
    });
  }
}

/** dw[wIndex_k] = sum dy * apply_k(x_k) for every term; dw[j] = 0 for the other j < dwSize. With
 *  `accumulate`, dw[wIndex_k] += that sum and the other entries stay. */
export function mixedDots(rt: GpuRuntime, dy: GpuStorage, terms: MixedTerm[], dw: GpuStorage, dwSize: number,
  g: ChannelGeom, accumulate = false): void {
  const op = 'mixedDots';
  checkTerms(op, terms, g);
  const n = g.N * g.C * g.HW;
  requireLength(op, 'dy', dy, n);
  requireLength(op, 'dw', dw, dwSize);
  const seen = new Set<number>();
  for (const t of terms) {
    if (t.wIndex >= dwSize) throw new GpuError(`${op}: wIndex ${t.wIndex} outside dw of ${dwSize}`);
    if (seen.has(t.wIndex)) throw new GpuError(`${op}: wIndex ${t.wIndex} appears twice`);
    seen.add(t.wIndex);
    if (t.x === dw || t.stats === dw) throw new GpuError(`${op}: an input is also dw`);
  }
  if (dy === dw) throw new GpuError(`${op}: dy is also dw`);
  if (dwSize === 0) return;
  if (terms.length > MAX_DOT_COLS) {
    // more terms than the final pass's index table holds (a DARTS node: up to 5 edges × 8 ops): tiles
    // of MAX_DOT_COLS columns, the first writing (or accumulating) as asked and zeroing the unused
    // entries, the others adding their own entries — the same sums, in a fixed order
    for (let start = 0; start < terms.length; start += MAX_DOT_COLS) {
      mixedDotsTile(rt, dy, terms.slice(start, start + MAX_DOT_COLS), dw, dwSize, g, start === 0 ? accumulate : true);
    }
    return;
  }
  mixedDotsTile(rt, dy, terms, dw, dwSize, g, accumulate);
}

/** mixedDots for at most MAX_DOT_COLS terms (checked by the caller). */
function mixedDotsTile(rt: GpuRuntime, dy: GpuStorage, terms: MixedTerm[], dw: GpuStorage, dwSize: number,
  g: ChannelGeom, accumulate: boolean): void {
  const n = g.N * g.C * g.HW;
  const vec = vecOf(g.HW);
  const chunks = n / vec;
  const per = termsPerDispatch(rt, false);
  const id = identityStats(rt, g.C);
  const dwg = switches.mixedDotsWorkgroup;
  const groups = Math.min(MAX_DOT_GROUPS, rt.strideGroups(chunks, dwg));
  const cols = terms.length;
  const partial = rt.alloc(Math.max(1, groups * cols));
  for (let start = 0; start < cols; start += per) {
    const part = terms.slice(start, start + per);
    const K = part.length;
    const bindings: GpuStorage[] = [dy];
    for (const t of part) bindings.push(t.x as GpuStorage, (t.stats ?? id) as GpuStorage);
    bindings.push(partial);
    rt.dispatch({
      shader: shaderVariant(rt, 'mixed_dots', { K, width: vectorWidthFor(vec) }), bindings, readOnly: 2 * K + 1,
      params: { u: [chunks, g.HW / vec, g.C, cols, start] },
      constants: { WG: dwg, VEC: vec }, workgroups: [groups, 1, 1],
    });
  }
  const widx = terms.map((t) => t.wIndex);
  while (widx.length < MAX_DOT_COLS) widx.push(0xffffffff);
  rt.dispatch({
    shader: 'mixed_dots_final', bindings: [partial, dw],
    params: { u: [cols, groups, dwSize, accumulate ? 1 : 0, ...widx] }, constants: { WG: FINAL_WG },
    workgroups: [Math.ceil(dwSize / FINAL_WG), 1, 1],
  });
  rt.release(partial);
}

/** One batch-norm statistics launch's tensor (batchNormStats). */
interface BnStatsItem {
  x: GpuStorage; stats: GpuStorage; runMean: GpuStorage | null; runVar: GpuStorage | null;
  gamma: GpuStorage | null; beta: GpuStorage | null; g: BatchNormGeom;
}

/** Non-affine statistics are held back (GpuRuntime.defer) and merged: the BN layers of a node's conv
 *  ops then take one launch (or two) when the node's sum reads them, not one each. */
const bnStatsFamily: DeferredFamily<BnStatsItem> = { name: 'batch-norm statistics', run: runBnStats };

/** tensors per statistics launch at most */
const MAX_STATS_TENSORS = 6;

function runBnStats(rt: GpuRuntime, items: BnStatsItem[]): void {
  // launches take tensors of one geometry, running statistics or not, and gamma / beta alike
  const groups = new Map<string, BnStatsItem[]>();
  for (const it of items) {
    const { g } = it;
    const key = `${g.N} ${g.C} ${g.HW} ${g.eps} ${g.momentum} ${it.runMean ? 1 : 0} ${it.gamma ? 'affine' : ''}`;
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(it);
  }
  for (const list of groups.values()) {
    const { g } = list[0];
    const running = list[0].runMean !== null;
    const affine = list[0].gamma !== null;
    const perTensor = running ? 4 : 2;
    const per = affine ? 1 : Math.max(1, Math.min(MAX_STATS_TENSORS, Math.floor((rt.limits.maxStorageBuffersPerShaderStage - 2) / perTensor)));
    for (const part of chunks(list, per, (it) => [it.x, it.stats, ...(it.runMean ? [it.runMean, it.runVar!] : [])])) {
      const bindings: GpuStorage[] = [];
      for (const it of part) bindings.push(it.x, it.stats, ...(running ? [it.runMean!, it.runVar!] : []));
      bindings.push(part[0].gamma ?? auxStorage(rt, 'ones', g.C), part[0].beta ?? auxStorage(rt, 'zeros', g.C));
      rt.dispatch({
        shader: shaderVariant(rt, 'batchnorm_stats', { K: part.length, width: vectorWidthFor(bnVec(g.HW)), flags: { RUNNING: running } }),
        bindings, params: { u: [g.N, g.C, g.HW], f: [g.eps, g.momentum] },
        constants: { WG: channelReduceWorkgroup(rt), VEC: bnVec(g.HW) }, workgroups: foldGrid(rt, g.C, part.length),
      });
    }
  }
}

/** Training-mode statistics [mean | invstd | scale | shift] of x; running statistics updated when
 *  given. Without gamma / beta the launch may be held back and merged with others (switches.mergeBnStats). */
export function batchNormStats(rt: GpuRuntime, x: GpuStorage, gamma: GpuStorage | null, beta: GpuStorage | null,
  stats: GpuStorage, runMean: GpuStorage | null, runVar: GpuStorage | null, g: BatchNormGeom): void {
  const op = 'batchNormStats';
  checkBnGeom(op, g);
  requireLength(op, 'x', x, g.N * g.C * g.HW);
  requireLength(op, 'stats', stats, 4 * g.C);
  for (const [name, s] of [['gamma', gamma], ['beta', beta], ['runMean', runMean], ['runVar', runVar]] as const) {
    if (s) requireLength(op, name, s, g.C);
  }
  if ((runMean === null) !== (runVar === null)) throw new GpuError(`${op}: runMean and runVar must be both given or both null`);
  if ((gamma === null) !== (beta === null)) throw new GpuError(`${op}: gamma and beta must be both given or both null`);
  if (stats === x) throw new GpuError(`${op}: stats is also x`);
  const distinct = new Set([x, stats, runMean, runVar].filter((s) => s !== null));
  if (distinct.size !== (runMean ? 4 : 2)) throw new GpuError(`${op}: x, stats, runMean and runVar must be distinct storages`);
  const item: BnStatsItem = { x, stats, runMean, runVar, gamma, beta, g: { ...g } };
  if (gamma === null && switches.mergeBnStats) {
    // the shared ones / zeros stand-ins for gamma / beta are never written: not among the touched
    rt.defer(bnStatsFamily, item, runMean ? [x, stats, runMean, runVar!] : [x, stats]);
  } else {
    runBnStats(rt, [item]);
  }
}

/** y = x * scale[c] + shift[c] (a deferred BN output made real). */
export function batchNormApply(rt: GpuRuntime, x: GpuStorage, stats: GpuStorage, y: GpuStorage, g: ChannelGeom): void {
  mixedSum(rt, [{ x, wIndex: 0, stats }], auxStorage(rt, 'ones', 1), y, g);
}

/** Backward of batchNormStats + apply from the statistics block, dy scaled on read by w[index]. */
export function batchNormStatsBackward(rt: GpuRuntime, dy: GpuStorage, dyScale: ScaleRef | null, x: GpuStorage,
  gamma: GpuStorage | null, stats: GpuStorage, dx: GpuStorage, dgamma: GpuStorage | null, dbeta: GpuStorage | null,
  g: BatchNormGeom): void {
  const op = 'batchNormStatsBackward';
  checkBnGeom(op, g);
  const n = g.N * g.C * g.HW;
  requireLength(op, 'dy', dy, n);
  requireLength(op, 'x', x, n);
  requireLength(op, 'dx', dx, n);
  requireLength(op, 'stats', stats, 4 * g.C);
  for (const [name, s] of [['gamma', gamma], ['dgamma', dgamma], ['dbeta', dbeta]] as const) {
    if (s) requireLength(op, name, s, g.C);
  }
  if (dyScale) {
    if (!Number.isInteger(dyScale.index) || dyScale.index < 0) throw new GpuError(`${op}: dyScale.index ${dyScale.index} must be a non-negative integer`);
    requireLength(op, 'dyScale.w', dyScale.w as GpuStorage, dyScale.index + 1);
  }
  if (dx === dy || dx === x) throw new GpuError(`${op}: dx must not be dy or x`);
  const grads = !!(dgamma || dbeta);
  bnBackwardDispatch(rt, dy, (dyScale?.w as GpuStorage | undefined) ?? null, gamma,
    [{ x, stats, dx, wIndex: dyScale?.index ?? 0, dgamma, dbeta }], grads, g);
}

/** Tensors per BN-backward launch at most (the template's windex slots). */
const MAX_BN_BACKWARD = 8;

interface BnBackwardItem {
  x: GpuStorage; stats: GpuStorage; dx: GpuStorage; wIndex: number;
  dgamma?: GpuStorage | null; dbeta?: GpuStorage | null;
}

/** One launch of batchnorm_backward_st for `items` (sharing dy, w and gamma). */
function bnBackwardDispatch(rt: GpuRuntime, dy: GpuStorage, w: GpuStorage | null, gamma: GpuStorage | null,
  items: BnBackwardItem[], grads: boolean, g: ChannelGeom): void {
  const bindings: GpuStorage[] = [dy, w ?? auxStorage(rt, 'ones', 1), gamma ?? auxStorage(rt, 'ones', g.C)];
  for (const it of items) {
    bindings.push(it.x, it.stats, it.dx);
    if (grads) bindings.push(it.dgamma ?? auxStorage(rt, 'scratchA', g.C), it.dbeta ?? auxStorage(rt, 'scratchB', g.C));
  }
  rt.dispatch({
    shader: shaderVariant(rt, 'batchnorm_backward_st', { K: items.length, width: vectorWidthFor(bnVec(g.HW)), flags: { GRADS: grads } }),
    bindings, readOnly: 3,
    params: { u: [g.N, g.C, g.HW, w ? 1 : 0, ...sizesWords(items.map((it) => it.wIndex), MAX_BN_BACKWARD)] },
    constants: { WG: channelReduceWorkgroup(rt), VEC: bnVec(g.HW) }, workgroups: foldGrid(rt, g.C, items.length),
  });
}

/** batchNormStatsBackward of several non-affine BN layers fed by one (scaled) dy, K per launch. */
export function batchNormStatsBackwardMulti(rt: GpuRuntime, dy: GpuStorage, w: GpuStorage | null, terms: BnBackwardTerm[],
  g: ChannelGeom): void {
  const op = 'batchNormStatsBackwardMulti';
  requirePositive(op, g, ['N', 'C', 'HW']);
  const n = g.N * g.C * g.HW;
  requireLength(op, 'dy', dy, n);
  const outs = new Set<GpuStorage>();
  terms.forEach((t, k) => {
    requireLength(op, `terms[${k}].x`, t.x as GpuStorage, n);
    requireLength(op, `terms[${k}].dx`, t.dx as GpuStorage, n);
    requireLength(op, `terms[${k}].stats`, t.stats as GpuStorage, 4 * g.C);
    if (!Number.isInteger(t.wIndex) || t.wIndex < 0) throw new GpuError(`${op}: terms[${k}].wIndex ${t.wIndex} must be a non-negative integer`);
    if (w) requireLength(op, 'w', w, t.wIndex + 1);
    if (t.dx === dy || t.dx === t.x || t.dx === t.stats || t.dx === w || outs.has(t.dx as GpuStorage)) {
      throw new GpuError(`${op}: terms[${k}].dx must be a storage of its own (not dy, w, an x, a stats block or another dx)`);
    }
    outs.add(t.dx as GpuStorage);
  });
  for (const t of terms) if (outs.has(t.x as GpuStorage) || outs.has(t.stats as GpuStorage)) throw new GpuError(`${op}: a term's x or stats is another term's dx`);
  const per = Math.max(1, Math.min(MAX_BN_BACKWARD, Math.floor((rt.limits.maxStorageBuffersPerShaderStage - 3) / 3)));
  const items = terms.map((t) => ({ x: t.x as GpuStorage, stats: t.stats as GpuStorage, dx: t.dx as GpuStorage, wIndex: t.wIndex }));
  for (const part of chunks(items, per, (it) => [it.x, it.stats, it.dx])) bnBackwardDispatch(rt, dy, w, null, part, false, g);
}
