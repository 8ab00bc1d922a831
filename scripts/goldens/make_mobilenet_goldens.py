#!/usr/bin/env python3
"""PyTorch references for the MobileNet (ProxylessNAS) space: the ReLU6 kernel, one MBConv block, and
the stand-alone network's state_dict names, parameter and multiply-add counts and forward/backward.

Regenerate (needs Python 3 with PyTorch; Debian's python3-torch 1.13 works):
    /usr/bin/python3 scripts/goldens/make_mobilenet_goldens.py          # from the repository root
Writes (committed; the tests only read them):
    test/goldens/relu6.json                  F.relu6 forward and gradient, values on both sides of both bounds
    test/goldens/mobilenet-state-dict-keys.json
                                             state_dict() names and shapes in order, parameter count and
                                             multiply-adds (forward hooks) of networks at a few sizes
    test/goldens/mobilenet-forward.json      a tiny network (width 0.25, 64×64) with deterministic weights:
                                             train-mode logits, CE loss, gradients (in full for a few
                                             tensors, sum and L2 norm for every parameter), BN
                                             buffers after that step (the same way), eval-mode logits; and one MBConv
                                             block (expand 6, 5×5 depthwise, stride 2) on its own

The modules below are written from the ProxylessNAS layer definitions (facts, not code): ConvLayer with
children conv/bn/act in "weight_bn_act" order, MBInvertedConvLayer with inverted_bottleneck (absent
for expand ratio 1), depth_conv and point_linear, each a Sequential of conv/bn(/act); blocks are
MobileInvertedResidualBlock(mobile_inverted_conv, shortcut) where the shortcut is an identity (no
state) exactly when stride is 1 and the channel count is unchanged, and a `zero` op leaves only the
shortcut; ProxylessNASNets = first_conv, blocks (a ModuleList: the fixed MBConv1 block, then the 21
searchable blocks), feature_mix_layer, global average pooling, classifier (LinearLayer: child
`linear`). BN eps 1e-3, momentum 0.1 (ProxylessNAS's bn_param). Channel counts use ProxylessNAS's
make_divisible(v * width_mult, 8); the feature-mix width is 1280 unless width_mult > 1.

Deterministic weights and inputs: the recipe of make_nb201_goldens.py (imported), which
test/search/nb201-recipe.ts implements too.
"""
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_nb201_goldens import unit_values, f32, fill_recipe, enc  # noqa: E402
from golden_json import write_golden  # noqa: E402

GENERATOR = 'scripts/goldens/make_mobilenet_goldens.py'

BN_EPS, BN_MOMENTUM = 1e-3, 0.1
WIDTHS = [24, 40, 80, 96, 192, 320]
DEPTHS = [4, 4, 4, 4, 4, 1]
STRIDES = [2, 2, 2, 1, 2, 1]


def write(name, doc):
    write_golden(GENERATOR, name, doc)


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = bn(cout)
        self.act = nn.ReLU6()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class MBInvertedConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        mid = round(cin * expand)
        if expand == 1:
            self.inverted_bottleneck = None
        else:
            self.inverted_bottleneck = nn.Sequential(OrderedDict([
                ('conv', nn.Conv2d(cin, mid, 1, 1, 0, bias=False)), ('bn', bn(mid)), ('act', nn.ReLU6())]))
        self.depth_conv = nn.Sequential(OrderedDict([
            ('conv', nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False)), ('bn', bn(mid)),
            ('act', nn.ReLU6())]))
        self.point_linear = nn.Sequential(OrderedDict([
            ('conv', nn.Conv2d(mid, cout, 1, 1, 0, bias=False)), ('bn', bn(cout))]))

    def forward(self, x):
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        return self.point_linear(self.depth_conv(x))


class Identity(nn.Module):
    def forward(self, x):
        return x


class Block(nn.Module):
    """MobileInvertedResidualBlock: op None stands for the zero op (only the shortcut remains)."""

    def __init__(self, op, identity):
        super().__init__()
        self.mobile_inverted_conv = op
        self.shortcut = Identity() if identity else None

    def forward(self, x):
        if self.mobile_inverted_conv is None:
            return x
        y = self.mobile_inverted_conv(x)
        return y + x if self.shortcut is not None else y


