#!/usr/bin/env python3
"""Write PyTorch reference values ("goldens") for the engine's kernels to test/goldens/*.json.

Regenerate (needs Python 3 with PyTorch; Debian's python3-torch 1.13 works):
    /usr/bin/python3 scripts/goldens/make_goldens.py          # from the repository root
The files are committed; the tests (test/engine/cpu-goldens.test.ts) only read them, so running the
test suite never needs Python. Regenerating with the same torch version gives the same files.

Conventions of every file:
  - {"torch_version": ..., "generator": ..., "note": ..., "cases": [...]}; each case has a "name",
    its hyper-parameters, and "tensors": {name: {"shape": [...], "data": [flat row-major values]}}.
  - Inputs are drawn from a seeded generator and rounded to 4 decimals, then converted to float32:
    the f32 value a test gets by parsing the JSON number is exactly the value PyTorch was given.
  - PyTorch then computes in float64 from those float32 values (so the goldens carry no f32
    rounding noise of their own), and outputs are written with 7 significant digits.
  - Layouts are PyTorch's: NCHW images, conv weights [Cout, Cin/groups, KH, KW].
"""
import json
import os

import torch
import torch.nn.functional as F

from golden_json import write_golden

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
OUT_DIR = os.path.join(ROOT, 'test', 'goldens')
GENERATOR = 'scripts/goldens/make_goldens.py'

torch.manual_seed(1234)


def inp(*shape, scale=1.0, offset=0.0):
    """A float64 tensor holding float32 values with short decimal forms (requires_grad off)."""
    t = torch.randn(*shape, dtype=torch.float64) * scale + offset
    t = torch.round(t * 10000) / 10000
    return t.float().double()


def enc(t):
    """A tensor as {"shape", "data"}: flat row-major values to 7 significant digits (integers stay integers)."""
    data = []
    for v in t.detach().double().reshape(-1).tolist():
        r = float('%.7g' % v)
        data.append(int(r) if r.is_integer() and abs(r) < 2 ** 31 else r)
    return {'shape': list(t.shape), 'data': data}


def tensors(**named):
    return {name: enc(t) for name, t in named.items()}


def write(name, cases, note):
    write_golden(GENERATOR, name, {'note': note, 'cases': cases})


