"""Models nobody here wrote, rebuilt small and without downloads, for the "bring your own
model" tests (``foreign_models:resnet`` etc. as ``--model`` factories).

- :func:`resnet`: torchvision's ResNet layout (names ``conv1``, ``bn1``, ``relu``,
  ``maxpool``, ``layer1.0.conv1``, ..., ``fc``), a 7x7 stride-2 stem and BasicBlocks
  that call one ``ReLU`` twice (a shared module), any input size.
- :func:`vit`: a ViT with a strided patch-embedding conv (``patch_embed.proj``), a class
  token, learned position embeddings (so it only takes its own image size and asserts
  it, as timm's do) and GELU MLPs.

:func:`scripted` and :func:`exported` save either as TorchScript / ``torch.export``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: ``self.relu`` runs twice per forward pass."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet layout and names: 7x7 stem, stages ``layer1``.. of BasicBlocks.

    ``blocks=(2, 2, 2, 2)`` with ``width=64`` is ResNet-18 (11.2 M parameters with 1000
    classes); the default is a two-stage model small enough for tests.
    """

    def __init__(
        self, width: int = 16, num_classes: int = 10, blocks: tuple[int, ...] = (1, 1)
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = width
        for i, n in enumerate(blocks):
            cout = width * 2**i
            stage = [
                BasicBlock(cin if j == 0 else cout, cout, 2 if i and not j else 1) for j in range(n)
            ]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
            cin = cout
        for i in range(len(blocks), 4):  # absent stages: identities (scriptable forward)
            self.add_module(f"layer{i + 1}", nn.Identity())
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class PatchEmbed(nn.Module):
    """timm's PatchEmbed: a conv with kernel = stride = patch, checking the image size."""

    def __init__(self, image_size: int, patch: int, dim: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.proj = nn.Conv2d(3, dim, patch, patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert(
            x.shape[-1] == self.image_size and x.shape[-2] == self.image_size,
            "Input image size doesn't match model",
        )
        return self.proj(x).flatten(2).transpose(1, 2)


class Block(nn.Module):
    """Pre-norm transformer block with a GELU MLP."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """A one-block ViT for ``image_size`` inputs only."""

    def __init__(
        self, image_size: int = 32, patch: int = 8, dim: int = 32, num_classes: int = 10
    ) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(image_size, patch, dim)
        n = (image_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(Block(dim, 2))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def resnet() -> ResNet:
    """Seeded random-weight ResNet (width 16, 10 classes), any input size."""
    torch.manual_seed(0)
    return ResNet()


def resnet18() -> ResNet:
    """Seeded random-weight ResNet-18 (torchvision's shapes, 10 classes), any input size."""
    torch.manual_seed(0)
    return ResNet(width=64, blocks=(2, 2, 2, 2))


def vit() -> ViT:
    """Seeded random-weight ViT for 32x32 inputs (patch 8)."""
    torch.manual_seed(0)
    return ViT()


def vit224() -> ViT:
    """Seeded random-weight ViT for 224x224 inputs (patch 16, as ViT-B/16)."""
    torch.manual_seed(0)
    return ViT(image_size=224, patch=16)


def scripted(model: nn.Module, path: Path) -> Path:
    """Save ``model`` (in eval mode) as TorchScript at ``path``."""
    torch.jit.script(model.eval()).save(str(path))
    return path


def exported(model: nn.Module, path: Path, size: int = 32) -> Path:
    """Save ``model`` (in eval mode) as a ``torch.export`` archive for ``size`` inputs.

    The batch dimension is dynamic, so any number of images runs.
    """
    x = torch.rand(2, 3, size, size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    ep = torch.export.export(model.eval(), (x,), dynamic_shapes=({0: batch},))
    torch.export.save(ep, str(path))
    return path