class LinearLayer(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Linear(cin, cout)

    def forward(self, x):
        return self.linear(x)


def parse_op(name):
    if name == 'zero':
        return None
    k, e = name.split('_MBConv')
    return int(k.split('x')[0]), int(e)


class ProxylessNASNets(nn.Module):
    def __init__(self, genotype, width_mult, in_ch, classes):
        super().__init__()
        c0 = make_divisible(32 * width_mult)
        c1 = make_divisible(16 * width_mult)
        self.first_conv = ConvLayer(in_ch, c0, 3, 2)
        blocks = [Block(MBInvertedConvLayer(c0, c1, 3, 1, 1), False)]
        cin, i = c1, 0
        for width, depth, stride in zip(WIDTHS, DEPTHS, STRIDES):
            cout = make_divisible(width * width_mult)
            for j in range(depth):
                s = stride if j == 0 else 1
                identity = s == 1 and cin == cout
                op = parse_op(genotype[i])
                assert op is not None or identity, 'zero on a block without a shortcut'
                blocks.append(Block(None if op is None else MBInvertedConvLayer(cin, cout, op[0], s, op[1]), identity))
                cin, i = cout, i + 1
        self.blocks = nn.ModuleList(blocks)
        last = make_divisible(1280 * width_mult) if width_mult > 1 else 1280
        self.feature_mix_layer = ConvLayer(cin, last, 1, 1)
        self.classifier = LinearLayer(last, classes)

    def forward(self, x):
        x = self.first_conv(x)
        for b in self.blocks:
            x = b(x)
        x = self.feature_mix_layer(x)
        return self.classifier(x.mean(dim=(2, 3)))


def count_macs(model, x):
    """Multiply-adds of one sample: conv Cout·OH·OW·(Cin/groups)·KH·KW, linear in·out (no BN, no adds)."""
    total = [0]

    def conv_hook(m, inp, out):
        total[0] += out.shape[1] * out.shape[2] * out.shape[3] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    model.eval()
    with torch.no_grad():
        model(x[:1])
    for h in hooks:
        h.remove()
    return total[0]


# 21 op names: every kind, a zero on each identity stage, the last block (no shortcut) a 7×7
MIXED = ['3x3_MBConv3', '5x5_MBConv6', 'zero', '7x7_MBConv3',
         '7x7_MBConv6', '3x3_MBConv6', '5x5_MBConv3', 'zero',
         '5x5_MBConv6', 'zero', '3x3_MBConv3', '7x7_MBConv3',
         '3x3_MBConv6', '5x5_MBConv3', 'zero', '7x7_MBConv6',
         '5x5_MBConv6', '3x3_MBConv3', 'zero', '7x7_MBConv3',
         '7x7_MBConv6']
ALL_6_3X3 = ['3x3_MBConv6'] * 21
FULL_GRADS = {'first_conv.conv.weight', 'first_conv.bn.weight', 'blocks.0.mobile_inverted_conv.depth_conv.conv.weight',
              'blocks.1.mobile_inverted_conv.inverted_bottleneck.conv.weight',
              'blocks.1.mobile_inverted_conv.depth_conv.bn.bias',
              'blocks.5.mobile_inverted_conv.depth_conv.conv.weight',
              'blocks.2.mobile_inverted_conv.point_linear.conv.weight',
              'blocks.21.mobile_inverted_conv.point_linear.bn.weight',
              'feature_mix_layer.bn.bias', 'classifier.linear.bias'}
FULL_BUFFERS = ('first_conv.bn.', 'blocks.1.mobile_inverted_conv.depth_conv.bn.', 'blocks.21.mobile_inverted_conv.point_linear.bn.')


def relu6_golden():
    n = 48
    x = f32([5 * u + 2.5 for u in unit_values('relu6 x', n)], [n])
    x[0], x[1], x[2], x[3] = 0.0, 6.0, -0.5, 6.5
    x.requires_grad_()
    y = F.relu6(x)
    dy = f32(unit_values('relu6 dy', n), [n])
    y.backward(dy)
    write('relu6', {'note': 'F.relu6 forward and input gradient for upstream dy (x includes 0 and 6 exactly)',
                    'cases': [{'name': 'relu6', 'tensors': {'x': enc(x), 'y': enc(y), 'dy': enc(dy), 'dx': enc(x.grad)}}]})


def state_dict_keys():
    configs = []
    for genotype, width_mult, res, in_ch, classes in [(MIXED, 1.0, 224, 3, 1000), (ALL_6_3X3, 1.0, 224, 3, 1000),
                                                       (MIXED, 0.5, 64, 1, 10), (MIXED, 1.4, 32, 3, 100)]:
        m = ProxylessNASNets(genotype, width_mult, in_ch, classes)
        macs = count_macs(m, torch.zeros(1, in_ch, res, res))
        configs.append({'genotype': genotype, 'widthMult': width_mult, 'resolution': res, 'inputChannels': in_ch,
                        'numClasses': classes, 'params': sum(p.numel() for p in m.parameters()), 'macs': macs,
                        'keys': [[k, list(v.shape)] for k, v in m.state_dict().items()]})
    write('mobilenet-state-dict-keys', {
        'note': 'state_dict() names and shapes in order; params = sum of parameter numel; macs = conv and linear '
                'multiply-adds of one sample at the resolution (forward hooks)', 'configs': configs})


def forward_goldens():
    cases = []
    # 64×64: the last stages are 2×2, so training-mode BN normalises over 16 values per channel (at
    # 32×32 only 4, which amplifies f32 rounding past any useful tolerance)
    batch, res, in_ch, classes, width_mult = 4, 64, 3, 5, 0.25
    net = ProxylessNASNets(MIXED, width_mult, in_ch, classes).double()
    fill_recipe(net)
    x = f32([2 * u for u in unit_values('input', batch * in_ch * res * res)], [batch, in_ch, res, res])
    y = torch.tensor([i % classes for i in range(batch)])
    net.train()
    logits = net(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    # full gradients for a few tensors (every kind of layer), norms and sums for all (keeps the file small)
    grads = {k: enc(p.grad) for k, p in net.named_parameters() if k in FULL_GRADS}
    grad_stats = {k: [p.grad.sum().item(), p.grad.norm().item()] for k, p in net.named_parameters()}
    buffers = {k: enc(v) for k, v in net.state_dict().items() if 'running' in k and k.startswith(FULL_BUFFERS)}
    buffer_stats = {k: [v.sum().item(), v.norm().item()] for k, v in net.state_dict().items() if 'running' in k}
    net.eval()
    with torch.no_grad():
        eval_logits = net(x)
    cases.append({'name': 'network', 'genotype': MIXED, 'widthMult': width_mult, 'inputChannels': in_ch,
                  'numClasses': classes, 'batch': batch, 'resolution': res, 'inputScale': 2,
                  'logits': enc(logits), 'loss': loss.item(), 'grads': grads, 'gradStats': grad_stats, 'buffers': buffers,
                  'bufferStats': buffer_stats,
                  'evalLogits': enc(eval_logits)})

    # one MBConv block on its own: expand 6, 5×5 depthwise, stride 2, 8 → 16 channels, 9×9 input
    blk = Block(MBInvertedConvLayer(8, 16, 5, 2, 6), False).double()
    fill_recipe(blk)
    xb = f32([3 * u for u in unit_values('block input', 2 * 8 * 9 * 9)], [2, 8, 9, 9]).requires_grad_()
    blk.train()
    out = blk(xb)
    dy = f32(unit_values('block dy', out.numel()), list(out.shape))
    out.backward(dy)
    cases.append({'name': 'block 5x5_MBConv6 stride 2', 'op': '5x5_MBConv6', 'cin': 8, 'cout': 16, 'stride': 2,
                  'inputScale': 3, 'input': [2, 8, 9, 9], 'out': enc(out), 'dx': enc(xb.grad),
                  'grads': {k: enc(p.grad) for k, p in blk.named_parameters()}})
    write('mobilenet-forward', {
        'note': 'weights from the deterministic recipe (make_nb201_goldens.py); network: train-mode forward + CE '
                'backward, BN buffers after that step, then eval-mode logits; block: forward and backward of '
                'sum(out * dy)', 'cases': cases})


if __name__ == '__main__':
    relu6_golden()
    state_dict_keys()
    forward_goldens()