def conv_cases():
    specs = [
        # name, N, Cin, H, W, Cout, K, stride, pad, dil, groups, bias
        ('plain 3x3 pad 1', 2, 3, 5, 6, 4, 3, 1, 1, 1, 1, True),
        ('stride 2 pad 1', 2, 3, 7, 6, 4, 3, 2, 1, 1, 1, False),
        ('dilation 2 pad 2', 1, 2, 7, 7, 3, 3, 1, 2, 2, 1, True),
        ('groups 2', 2, 4, 5, 5, 6, 3, 1, 1, 1, 2, False),
        ('depthwise stride 2', 2, 4, 6, 5, 4, 3, 2, 1, 1, 4, True),
        ('pointwise 1x1', 2, 3, 4, 4, 5, 1, 1, 0, 1, 1, True),
    ]
    cases = []
    for name, N, Cin, H, W, Cout, K, s, p, d, g, has_bias in specs:
        x = inp(N, Cin, H, W).requires_grad_()
        w = inp(Cout, Cin // g, K, K, scale=0.5).requires_grad_()
        b = inp(Cout).requires_grad_() if has_bias else None
        y = F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        dy = inp(*y.shape)
        y.backward(dy)
        t = dict(x=x, w=w, y=y, dy=dy, dx=x.grad, dw=w.grad)
        if has_bias:
            t.update(b=b, db=b.grad)
        cases.append({'name': name, 'stride': s, 'padding': p, 'dilation': d, 'groups': g,
                      'bias': has_bias, 'tensors': tensors(**t)})
    write('conv2d', cases, 'F.conv2d forward, input/weight/bias gradients for upstream gradient dy')


def batch_norm_cases():
    cases = []
    eps, momentum = 1e-5, 0.1
    for affine in (True, False):
        N, C, H, W = 3, 2, 3, 3
        x = inp(N, C, H, W, offset=0.5).requires_grad_()
        gamma = inp(C, scale=0.3, offset=1.0).requires_grad_() if affine else None
        beta = inp(C, scale=0.3).requires_grad_() if affine else None
        rm0 = inp(C, scale=0.2)
        rv0 = inp(C, scale=0.1, offset=1.0)
        rm, rv = rm0.clone(), rv0.clone()
        y = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=momentum, eps=eps)
        dy = inp(*y.shape)
        y.backward(dy)
        xd = x.detach()
        mean = xd.mean(dim=(0, 2, 3))
        inv_std = 1 / torch.sqrt(xd.var(dim=(0, 2, 3), unbiased=False) + eps)
        t = dict(x=x, running_mean=rm0, running_var=rv0, y=y, save_mean=mean, save_inv_std=inv_std,
                 new_running_mean=rm, new_running_var=rv, dy=dy, dx=x.grad)
        if affine:
            t.update(gamma=gamma, beta=beta, dgamma=gamma.grad, dbeta=beta.grad)
        cases.append({'name': 'train affine' if affine else 'train non-affine', 'training': True,
                      'affine': affine, 'eps': eps, 'momentum': momentum, 'tensors': tensors(**t)})
    for affine in (True, False):
        N, C, H, W = 2, 3, 2, 3
        x = inp(N, C, H, W).requires_grad_()
        gamma = inp(C, scale=0.3, offset=1.0).requires_grad_() if affine else None
        beta = inp(C, scale=0.3).requires_grad_() if affine else None
        rm = inp(C, scale=0.3)
        rv = inp(C, scale=0.2, offset=1.0).abs()
        y = F.batch_norm(x, rm, rv, gamma, beta, training=False, momentum=momentum, eps=eps)
        dy = inp(*y.shape)
        y.backward(dy)
        t = dict(x=x, running_mean=rm, running_var=rv, y=y, dy=dy, dx=x.grad)
        if affine:
            t.update(gamma=gamma, beta=beta, dgamma=gamma.grad, dbeta=beta.grad)
        cases.append({'name': 'eval affine' if affine else 'eval non-affine', 'training': False,
                      'affine': affine, 'eps': eps, 'momentum': momentum, 'tensors': tensors(**t)})
    write('batch_norm', cases, 'F.batch_norm per channel over N,H,W; training cases update the running '
          'statistics in place (new_running_*); save_mean/save_inv_std = batch mean and 1/sqrt(biased var + eps)')


def pool_cases():
    specs = [
        # name, kind, N, C, H, W, k, stride, pad, count_include_pad
        ('avg 3x3 s1 p1 count_include_pad=False', 'avg', 2, 2, 5, 6, 3, 1, 1, False),
        ('avg 3x3 s1 p1 count_include_pad=True', 'avg', 2, 2, 5, 6, 3, 1, 1, True),
        ('avg 2x2 s2', 'avg', 2, 2, 6, 5, 2, 2, 0, True),
        ('max 3x3 s2 p1', 'max', 2, 2, 7, 6, 3, 2, 1, False),
    ]
    cases = []
    for name, kind, N, C, H, W, k, s, p, cip in specs:
        x = inp(N, C, H, W).requires_grad_()
        if kind == 'avg':
            y = F.avg_pool2d(x, k, stride=s, padding=p, count_include_pad=cip)
        else:
            y = F.max_pool2d(x, k, stride=s, padding=p)
        dy = inp(*y.shape)
        y.backward(dy)
        cases.append({'name': name, 'kind': kind, 'kernel': k, 'stride': s, 'padding': p,
                      'count_include_pad': cip, 'tensors': tensors(x=x, y=y, dy=dy, dx=x.grad)})
    write('pool2d', cases, 'F.avg_pool2d / F.max_pool2d forward and input gradient')


def softmax_cases():
    cases = []
    for log in (False, True):
        x = inp(3, 5, scale=1.5).requires_grad_()
        y = F.log_softmax(x, dim=1) if log else F.softmax(x, dim=1)
        dy = inp(*y.shape)
        y.backward(dy)
        cases.append({'name': 'log_softmax' if log else 'softmax', 'log': log,
                      'tensors': tensors(x=x, y=y, dy=dy, dx=x.grad)})
    write('softmax', cases, 'softmax / log_softmax over the last axis of [rows, cols]')


