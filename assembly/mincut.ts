// Balanced min-cut of an op-distance graph by exact enumeration (GM-NAS, spec §3.4–3.5).
//
// Input: a symmetric n×n DISTANCE matrix D (GM's D = 1 − cos of the ops' shared-weight gradients), row
// major f64. Only the strict upper triangle is read (GM's `D - tril(D)`); the diagonal is ignored.
// A partition assigns every op to one of B groups whose sizes are fixed in advance (sizes[k] for group k).
//
//   intra(P) = Σ_{i<j, same group} D[i][j]        cut(P) = Σ_{i<j, different groups} D[i][j]
//
// intra + cut = Σ_{i<j} D[i][j] is the same for every partition, so minimising intra = maximising the
// cut distance = (with similarity 1 − D and a fixed number of cut pairs for fixed sizes) minimising the
// cut SIMILARITY: the paper's balanced min-cut. Like GM we search for the minimal intra distance.
//
// Enumeration: ops are placed one at a time (op 0 first) into groups 0..B−1 (lowest first), so
// partitions are visited in lexicographic order of their label vectors. Groups of equal size are
// interchangeable, so a group may receive its first op only once every earlier group of the same size
// holds one (equal-size groups are ordered by their smallest op): each partition is visited exactly
// once, in its canonical labelling. The best partition replaces the incumbent only on a strictly
// smaller intra, so among equal optima the lexicographically smallest canonical label vector wins.
// For GM's NB201 split (5 ops, sizes [2,3]) this is GM's order: the first pair (a,b) in lexicographic
// order. When all distances are ≥ 0, partial intra sums only grow, so a branch whose partial sum is
// already ≥ the incumbent cannot win and is skipped.

/** Hard limit on ops per matrix (sizes of the static search state below). */
export const MAX_ITEMS: i32 = 32;

/** Edge criteria for `chooseSplitEdge`. */
export const CRITERION_MAX_CUT: i32 = 0;
export const CRITERION_MIN_INTRA: i32 = 1;

// Search state, static so that the module never allocates.
const labels = memory.data(MAX_ITEMS * 4);        // label of each placed op
const bestLabels = memory.data(MAX_ITEMS * 4);    // labels of the incumbent
const counts = memory.data(MAX_ITEMS * 4);        // ops placed per group
const capacity = memory.data(MAX_ITEMS * 4);      // required size per group
const previousSameSize = memory.data(MAX_ITEMS * 4); // index of the closest earlier group of equal size, or -1

let itemCount: i32 = 0;
let groupCount: i32 = 0;
let matrix: usize = 0;
let bestIntra: f64 = Infinity;
let pruneBranches: bool = false;
let partitionsVisited: f64 = 0;

@inline function geti(base: usize, index: i32): i32 {
  return load<i32>(base + ((<usize>index) << 2));
}
@inline function seti(base: usize, index: i32, value: i32): void {
  store<i32>(base + ((<usize>index) << 2), value);
}
@inline function upper(i: i32, j: i32): f64 {
  // i < j: row i, column j of the row-major matrix.
  return load<f64>(matrix + ((<usize>(i * itemCount + j)) << 3));
}

function placeFrom(item: i32, intra: f64): void {
  if (item == itemCount) {
    partitionsVisited += 1;
    if (intra < bestIntra) {
      bestIntra = intra;
      memory.copy(bestLabels, labels, (<usize>itemCount) << 2);
    }
    return;
  }
  for (let g = 0; g < groupCount; g++) {
    const placed = geti(counts, g);
    if (placed == geti(capacity, g)) continue;
    if (placed == 0) {
      const earlier = geti(previousSameSize, g);
      if (earlier >= 0 && geti(counts, earlier) == 0) continue;
    }
    let added = 0.0;
    for (let j = 0; j < item; j++) {
      if (geti(labels, j) == g) added += upper(j, item);
    }
    const next = intra + added;
    if (pruneBranches && next >= bestIntra) continue;
    seti(labels, item, g);
    seti(counts, g, placed + 1);
    placeFrom(item + 1, next);
    seti(counts, g, placed);
  }
}

