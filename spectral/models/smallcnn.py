"""The zoo's architecture: a small VGG-style CNN with input normalisation inside."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from spectral.errors import SpectralValueError

__all__ = ["BUILTIN_MEAN", "BUILTIN_STD", "Normalize", "SmallCNN"]


#: Per-channel mean and std of the built-in training split (seed 0).
BUILTIN_MEAN = (0.4661, 0.3915, 0.3602)


BUILTIN_STD = (0.2510, 0.2145, 0.2147)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, so the model takes images in [0, 1]."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` ``(B, C, H, W)``; other channel counts are refused, not broadcast."""
        if x.dim() != 4 or x.shape[1] != self.mean.shape[1]:
            raise ValueError(
                "Normalize: expected (B, "
                + str(self.mean.shape[1])
                + ", H, W) images, got shape "
                + str(list(x.shape))
            )
        return (x - self.mean) / self.std


class SmallCNN(nn.Module):
    """A small VGG-style CNN whose first layers are 3x3 convolutions (the zoo's architecture).

    ``normalize -> stage 1 -> maxpool -> stage 2 -> maxpool -> stage 3 -> global average
    pool -> linear``, where stage ``s`` is ``blocks[s]`` layers of conv3x3-BN-ReLU with
    ``width * 2**s`` channels. The default ``blocks=(2, 2, 1)`` is the original 5-conv
    network; the CIFAR-10 zoo uses ``width=64, blocks=(2, 2, 2)``. Module names are stable
    and numbered through the stages (``features.conv1`` is the first conv layer,
    ``features.relu1`` its activation, ``features.pool1``/``pool2`` the pools), so analyses
    can address layers by name.

    Args:
        num_classes: number of outputs.
        width: channels of the first stage (doubled in each later stage).
        mean: per-channel mean for the built-in :class:`Normalize`.
        std: per-channel std for the built-in :class:`Normalize`.
        blocks: conv layers per stage (three stages, each >= 1).

    Raises:
        SpectralValueError: ``blocks`` is not three ints >= 1, or ``width`` < 1.
    """

    def __init__(
        self,
        num_classes: int = 10,
        width: int = 32,
        mean: Sequence[float] = BUILTIN_MEAN,
        std: Sequence[float] = BUILTIN_STD,
        blocks: Sequence[int] = (2, 2, 1),
    ) -> None:
        super().__init__()
        blocks = tuple(blocks)
        if len(blocks) != 3 or any(
            isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in blocks
        ):
            raise SpectralValueError(f"blocks: expected three ints >= 1, got {blocks!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise SpectralValueError(f"width: expected an int >= 1, got {width!r}")
        layers: list[tuple[str, nn.Module]] = []
        cin, i = 3, 0
        for stage, n in enumerate(blocks):
            if stage:
                layers.append((f"pool{stage}", nn.MaxPool2d(2)))
            cout = width * 2**stage
            for _ in range(n):
                i += 1
                layers += [
                    (f"conv{i}", nn.Conv2d(cin, cout, 3, padding=1, bias=False)),
                    (f"bn{i}", nn.BatchNorm2d(cout)),
                    (f"relu{i}", nn.ReLU()),
                ]
                cin = cout
        layers += [("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
        self.normalize = Normalize(mean, std)
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for images ``(B, 3, H, W)`` in [0, 1]."""
        return self.classifier(self.features(self.normalize(x)))