def cross_entropy_cases():
    cases = []
    for smoothing in (0.0, 0.1):
        logits = inp(4, 5, scale=2.0).requires_grad_()
        labels = torch.tensor([3, 0, 4, 3])
        loss = F.cross_entropy(logits, labels, reduction='mean', label_smoothing=smoothing)
        dloss = torch.tensor(1.3, dtype=torch.float64)
        loss.backward(dloss)
        probs = F.softmax(logits.detach(), dim=1)
        cases.append({'name': 'label_smoothing %g' % smoothing, 'label_smoothing': smoothing,
                      'tensors': tensors(logits=logits, labels=labels.double(), loss=loss.reshape(1),
                                         probs=probs, dloss=dloss.reshape(1), dlogits=logits.grad)})
    write('cross_entropy', cases, 'F.cross_entropy (mean) with label smoothing; dlogits for upstream gradient dloss')


def optimizer_cases():
    cases = []
    steps = 3
    # SGD, momentum 0.9, nesterov, weight decay 5e-4
    p0 = inp(6)
    grads = [inp(6) for _ in range(steps)]
    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0, nesterov=True, weight_decay=5e-4)
    after = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        after.append(p.detach().clone())
    cases.append({'name': 'sgd nesterov', 'optimizer': 'sgd', 'lr': 0.1, 'momentum': 0.9, 'dampening': 0,
                  'nesterov': True, 'weight_decay': 5e-4, 'steps': steps,
                  'tensors': tensors(param0=p0, grads=torch.stack(grads), params_after=torch.stack(after))})
    # Adam, betas (0.5, 0.999), weight decay 1e-3
    p0 = inp(6)
    grads = [inp(6) for _ in range(steps)]
    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.Adam([p], lr=0.01, betas=(0.5, 0.999), eps=1e-8, weight_decay=1e-3)
    after = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        after.append(p.detach().clone())
    cases.append({'name': 'adam', 'optimizer': 'adam', 'lr': 0.01, 'beta1': 0.5, 'beta2': 0.999, 'eps': 1e-8,
                  'weight_decay': 1e-3, 'steps': steps,
                  'tensors': tensors(param0=p0, grads=torch.stack(grads), params_after=torch.stack(after))})
    write('optim', cases, 'torch.optim.SGD / Adam: grads[t] is the gradient of step t+1, params_after[t] the '
          'parameters after it')


# ---- the dropout hash, implemented independently of src/engine/cpu/hash.ts ----------------------

M32 = 0xFFFFFFFF


def mix32(x):
    x ^= x >> 16
    x = (x * 0x7feb352d) & M32
    x ^= x >> 15
    x = (x * 0x846ca68b) & M32
    x ^= x >> 16
    return x


def hash_u32(seed, i):
    k = mix32((seed + 0x9e3779b9) & M32)
    return mix32((mix32((i ^ k) & M32) + k) & M32)


def hash_cases():
    seeds = [0, 1, 42, 0x9e3779b9, 0xFFFFFFFF, 123456789]
    indices = [0, 1, 2, 3, 1000, 65535, 65536, 2 ** 31, 2 ** 32 - 1]
    rows = []
    for s in seeds:
        for i in indices:
            h = hash_u32(s, i)
            rows.append({'seed': s, 'i': i, 'u32': h, 'uniform': (h >> 8) / 16777216})
    doc = {'generator': GENERATOR, 'note': 'dropout hash of src/engine/cpu/hash.ts, computed by an independent '
           'Python implementation; uniform = (u32 >> 8) / 2^24 exactly', 'values': rows}
    path = os.path.join(OUT_DIR, 'hash_uniform.json')
    with open(path, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')
    print('wrote', os.path.relpath(path, ROOT), os.path.getsize(path), 'bytes')


def main():
    conv_cases()
    batch_norm_cases()
    pool_cases()
    softmax_cases()
    cross_entropy_cases()
    optimizer_cases()
    hash_cases()


if __name__ == '__main__':
    main()
