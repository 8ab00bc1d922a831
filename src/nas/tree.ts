// The partition tree: the root is the whole supernet (the space's all-ones op mask); a split of node s on
// edge e into groups G1..GB gives B children whose masks equal s's with row e restricted to Gk.
// Leaves are the sub-supernets that get trained to the end and each yield one architecture.
import { getSpace, type SearchSpace, type OpMask } from '../spaces/registry.js';

export type SplitCriterion = 'gm' | 'fewshot' | 'random';

export interface SplitRecord {
  /** id of the node that was split */
  node: number;
  edge: number;
  criterion: SplitCriterion;
  /** op indices of each group (op columns of the edge) */
  groupIndices: number[][];
  /** the same groups as op names */
  groups: string[][];
  /** GM distance matrix (1 − cos, averaged over repeats) of the chosen edge; null for fewshot/random */
  distance: number[][] | null;
  /** sum of cross-group distances of the chosen cut (GM); null otherwise */
  cutScore: number | null;
  /** every candidate edge's matrix and best cut (GM only) */
  candidates?: { edge: number; distance: number[][]; cutScore: number; groups: string[][] }[];
  /** children created */
  children: number[];
}

export interface TreeNode {
  id: number;
  parent: number | null;
  depth: number;
  mask: OpMask;
  children: number[];
}

export class PartitionTree {
  readonly nodes: TreeNode[] = [];
  readonly splits: SplitRecord[] = [];

  constructor(rootMask?: OpMask, readonly space: SearchSpace = getSpace()) {
    rootMask ??= space.fullMask();
    this.nodes.push({ id: 0, parent: null, depth: 0, mask: rootMask, children: [] });
  }

  get root(): TreeNode { return this.nodes[0]; }

  node(id: number): TreeNode {
    const n = this.nodes[id];
    if (!n) throw new Error(`partition tree: no node ${id}`);
    return n;
  }

  leaves(): TreeNode[] { return this.nodes.filter((n) => n.children.length === 0); }

  /** Nodes at a depth, in creation order (the order the run trains them). */
  level(depth: number): TreeNode[] { return this.nodes.filter((n) => n.depth === depth); }

  /** Split `nodeId` on `edge` into the given op groups (must partition the edge's enabled ops). */
  split(nodeId: number, edge: number, groupIndices: number[][], info: Omit<SplitRecord, 'node' | 'edge' | 'groupIndices' | 'groups' | 'children'>): TreeNode[] {
    const parent = this.node(nodeId);
    if (parent.children.length) throw new Error(`partition tree: node ${nodeId} is already split`);
    const enabled = this.space.enabledOps(parent.mask, edge);
    const flat = groupIndices.flat().sort((a, b) => a - b);
    if (groupIndices.length < 2 || groupIndices.some((g) => g.length === 0) ||
      flat.length !== enabled.length || flat.some((o, i) => o !== enabled[i])) {
      throw new Error(`partition tree: groups ${JSON.stringify(groupIndices)} do not partition the ops ` +
        `[${enabled.join(', ')}] enabled on edge ${edge} of node ${nodeId}`);
    }
    const children = groupIndices.map((g) => {
      const child: TreeNode = {
        id: this.nodes.length, parent: nodeId, depth: parent.depth + 1, mask: this.space.restrictMask(parent.mask, edge, g), children: [],
      };
      this.nodes.push(child);
      parent.children.push(child.id);
      return child;
    });
    this.splits.push({
      node: nodeId, edge, groupIndices: groupIndices.map((g) => [...g].sort((a, b) => a - b)),
      groups: groupIndices.map((g) => [...g].sort((a, b) => a - b).map((o) => this.space.decisions[edge].ops[o])),
      children: children.map((c) => c.id), ...info,
    });
    return children;
  }

  toJSON(): { nodes: { id: number; parent: number | null; depth: number; mask: string; children: number[]; archs: number }[] } {
    return {
      nodes: this.nodes.map((n) => ({
        id: n.id, parent: n.parent, depth: n.depth, mask: this.space.maskToString(n.mask), children: n.children, archs: this.space.countAdmitted(n.mask),
      })),
    };
  }

  static fromJSON(j: { nodes: { id: number; parent: number | null; depth: number; mask: string; children: number[] }[] }, splits: SplitRecord[] = [], space: SearchSpace = getSpace()): PartitionTree {
    const t = new PartitionTree(space.parseMask(j.nodes[0].mask), space);
    t.nodes.length = 0;
    for (const n of j.nodes) t.nodes.push({ id: n.id, parent: n.parent, depth: n.depth, mask: space.parseMask(n.mask), children: [...n.children] });
    t.splits.push(...splits);
    return t;
  }

  /** An ASCII drawing: one line per node with its mask and admitted-architecture count. */
  render(label: (n: TreeNode) => string = () => ''): string {
    const lines: string[] = [];
    const walk = (id: number, prefix: string, last: boolean, isRoot: boolean) => {
      const n = this.node(id);
      const split = this.splits.find((s) => s.node === id);
      const head = isRoot ? '' : `${prefix}${last ? '└─ ' : '├─ '}`;
      lines.push(`${head}node ${id}  mask ${this.space.maskToString(n.mask)}  (${this.space.countAdmitted(n.mask)} archs)` +
        (split ? `  split edge ${split.edge} → ${split.groups.map((g) => `{${g.join(',')}}`).join(' ')}` : '') + label(n));
      const childPrefix = isRoot ? '' : prefix + (last ? '   ' : '│  ');
      n.children.forEach((c, i) => walk(c, childPrefix, i === n.children.length - 1, false));
    };
    walk(0, '', true, true);
    return lines.join('\n');
  }
}
