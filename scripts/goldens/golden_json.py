"""Writes one committed golden file, test/goldens/<name>.json, the same way for every generator here:
compact JSON headed by the PyTorch version and the generator that made it, then a newline."""

import json
import os

import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
OUT_DIR = os.path.join(ROOT, 'test', 'goldens')


def write_golden(generator, name, doc):
    os.makedirs(OUT_DIR, exist_ok=True)
    doc = {'torch_version': torch.__version__, 'generator': generator, **doc}
    path = os.path.join(OUT_DIR, name + '.json')
    with open(path, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')
    print('wrote', os.path.relpath(path, ROOT), os.path.getsize(path), 'bytes')
