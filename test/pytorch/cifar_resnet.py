"""CIFAR ResNets of He et al. 2016 (section 4.2) in PyTorch, as resnetc's
frontend builds them (README.md, "CIFAR ResNets"), with the same parameter
names as torchvision's BasicBlock.

Stem: 3x3 convolution of 16 filters (`conv1`, no bias), `bn1`, ReLU; no max
pool. Three stages `layer1`..`layer3` of n BasicBlocks with 16, 32 and 64
planes (the first block of stages 2 and 3 has stride 2, on its `conv1`).
Shortcuts are option A of the paper: identity, and where the shape changes a
parameter-free shortcut that subsamples by 2 and pads the new channels with
zeros, half before and half after. Then a global average pool and `fc`.
"""
import torch.nn as nn
import torch.nn.functional as F

DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9,
          "resnet110": 18}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride,
                               padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.option_a = stride != 1 or in_planes != planes
        self.pad = planes // 4

    def shortcut(self, x):
        if not self.option_a:
            return x
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, n, num_classes=10):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, n, stride=1)
        self.layer2 = self._make_layer(32, n, stride=2)
        self.layer3 = self._make_layer(64, n, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

    def _make_layer(self, planes, blocks, stride):
        layers = []
        for i in range(blocks):
            layers.append(BasicBlock(self.in_planes, planes,
                                     stride if i == 0 else 1))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.avgpool(x).flatten(1)
        return self.fc(x)


def cifar_resnet(name, num_classes=10):
    """name: resnet20, resnet32, resnet44, resnet56 or resnet110."""
    return CifarResNet(DEPTHS[name], num_classes)
