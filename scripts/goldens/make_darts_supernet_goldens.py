#!/usr/bin/env python3
"""PyTorch reference for the DARTS search supernet's checkpoint names (the search model of DARTS /
GM-NAS, model_search.py), so that gmnas supernet checkpoints load with strict key matching.

Regenerate (needs Python 3 with PyTorch; Debian's python3-torch 1.13 works):
    /usr/bin/python3 scripts/goldens/make_darts_supernet_goldens.py     # from the repository root
Writes (committed; the tests only read it):
    test/goldens/darts-supernet.json
        configs: for GM's 7-op s5 set and the original 8 ops with 'none', a search network (C=4,
                 3 layers: normal, reduce, reduce — both preprocessings and stride-2 skips occur),
                 its state_dict() names and shapes in order and its parameter count

The model is written here from the facts of the search model: stem Conv3x3(in -> 3C) + BN (affine);
cells whose two inputs are preprocessed without BN affinity (FactorizedReduce after a reduction
cell, else ReLU-Conv1x1-BN); 14 mixed ops per cell, each a ModuleList of the space's ops in order:
'none' is a parameterless zero, pools are followed by a non-affine BN, skip is an identity (a
non-affine FactorizedReduce at stride 2), sep/dil convs have non-affine BNs; stride 2 on the edges
from the two inputs of a reduction cell; reductions at layers//3 and 2*layers//3 doubling the
channels; global average pool and a Linear classifier. The architecture weights are not module
state (plain tensors in the reference), so they are not in the state_dict.
"""
import os
import sys

import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_json import write_golden  # noqa: E402
from darts_ops import FactorizedReduce, Identity, ReLUConvBN, conv_op  # noqa: E402  (shared with the network's goldens)

GENERATOR = 'scripts/goldens/make_darts_supernet_goldens.py'
DARTS_OPS = ['none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5']
S5_OPS = [o for o in DARTS_OPS if o != 'none']


def bn(c):
    return nn.BatchNorm2d(c, affine=False)


class Zero(nn.Module):
    pass


def make_op(name, C, stride):
    if name == 'none':
        return Zero()
    if name == 'max_pool_3x3':
        return nn.Sequential(nn.MaxPool2d(3, stride=stride, padding=1), bn(C))
    if name == 'avg_pool_3x3':
        return nn.Sequential(nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False), bn(C))
    if name == 'skip_connect':
        return Identity() if stride == 1 else FactorizedReduce(C, C, affine=False)
    return conv_op(name, C, stride, affine=False)


class MixedOp(nn.Module):
    def __init__(self, ops, C, stride):
        super().__init__()
        self._ops = nn.ModuleList([make_op(o, C, stride) for o in ops])


class Cell(nn.Module):
    def __init__(self, ops, Cpp, Cp, C, reduction, reduction_prev):
        super().__init__()
        self.preprocess0 = FactorizedReduce(Cpp, C, affine=False) if reduction_prev else ReLUConvBN(Cpp, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(Cp, C, 1, 1, 0, affine=False)
        self._ops = nn.ModuleList()
        for node in range(4):
            for j in range(2 + node):
                self._ops.append(MixedOp(ops, C, 2 if reduction and j < 2 else 1))


class Network(nn.Module):
    def __init__(self, ops, C, classes, layers, in_ch):
        super().__init__()
        Cs = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(in_ch, Cs, 3, padding=1, bias=False), nn.BatchNorm2d(Cs))
        Cpp, Cp, Cc = Cs, Cs, C
        self.cells = nn.ModuleList()
        red_prev = False
        for i in range(layers):
            red = i in (layers // 3, 2 * layers // 3)
            if red:
                Cc *= 2
            self.cells.append(Cell(ops, Cpp, Cp, Cc, red, red_prev))
            red_prev = red
            Cpp, Cp = Cp, 4 * Cc
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(Cp, classes)


def main():
    configs = []
    for space, ops in [('darts', S5_OPS), ('darts-none', DARTS_OPS)]:
        C, layers, classes, in_ch = 4, 3, 10, 3
        m = Network(ops, C, classes, layers, in_ch)
        configs.append({'space': space, 'ops': ops, 'C': C, 'layers': layers, 'numClasses': classes, 'inputChannels': in_ch,
                        'params': sum(p.numel() for p in m.parameters()),
                        'keys': [[k, list(v.shape)] for k, v in m.state_dict().items()]})
    write_golden(GENERATOR, 'darts-supernet', {
        'note': 'DARTS search network state_dict names/shapes in order (non-affine cell BNs with running statistics) and parameter counts',
        'configs': configs,
    })


if __name__ == '__main__':
    main()
