#!/usr/bin/env python3
"""PyTorch reference for the gradient-matching split score (src/nas/gm-score.ts, spec §3.3).

Regenerate (Python 3 with PyTorch; Debian's python3-torch 1.13 works), from the repository root:
    /usr/bin/python3 scripts/goldens/make_gm_goldens.py
Writes test/goldens/gm-edge-distance.json (committed; the tests only read it).

A tiny NB201 supernet (C=2, N=1, 1 input channel, 5 classes, 8x8 images, cell BNs tracking running
statistics, every op enabled) with the deterministic weights of make_nb201_goldens.py, alpha = 0.5*u('alpha')
and DARTS's theta = softmax(alpha) per edge. For every edge e and every repeat r (fixed batch r, inputs
u('gm-input-<r>'), labels (i + r) mod 5): each op o of edge e in turn replaces the edge's mixture at
weight 1 (the other edges keep theta), train-mode forward, cross-entropy backward, and the gradient
of the shared parameters (every op of the other edges in every search cell, and both reduction
blocks; stem and head excluded; parameters the pass did not reach count as zeros) is flattened into
one vector g_o. Distances: cos 1 - <g_i,g_j>/(|g_i||g_j| + 1e-6); l2 sum (g_i-g_j)^2; per-filter-cos the
sum over tensors with >= 2 dims and over their output filters of the cos distance. Averaged over the
repeats. float64 arithmetic from float32 values.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_nb201_goldens import (TinyNetwork, SearchCell, ResNetBasicblock, EDGES, OPS, fill_recipe,  # noqa: E402
                                unit_values, f32, write)

C, N, IN_CH, CLASSES, H, W, BATCH, REPEATS = 2, 1, 1, 5, 8, 8, 4, 2
GENERATOR_NOTE = ('gmEdgeDistance on a tiny supernet (see the generator docstring); distance[metric][edge] is '
                  'the 5x5 matrix in NB201 op order, averaged over the repeats')


def shared_parameters(net, edge):
    key = '{}<-{}'.format(*EDGES[edge])
    out = []
    for cell in net.cells:
        if isinstance(cell, SearchCell):
            for k, ops in cell.edges.items():
                if k != key:
                    for op in ops:
                        out.extend(op.parameters())
    for cell in net.cells:
        if isinstance(cell, ResNetBasicblock):
            out.extend(cell.parameters())
    return out


def distance(a, b, metric):
    if metric == 'cos':
        va, vb = torch.cat([t.reshape(-1) for t in a]), torch.cat([t.reshape(-1) for t in b])
        return 1 - (va @ vb).item() / (va.norm().item() * vb.norm().item() + 1e-6)
    if metric == 'l2':
        return sum(((x - y) ** 2).sum().item() for x, y in zip(a, b))
    total = 0.0
    for x, y in zip(a, b):
        if x.dim() < 2:
            continue
        for f in range(x.shape[0]):
            u, v = x[f].reshape(-1), y[f].reshape(-1)
            total += 1 - (u @ v).item() / (u.norm().item() * v.norm().item() + 1e-6)
    return total


def main():
    net = TinyNetwork(C, N, None, IN_CH, CLASSES, search=True, track=True).double()
    fill_recipe(net)
    net.train()
    alpha = f32([0.5 * v for v in unit_values('alpha', 30)], [6, 5])
    theta = torch.softmax(alpha, dim=-1)
    batches = []
    for r in range(REPEATS):
        x = f32(unit_values('gm-input-%d' % r, BATCH * IN_CH * H * W), [BATCH, IN_CH, H, W])
        y = torch.tensor([(i + r) % CLASSES for i in range(BATCH)])
        batches.append((x, y))
    metrics = ['cos', 'l2', 'per-filter-cos']
    result = {m: [] for m in metrics}
    for e in range(len(EDGES)):
        params = shared_parameters(net, e)
        sums = {m: [[0.0] * len(OPS) for _ in OPS] for m in metrics}
        for (x, y) in batches:
            grads = []
            for o in range(len(OPS)):
                net.zero_grad(set_to_none=True)
                w = theta.clone()
                w[e] = 0
                w[e, o] = 1
                F.cross_entropy(net(x, weights=w), y).backward()
                grads.append([p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params])
            for m in metrics:
                for i in range(len(OPS)):
                    for j in range(i + 1, len(OPS)):
                        d = distance(grads[i], grads[j], m)
                        sums[m][i][j] += d
                        sums[m][j][i] += d
        for m in metrics:
            result[m].append([[v / REPEATS for v in row] for row in sums[m]])
    write('gm-edge-distance', {
        'note': GENERATOR_NOTE, 'generator': 'scripts/goldens/make_gm_goldens.py',
        'C': C, 'N': N, 'inputChannels': IN_CH, 'numClasses': CLASSES, 'H': H, 'W': W, 'batch': BATCH,
        'repeats': REPEATS, 'alphaScale': 0.5, 'trackCellStats': True, 'ops': OPS, 'distance': result})


if __name__ == '__main__':
    main()
