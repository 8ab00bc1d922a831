#!/usr/bin/env python3
"""PyTorch references for the DARTS evaluation network (the DARTS repository's NetworkCIFAR).

Regenerate (needs Python 3 with PyTorch; Debian's python3-torch 1.13 works):
    /usr/bin/python3 scripts/goldens/make_darts_goldens.py          # from the repository root
Writes (committed; the tests only read it):
    test/goldens/darts-network.json
        configs: state_dict() names and shapes in order, and parameter counts (without the auxiliary
                 head, as the DARTS papers count, and with it) for published genotypes at C=36, 20 cells
        forward: a small network (C=4, 5 cells, every op kind, auxiliary head) with the deterministic
                 weights of make_nb201_goldens.py: train-mode logits, auxiliary logits, the loss
                 CE + 0.4 CE_aux, chosen gradients and BN buffers after it, and eval-mode logits

The network is written here from the facts of the DARTS evaluation model: stem Conv3x3(3 -> 3C) + BN;
cells whose two inputs are preprocessed (FactorizedReduce after a reduction cell, else ReLU-Conv1x1-BN)
and whose 4 nodes each add two ops of the genotype (stride 2 on ops reading a reduction cell's inputs);
reductions at layers//3 and 2*layers//3 doubling the channels; the output concatenates the 4 nodes;
the auxiliary head (ReLU, AvgPool 5/3 without padding counts, Conv1x1 -> 128, BN, ReLU, Conv2x2 -> 768,
BN, ReLU, Linear) reads cell 2*layers//3; global average pool and a Linear classifier. Child names
follow the reference so state_dict keys are its keys.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_nb201_goldens import enc, fill_recipe, unit_values, f32  # noqa: E402  (shared value recipe)
from golden_json import write_golden  # noqa: E402
from darts_ops import FactorizedReduce, Identity, ReLUConvBN, conv_op  # noqa: E402  (shared with the supernet's goldens)

GENERATOR = 'scripts/goldens/make_darts_goldens.py'

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
            "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
PC_DARTS = ("Genotype(normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1), "
            "('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)], normal_concat=range(2, 6), "
            "reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 2), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)], reduce_concat=range(2, 6))")
# every op kind in both cells: skip at stride 2 (FactorizedReduce), both pools, both sep and dil convs
MIXED = ("Genotype(normal=[('sep_conv_5x5', 1), ('dil_conv_3x3', 0), ('skip_connect', 0), ('avg_pool_3x3', 2), "
         "('max_pool_3x3', 1), ('dil_conv_5x5', 3), ('sep_conv_3x3', 4), ('skip_connect', 2)], normal_concat=range(2, 6), "
         "reduce=[('skip_connect', 0), ('sep_conv_3x3', 1), ('max_pool_3x3', 1), ('dil_conv_5x5', 2), ('avg_pool_3x3', 0), "
         "('sep_conv_5x5', 3), ('dil_conv_3x3', 4), ('skip_connect', 1)], reduce_concat=range(2, 6))")


class Genotype:
    """The namedtuple's fields, from its repr (eval in an empty namespace with range and this class)."""
    def __init__(self, normal, normal_concat, reduce, reduce_concat):
        self.normal, self.normal_concat, self.reduce, self.reduce_concat = normal, list(normal_concat), reduce, list(reduce_concat)


def genotype_of(text):
    return eval(text, {'__builtins__': {}}, {'Genotype': Genotype, 'range': range})


# ---------------------------------------------------------------- modules

def make_op(name, C, stride):
    if name == 'max_pool_3x3':
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == 'skip_connect':
        return Identity() if stride == 1 else FactorizedReduce(C, C)
    return conv_op(name, C, stride)


