#!/usr/bin/env python3
"""PyTorch references for the NB201 networks: state_dict names/shapes and forward/backward values.

Regenerate (needs Python 3 with PyTorch; Debian's python3-torch 1.13 works):
    /usr/bin/python3 scripts/goldens/make_nb201_goldens.py          # from the repository root
Writes (committed; the tests only read them):
    test/goldens/nb201-state-dict-keys.json   names and shapes of model.state_dict(), in order, for the
                                              stand-alone network (AutoDL-Projects' TinyNetwork + InferCell)
                                              and the search supernet (GM-NAS's TinyNetwork + NAS201SearchCell)
    test/goldens/nb201-forward.json           tiny networks with deterministic weights: logits, loss,
                                              gradients, BN buffers after a train-mode step, eval logits

The modules below are written from the structure described in gmnas-spec.md §1.2-1.3 (ReLUConvBN with
children op.0/op.1/op.2, ResNetBasicblock with conv_a/conv_b/downsample, InferCell with one `layers`
entry per genotype token, the search cell with `edges` keyed 'j<-i' holding the 5 ops in NB201 order),
so that the names and the arithmetic are PyTorch's own.

Deterministic values (so the JSON need not carry the weights): tensor `name` with n values gets
u_i = fmix32(i * 0x9e3779b9 + fnv1a(name)) / 2^32 * 2 - 1 in [-1, 1), then by role:
conv/linear weight u/sqrt(fan_in); BN weight 1 + 0.2u; any bias 0.1u; running_mean 0.1u;
running_var 1 + 0.2u; everything else (inputs, alpha, gumbel noise) as documented per case.
Values are rounded to float32, and the references are computed in float64 from those float32 values.
test/search/nb201-recipe.ts implements the same recipe.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from golden_json import write_golden

GENERATOR = 'scripts/goldens/make_nb201_goldens.py'

OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3']
EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]  # eid order: (to, from)


# ---------------------------------------------------------------- deterministic values

def fnv1a(s):
    h = 0x811c9dc5
    for b in s.encode('utf-8'):
        h ^= b
        h = (h * 0x01000193) & 0xffffffff
    return h


def fmix32(h):
    h &= 0xffffffff
    h ^= h >> 16
    h = (h * 0x85ebca6b) & 0xffffffff
    h ^= h >> 13
    h = (h * 0xc2b2ae35) & 0xffffffff
    h ^= h >> 16
    return h


def unit_values(name, n):
    seed = fnv1a(name)
    return [fmix32((i * 0x9e3779b9 + seed) & 0xffffffff) / 4294967296.0 * 2 - 1 for i in range(n)]


def f32(vals, shape):
    return torch.tensor(vals, dtype=torch.float64).float().double().reshape(shape)


def recipe_tensor(name, shape):
    n = 1
    for d in shape:
        n *= d
    u = unit_values(name, n)
    if name.endswith('running_mean'):
        v = [0.1 * x for x in u]
    elif name.endswith('running_var'):
        v = [1 + 0.2 * x for x in u]
    elif name.endswith('bias'):
        v = [0.1 * x for x in u]
    elif name.endswith('weight') and len(shape) == 1:
        v = [1 + 0.2 * x for x in u]
    elif name.endswith('weight'):
        fan_in = n // shape[0]
        v = [x / math.sqrt(fan_in) for x in u]
    else:
        raise ValueError('no recipe for ' + name)
    return f32(v, shape)


def fill_recipe(model):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            t.copy_(recipe_tensor(name, list(t.shape)))


# ---------------------------------------------------------------- modules

class ReLUConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride, pad, affine, track):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(cin, cout, k, stride, pad, bias=False),
                                nn.BatchNorm2d(cout, affine=affine, track_running_stats=track))

    def forward(self, x):
        return self.op(x)


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.)


class Identity(nn.Module):
    def forward(self, x):
        return x


class Pooling(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x):
        return self.op(x)


def make_op(name, c, affine, track):
    if name == 'none':
        return Zero()
    if name == 'skip_connect':
        return Identity()
    if name == 'nor_conv_1x1':
        return ReLUConvBN(c, c, 1, 1, 0, affine, track)
    if name == 'nor_conv_3x3':
        return ReLUConvBN(c, c, 3, 1, 1, affine, track)
    if name == 'avg_pool_3x3':
        return Pooling()
    raise ValueError(name)


class ResNetBasicblock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, 2, 1, True, True)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1, 1, True, True)
        self.downsample = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                                        nn.Conv2d(cin, cout, 1, 1, 0, bias=False))

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class InferCell(nn.Module):
    """One layer per genotype token (eid order), 'none' included as Zero."""

    def __init__(self, genotype, c):
        super().__init__()
        self.genotype = genotype
        self.layers = nn.ModuleList([make_op(OPS[o], c, True, True) for o in genotype])

    def forward(self, x):
        nodes = [x]
        for to in (1, 2, 3):
            nodes.append(sum(self.layers[e](nodes[j]) for e, (t, j) in enumerate(EDGES) if t == to))
        return nodes[3]


class SearchCell(nn.Module):
    """GM's NAS201SearchCell: node j = sum over edges, edge = sum_k w_k op_k(x) for w_k != 0.
    With `hard_index`, the GDAS forward: the selected op is weighted, the others add their weight."""

    def __init__(self, c, track):
        super().__init__()
        self.edges = nn.ModuleDict()
        for (to, j) in EDGES:
            self.edges['{}<-{}'.format(to, j)] = nn.ModuleList([make_op(n, c, False, track) for n in OPS])

    def forward(self, x, weights, hard_index=None, enabled=None):
        nodes = [x]
        for to in (1, 2, 3):
            terms = []
            for e, (t, j) in enumerate(EDGES):
                if t != to:
                    continue
                ops = self.edges['{}<-{}'.format(to, j)]
                if hard_index is None:
                    terms.append(sum(w * op(nodes[j]) for w, op in zip(weights[e], ops) if w != 0))
                else:
                    terms.append(sum(weights[e][k] * ops[k](nodes[j]) if k == hard_index[e] else weights[e][k]
                                     for k in range(len(OPS)) if enabled[e][k]))
            nodes.append(sum(terms))
        return nodes[3]


def layout(C, N):
    return [(C, False)] * N + [(2 * C, True)] + [(2 * C, False)] * N + [(4 * C, True)] + [(4 * C, False)] * N


class TinyNetwork(nn.Module):
    def __init__(self, C, N, genotype, in_ch, classes, search=False, track=True):
        super().__init__()
        self.search = search
        self.stem = nn.Sequential(nn.Conv2d(in_ch, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.cells = nn.ModuleList()
        prev = C
        for c, red in layout(C, N):
            if red:
                self.cells.append(ResNetBasicblock(prev, c))
            elif search:
                self.cells.append(SearchCell(c, track))
            else:
                self.cells.append(InferCell(genotype, c))
            prev = c
        self.lastact = nn.Sequential(nn.BatchNorm2d(prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(prev, classes)

    def forward(self, x, weights=None, hard_index=None, enabled=None):
        h = self.stem(x)
        for cell in self.cells:
            if isinstance(cell, SearchCell):
                h = cell(h, weights, hard_index, enabled)
            else:
                h = cell(h)
        h = self.global_pooling(self.lastact(h)).view(h.size(0), -1)
        return self.classifier(h)


# ---------------------------------------------------------------- output helpers

def enc(t):
    data = []
    for v in t.detach().double().reshape(-1).tolist():
        r = float('%.8g' % v)
        data.append(int(r) if r.is_integer() and abs(r) < 2 ** 31 else r)
    return {'shape': list(t.shape), 'data': data}


def write(name, doc):
    write_golden(GENERATOR, name, doc)


def parse_genotype(s):
    out = []
    for node in s.split('+'):
        for tok in node.strip('|').split('|'):
            out.append(OPS.index(tok.split('~')[0]))
    return out


def keys_of(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


# ---------------------------------------------------------------- goldens

BEST = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
MIXED = '|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|'


def state_dict_keys():
    configs = []
    for (C, N, in_ch, classes, g) in [(16, 5, 3, 10, BEST), (4, 1, 1, 7, MIXED)]:
        m = TinyNetwork(C, N, parse_genotype(g), in_ch, classes)
        configs.append({'kind': 'network', 'C': C, 'N': N, 'inputChannels': in_ch, 'numClasses': classes,
                        'genotype': g, 'params': sum(p.numel() for p in m.parameters()), 'keys': keys_of(m)})
    for (C, N, in_ch, classes, track) in [(16, 5, 3, 10, True), (4, 1, 1, 7, False)]:
        m = TinyNetwork(C, N, None, in_ch, classes, search=True, track=track)
        configs.append({'kind': 'supernet', 'C': C, 'N': N, 'inputChannels': in_ch, 'numClasses': classes,
                        'trackCellStats': track, 'params': sum(p.numel() for p in m.parameters()),
                        'keys': keys_of(m)})
    write('nb201-state-dict-keys', {
        'note': 'state_dict() names and shapes in order; params = sum of parameter numel', 'configs': configs})


def run_case(model, x, y, **fw):
    model.train()
    logits = model(x, **fw) if fw else model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    grads = {k: enc(p.grad) for k, p in model.named_parameters() if p.grad is not None}
    no_grad = [k for k, p in model.named_parameters() if p.grad is None]
    buffers = {k: enc(v) for k, v in model.state_dict().items() if 'running' in k}
    model.eval()
    with torch.no_grad():
        eval_logits = model(x, **fw) if fw else model(x)
    return logits, loss, grads, no_grad, buffers, eval_logits


def forward_goldens():
    cases = []
    H = W = 8
    batch = 4
    # 1. stand-alone network, every op kind, 3 input channels
    C, N, in_ch, classes = 2, 1, 3, 5
    torch.manual_seed(0)
    net = TinyNetwork(C, N, parse_genotype(MIXED), in_ch, classes).double()
    fill_recipe(net)
    x = f32(unit_values('input', batch * in_ch * H * W), [batch, in_ch, H, W])
    y = torch.tensor([i % classes for i in range(batch)])
    logits, loss, grads, no_grad, buffers, eval_logits = run_case(net, x, y)
    cases.append({'name': 'network', 'kind': 'network', 'C': C, 'N': N, 'inputChannels': in_ch,
                  'numClasses': classes, 'genotype': MIXED, 'batch': batch, 'H': H, 'W': W,
                  'logits': enc(logits), 'loss': loss.item(), 'grads': grads, 'noGrad': no_grad,
                  'buffers': buffers, 'evalLogits': enc(eval_logits)})

    # 2. supernet, DARTS relaxation under a mask: theta = softmax over enabled ops of alpha
    mask = [[1] * 5 for _ in range(6)]
    mask[0] = [0, 1, 0, 1, 0]
    mask[2] = [1, 0, 1, 0, 1]
    mask[5] = [0, 0, 0, 1, 1]
    C, N, in_ch, classes = 2, 1, 1, 5
    for track in (True, False):
        net = TinyNetwork(C, N, None, in_ch, classes, search=True, track=track).double()
        fill_recipe(net)
        alpha = f32([0.5 * v for v in unit_values('alpha', 30)], [6, 5]).requires_grad_()
        enabled = torch.tensor(mask, dtype=torch.bool)
        theta = torch.softmax(alpha.masked_fill(~enabled, float('-inf')), dim=-1)
        x = f32(unit_values('input', batch * in_ch * H * W), [batch, in_ch, H, W])
        y = torch.tensor([i % classes for i in range(batch)])
        logits, loss, grads, no_grad, buffers, eval_logits = run_case(net, x, y, weights=theta)
        cases.append({'name': 'supernet darts track=%s' % track, 'kind': 'supernet-darts', 'C': C, 'N': N,
                      'inputChannels': in_ch, 'numClasses': classes, 'trackCellStats': track, 'mask': mask,
                      'batch': batch, 'H': H, 'W': W, 'alphaScale': 0.5,
                      'logits': enc(logits), 'loss': loss.item(), 'grads': grads, 'noGrad': no_grad,
                      'alphaGrad': enc(alpha.grad), 'buffers': buffers, 'evalLogits': enc(eval_logits)})

    # 3. supernet, GDAS hard straight-through forward (ADL forward_gdas) under the same mask
    net = TinyNetwork(C, N, None, in_ch, classes, search=True, track=True).double()
    fill_recipe(net)
    alpha = f32([0.5 * v for v in unit_values('alpha', 30)], [6, 5]).requires_grad_()
    gumbel = f32([2.0 * v for v in unit_values('gumbel', 30)], [6, 5])
    tau = 0.7
    enabled = torch.tensor(mask, dtype=torch.bool)
    logp = torch.log_softmax(alpha.masked_fill(~enabled, float('-inf')), dim=-1)
    probs = torch.softmax(((logp + gumbel) / tau).masked_fill(~enabled, float('-inf')), dim=-1)
    index = probs.max(-1)[1]
    one_h = torch.zeros_like(probs).scatter_(-1, index.view(-1, 1), 1.0)
    hardwts = one_h - probs.detach() + probs
    x = f32(unit_values('input', batch * in_ch * H * W), [batch, in_ch, H, W])
    y = torch.tensor([i % classes for i in range(batch)])
    net.train()
    logits = net(x, weights=hardwts, hard_index=index.tolist(), enabled=mask)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    cases.append({'name': 'supernet gdas', 'kind': 'supernet-gdas', 'C': C, 'N': N, 'inputChannels': in_ch,
                  'numClasses': classes, 'trackCellStats': True, 'mask': mask, 'batch': batch, 'H': H, 'W': W,
                  'alphaScale': 0.5, 'gumbelScale': 2.0, 'tau': tau, 'index': index.tolist(),
                  'logits': enc(logits), 'loss': loss.item(), 'alphaGrad': enc(alpha.grad),
                  'grads': {k: enc(p.grad) for k, p in net.named_parameters() if p.grad is not None}})
    write('nb201-forward', {
        'note': 'values from the deterministic recipe in the generator docstring; train-mode forward + CE '
                'backward, BN buffers after that step, then eval-mode logits', 'cases': cases})


if __name__ == '__main__':
    state_dict_keys()
    forward_goldens()
