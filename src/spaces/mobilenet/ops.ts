// The candidate ops of the MobileNet (ProxylessNAS) space (gmnas-spec.md §5.2): per searchable block an
// MBConv (inverted residual: 1×1 expand → k×k depthwise → 1×1 project) with kernel k ∈ {3, 5, 7} and
// expansion ratio e ∈ {3, 6}, plus `zero` on the blocks that have an identity shortcut (the block then
// passes its input through). Names are ProxylessNAS's own (`3x3_MBConv3`, …), `zero` for its Zero op.
// Op order = column order of an α row: the six MBConvs by kernel then expansion, `zero` last, so the
// reference's fixed 3-way grouping {0,1},{2,3},{4,5,(6)} reads as {3×3},{5×5},{7×7(+zero)}.
// Browser-safe.

export interface MbConvOp { readonly kind: 'mbconv'; readonly kernel: 3 | 5 | 7; readonly expand: 3 | 6 }
export interface ZeroOp { readonly kind: 'zero' }
export type MobileOp = MbConvOp | ZeroOp;

export const MBCONV_OPS = [
  '3x3_MBConv3', '3x3_MBConv6', '5x5_MBConv3', '5x5_MBConv6', '7x7_MBConv3', '7x7_MBConv6',
] as const;
export const ZERO_OP = 'zero';
/** Every op name, in α column order. */
export const MOBILE_OPS: readonly string[] = [...MBCONV_OPS, ZERO_OP];

/** The op a name stands for; throws with the list of valid names otherwise. */
export function parseOp(name: string): MobileOp {
  if (name === ZERO_OP) return { kind: 'zero' };
  const m = /^([357])x\1_MBConv([36])$/.exec(name);
  if (!m) throw new Error(`unknown MobileNet op '${name}'; expected one of ${MOBILE_OPS.join(', ')}`);
  return { kind: 'mbconv', kernel: Number(m[1]) as 3 | 5 | 7, expand: Number(m[2]) as 3 | 6 };
}

export function opName(op: MobileOp): string {
  return op.kind === 'zero' ? ZERO_OP : `${op.kernel}x${op.kernel}_MBConv${op.expand}`;
}