class Cell(nn.Module):
    def __init__(self, pairs, Cpp, Cp, C, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(Cpp, C) if reduction_prev else ReLUConvBN(Cpp, C, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(Cp, C, 1, 1, 0)
        self._ops = nn.ModuleList([make_op(name, C, 2 if reduction and j < 2 else 1) for name, j in pairs])
        self._inputs = [j for _, j in pairs]

    def forward(self, s0, s1):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(4):
            a, b = 2 * node, 2 * node + 1
            states.append(self._ops[a](states[self._inputs[a]]) + self._ops[b](states[self._inputs[b]]))
        return torch.cat(states[2:], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    def __init__(self, C, classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(768, classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


class NetworkCIFAR(nn.Module):
    def __init__(self, C, classes, layers, auxiliary, genotype, in_ch=3):
        super().__init__()
        self._aux_at = 2 * layers // 3
        Cs = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(in_ch, Cs, 3, padding=1, bias=False), nn.BatchNorm2d(Cs))
        Cpp, Cp, Cc = Cs, Cs, C
        self.cells = nn.ModuleList()
        red_prev = False
        C_aux = None
        for i in range(layers):
            red = i in (layers // 3, 2 * layers // 3)
            if red:
                Cc *= 2
            self.cells.append(Cell(genotype.reduce if red else genotype.normal, Cpp, Cp, Cc, red, red_prev))
            red_prev = red
            Cpp, Cp = Cp, 4 * Cc
            if i == self._aux_at:
                C_aux = Cp
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadCIFAR(C_aux, classes)
        self.auxiliary = auxiliary
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(Cp, classes)

    def forward(self, x):
        aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self._aux_at and self.auxiliary and self.training:
                aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        return self.classifier(out.view(out.size(0), -1)), aux


# ---------------------------------------------------------------- goldens

def keys_of(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def params_without_aux(model):
    return sum(p.numel() for n, p in model.named_parameters() if 'auxiliary' not in n)


def write(name, doc):
    write_golden(GENERATOR, name, doc)


def main():
    torch.set_default_dtype(torch.float64)
    configs = []
    for name, text in [('DARTS_V2', DARTS_V2), ('PC_DARTS', PC_DARTS)]:
        m = NetworkCIFAR(36, 10, 20, True, genotype_of(text))
        configs.append({'name': name, 'genotype': text, 'C': 36, 'layers': 20, 'numClasses': 10, 'auxiliary': True,
                        'params': params_without_aux(m), 'paramsWithAux': sum(p.numel() for p in m.parameters()),
                        'keys': keys_of(m) if name == 'DARTS_V2' else None})

    C, layers, classes = 4, 5, 10
    m = NetworkCIFAR(C, classes, layers, True, genotype_of(MIXED))
    fill_recipe(m)
    x = f32([0.8 * v for v in unit_values('input', 2 * 3 * 32 * 32)], [2, 3, 32, 32])
    y = torch.tensor([3, 7])
    m.train()
    logits, aux = m(x)
    loss = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)
    loss.backward()
    watch = ['stem.0.weight', 'cells.1.preprocess0.conv_2.weight', 'cells.1._ops.0.conv_2.weight',
             'cells.0._ops.0.op.1.weight', 'cells.0._ops.5.op.1.weight', 'cells.4._ops.0.op.6.weight',
             'auxiliary_head.features.3.weight', 'auxiliary_head.classifier.bias', 'classifier.weight']
    grads = {k: enc(p.grad) for k, p in m.named_parameters() if k in watch}
    buffers = {k: enc(v) for k, v in m.state_dict().items()
               if k in ('stem.1.running_mean', 'cells.3._ops.1.op.3.running_var', 'auxiliary_head.features.6.running_mean')}
    m.eval()
    with torch.no_grad():
        eval_logits, eval_aux = m(x)
    assert eval_aux is None
    write('darts-network', {
        'note': 'NetworkCIFAR state_dict names/shapes and parameter counts (params: without the auxiliary head); '
                'forward: recipe weights (see make_nb201_goldens.py), input 0.8*unit_values("input"), labels [3, 7]',
        'configs': configs,
        'forward': {'genotype': MIXED, 'C': C, 'layers': layers, 'numClasses': classes, 'auxiliary': True,
                    'input': [2, 3, 32, 32], 'labels': [3, 7], 'auxWeight': 0.4,
                    'keys': keys_of(m), 'logits': enc(logits), 'aux': enc(aux), 'loss': loss.item(),
                    'grads': grads, 'buffers': buffers, 'evalLogits': enc(eval_logits)},
    })


if __name__ == '__main__':
    main()
