"""Input normalisation in front of a model, without changing its layer names.

torchvision and timm models expect ``(x - mean) / std`` done outside the model. Wrapping
the model in a module would prefix every layer name (``model.layer1.0.conv1``);
:func:`with_normalization` instead returns a copy with a forward pre-hook, so the
copy takes images in [0, 1] and its layers keep the names the model has.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["NORMALIZATIONS", "parse_normalization", "with_normalization"]

#: Named per-channel (mean, std) presets.
NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


def parse_normalization(
    spec: str | tuple[Sequence[float], Sequence[float]] | None,
) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """``"imagenet"``, ``"cifar10"``, ``"none"``/None, or ``"M1,M2,M3,S1,S2,S3"`` (or a pair).

    Args:
        spec: a preset name, ``"none"``, comma-separated means then stds (as many
            stds as means), or a ``(mean, std)`` pair of sequences.

    Returns:
        ``(mean, std)`` as tuples of floats, or None for no normalisation.

    Raises:
        SpectralTypeError: ``spec`` of another type.
        SpectralValueError: an unknown name, an odd number of values, a non-number,
            or a std that is not > 0.

    Examples:
        >>> parse_normalization("imagenet")[0]
        (0.485, 0.456, 0.406)
        >>> parse_normalization("0.5,0.5,0.5,0.25,0.25,0.25")
        ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
        >>> parse_normalization("none") is None
        True
    """
    if spec is None:
        return None
    if isinstance(spec, tuple) and len(spec) == 2:
        mean, std = (tuple(float(v) for v in part) for part in spec)
    elif isinstance(spec, str):
        key = spec.strip().lower()
        if key in ("", "none"):
            return None
        if key in NORMALIZATIONS:
            return NORMALIZATIONS[key]
        try:
            values = tuple(float(v) for v in key.split(","))
        except ValueError:
            raise SpectralValueError(
                f"normalize: expected one of {sorted(NORMALIZATIONS)}, 'none' or "
                f"'MEAN,...,STD,...', got {spec!r}"
            ) from None
        if len(values) % 2:
            raise SpectralValueError(
                f"normalize: expected as many stds as means, got {len(values)} values"
            )
        half = len(values) // 2
        mean, std = values[:half], values[half:]
    else:
        raise SpectralTypeError(
            f"normalize: expected a str or a (mean, std) pair, got {type(spec).__name__}"
        )
    if len(mean) != len(std) or not mean:
        raise SpectralValueError("normalize: mean and std need the same, non-zero length")
    if any(not s > 0 for s in std):
        raise SpectralValueError(f"normalize: every std must be > 0, got {std}")
    return mean, std


class _NormalizedScript(nn.Module):
    """``model((x - mean) / std)`` for a TorchScript ``model``, under ``model``'s names.

    A ScriptModule takes no forward pre-hook, so it is wrapped; ``named_modules`` and
    ``get_submodule`` answer with the wrapped model's own names (``"conv1"``, not
    ``"model.conv1"``), so layers stay addressable as in the model.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.training = model.training

    def forward(self, x: torch.Tensor) -> Any:
        """Normalise ``x`` and run the model."""
        return self.model(_normalized(x, self.mean, self.std))

    def named_modules(
        self, memo: set[nn.Module] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, nn.Module]]:
        """This wrapper as the root, then the model's modules under their own names."""
        yield prefix, self
        for name, m in self.model.named_modules(memo, prefix, remove_duplicate):
            if name != prefix:
                yield name, m

    def get_submodule(self, target: str) -> nn.Module:
        """The model's module ``target`` (``""``: this wrapper)."""
        if not target:
            return self
        modules = dict(self.model.named_modules())
        if target not in modules:
            raise AttributeError(f"no submodule {target!r}")
        return modules[target]


def _normalized(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    if x.dim() != 4 or x.shape[1] != mean.shape[1]:
        raise SpectralValueError(
            f"normalize: the model's input has {x.shape[1] if x.dim() > 1 else '?'} "
            f"channels, the normalisation {mean.shape[1]}"
        )
    m = mean.to(device=x.device, dtype=x.dtype)
    s = std.to(device=x.device, dtype=x.dtype)
    return (x - m) / s


def with_normalization(model: nn.Module, normalize: Any) -> nn.Module:
    """A copy of ``model`` that normalises its input first; layer names stay as they are.

    The copy gets a forward pre-hook computing ``(x - mean) / std`` per channel, so it
    takes images in [0, 1] while its modules (``named_modules``) are exactly the
    model's (a ``torch.export`` module too: its graph's layer names stay). A TorchScript
    model takes no hooks; it is wrapped in a module that normalises and whose
    ``named_modules``/``get_submodule`` give the model's own names. The given model is
    not changed.

    Args:
        model: the classifier.
        normalize: anything :func:`parse_normalization` takes; ``None``/``"none"``
            returns ``model`` itself.

    Returns:
        The normalising copy (or ``model``).

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``.
        SpectralValueError: a bad ``normalize``, or (at call time) an input whose
            channel count differs from the mean's.

    Shape:
        - input of the copy: :math:`(B, C, H, W)` in [0, 1], ``C = len(mean)``

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.Flatten())
        >>> normed = with_normalization(net, "imagenet")
        >>> [n for n, _ in normed.named_modules()] == [n for n, _ in net.named_modules()]
        True
        >>> x = torch.rand(1, 3, 4, 4)
        >>> mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        >>> std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        >>> torch.allclose(normed(x), net((x - mean) / std))
        True
    """
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    parsed = parse_normalization(normalize)
    if parsed is None:
        return model
    mean_t = torch.tensor(parsed[0], dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(parsed[1], dtype=torch.float32).view(1, -1, 1, 1)
    if isinstance(model, torch.jit.ScriptModule):
        return _NormalizedScript(copy.deepcopy(model), mean_t, std_t)
    out = copy.deepcopy(model)

    def normalize_input(_: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x, *rest = args
        return (_normalized(x, mean_t, std_t), *rest)

    out.register_forward_pre_hook(normalize_input)
    return out