/**
 * Minimal-intra (= maximal cut distance) partition of `n` ops into `groups` groups of the sizes at
 * `sizesPtr` (i32 × groups, summing to n). Reads the n×n f64 matrix at `matrixPtr`; writes each op's
 * group index to `outLabelsPtr` (i32 × n) and [cut distance, intra distance] to `outScoresPtr` (f64 × 2).
 * Returns 0, or a negative code for arguments the JS wrapper should have rejected:
 * -1 bad n or group count, -2 bad sizes, -3 a non-finite distance (the search found no partition).
 */
export function balancedMinCut(n: i32, matrixPtr: usize, groups: i32, sizesPtr: usize,
                               outLabelsPtr: usize, outScoresPtr: usize): i32 {
  if (n < 2 || n > MAX_ITEMS || groups < 2 || groups > n) return -1;
  let total = 0;
  for (let g = 0; g < groups; g++) {
    const size = geti(sizesPtr, g);
    if (size < 1) return -2;
    total += size;
  }
  if (total != n) return -2;

  itemCount = n;
  groupCount = groups;
  matrix = matrixPtr;
  bestIntra = Infinity;
  partitionsVisited = 0;
  for (let g = 0; g < groups; g++) {
    const size = geti(sizesPtr, g);
    seti(capacity, g, size);
    seti(counts, g, 0);
    let earlier = -1;
    for (let h = g - 1; h >= 0; h--) {
      if (geti(sizesPtr, h) == size) { earlier = h; break; }
    }
    seti(previousSameSize, g, earlier);
  }
  let allNonNegative = true;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (!(upper(i, j) >= 0)) allNonNegative = false;
    }
  }
  pruneBranches = allNonNegative;

  placeFrom(0, 0);
  if (bestIntra == Infinity) return -3;

  // The cut is summed directly over the cross-group pairs (row-major order) rather than as total − intra,
  // so that it is exactly the documented sum.
  let cut = 0.0;
  for (let i = 0; i < n; i++) {
    const li = geti(bestLabels, i);
    for (let j = i + 1; j < n; j++) {
      if (geti(bestLabels, j) != li) cut += upper(i, j);
    }
  }
  memory.copy(outLabelsPtr, bestLabels, (<usize>n) << 2);
  store<f64>(outScoresPtr, cut);
  store<f64>(outScoresPtr + 8, bestIntra);
  return 0;
}

/** Complete partitions evaluated by the last `balancedMinCut` (pruned branches excluded); for tests and benches. */
export function lastPartitionsVisited(): f64 {
  return partitionsVisited;
}

/**
 * Cuts every candidate edge and picks one. `matricesPtr` holds `edgeCount` n×n f64 matrices back to back
 * (in ascending edge id order); every edge uses the same group sizes. Per edge e, writes its labels to
 * `outLabelsPtr + e·n·4` and [cut, intra] to `outScoresPtr + e·16`.
 * criterion 0 (GM on NB201 and OFA): the largest cut distance; 1 (GM in the DARTS space and
 * ProxylessNAS): the smallest intra distance. Ties go to the earliest edge (strict comparisons).
 * Returns the position of the chosen edge, or the negative code of the first failing cut.
 */
export function chooseSplitEdge(edgeCount: i32, n: i32, matricesPtr: usize, groups: i32, sizesPtr: usize,
                                criterion: i32, outLabelsPtr: usize, outScoresPtr: usize): i32 {
  if (edgeCount < 1) return -1;
  let chosen = -1;
  let chosenCut = 0.0;
  let chosenIntra = 0.0;
  const matrixBytes = (<usize>(n * n)) << 3;
  for (let e = 0; e < edgeCount; e++) {
    const scores = outScoresPtr + ((<usize>e) << 4);
    const status = balancedMinCut(n, matricesPtr + (<usize>e) * matrixBytes, groups, sizesPtr,
      outLabelsPtr + ((<usize>(e * n)) << 2), scores);
    if (status < 0) return status;
    const cut = load<f64>(scores);
    const intra = load<f64>(scores + 8);
    const better = chosen < 0 ||
      (criterion == CRITERION_MIN_INTRA ? intra < chosenIntra : cut > chosenCut);
    if (better) {
      chosen = e;
      chosenCut = cut;
      chosenIntra = intra;
    }
  }
  return chosen;
}
