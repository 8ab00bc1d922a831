"""The DARTS space's PyTorch building blocks, shared by the evaluation network's goldens
(make_darts_goldens.py: affine BNs) and the search supernet's (make_darts_supernet_goldens.py:
non-affine BNs, as the search model has). Child names follow the reference, so state_dict keys are
its keys."""
import torch
import torch.nn as nn


class ReLUConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride, pad, affine=True):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(cin, cout, k, stride, pad, bias=False),
                                nn.BatchNorm2d(cout, affine=affine))

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    def __init__(self, cin, cout, k, stride, pad, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False), nn.Conv2d(cin, cin, k, stride, pad, groups=cin, bias=False),
            nn.Conv2d(cin, cin, 1, bias=False), nn.BatchNorm2d(cin, affine=affine),
            nn.ReLU(inplace=False), nn.Conv2d(cin, cin, k, 1, pad, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout, affine=affine))

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    def __init__(self, cin, cout, k, stride, pad, dil, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False), nn.Conv2d(cin, cin, k, stride, pad, dilation=dil, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout, affine=affine))

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    def __init__(self, cin, cout, affine=True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(cout, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class Identity(nn.Module):
    def forward(self, x):
        return x


def conv_op(name, C, stride, affine=True):
    """sep_conv_KxK / dil_conv_KxK at `stride` (padding keeps the plane size at stride 1)."""
    k = int(name[-1])
    if name.startswith('sep_conv'):
        return SepConv(C, C, k, stride, k // 2, affine)
    return DilConv(C, C, k, stride, k - 1, 2, affine)
