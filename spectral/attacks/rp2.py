"""RP2 (Eykholt et al. 2018): masked physical-sticker perturbations."""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spectral._internal.validate import (
    check_float,
    check_images,
    check_int,
    check_labels,
    check_model,
)
from spectral.attacks._wrap import _LeftAsFound
from spectral.errors import SpectralTypeError, SpectralValueError


class _StickerAttack(_LeftAsFound):
    """What RP2 and UniversalRP2 share: option checks, the mask, the attacked batch."""

    def _setup(
        self,
        name: str,
        model: nn.Module,
        mask: torch.Tensor | None,
        *,
        eps: float | None,
        lam: float,
        p: float,
        steps: int,
        lr: float,
        n_transforms: int,
        seed: int,
    ) -> None:
        check_model(model)
        self.mask = _check_mask(mask)
        self.eps = None if eps is None else check_float(eps, "eps")
        self.lam = check_float(lam, "lam", strict=False)
        self.p = check_float(p, "p", minimum=1.0, strict=False) if p != math.inf else math.inf
        self.steps = check_int(steps, "steps", 1)
        self.lr = check_float(lr, "lr")
        self.n_transforms = check_int(n_transforms, "n_transforms", 1)
        self.seed = check_int(seed, "seed", 0)
        with contextlib.redirect_stdout(io.StringIO()):
            super().__init__(name, model)
        self.supported_mode = ["default", "targeted"]
        self.set_mode_targeted_by_label(quiet=True)

    def _victims(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The checked images and the labels to optimise for (the targets in targeted mode)."""
        check_images(images, "images", unit_range=True)
        check_labels(labels, images, "labels")
        device = self.device if self.device is not None else images.device
        x = images.detach().to(device)
        y = labels.detach().to(device)
        return x, (self.get_target_label(x, y) if self.targeted else y)

    def _mask_for(self, x: torch.Tensor) -> torch.Tensor:
        """The mask broadcast to ``x``'s shape, in ``x``'s dtype and device."""
        if self.mask is None:
            return torch.ones_like(x)
        m = self.mask
        if m.ndim == 2:
            m = m[None, None]
        elif m.ndim == 3:
            m = m[None]
        mb, mc, mh, mw = m.shape
        b, c, h, w = x.shape
        if (mh, mw) != (h, w) or mc not in (1, c) or mb not in (1, b):
            raise SpectralValueError(
                f"mask: expected a shape broadcastable to the images {tuple(x.shape)} "
                f"((H, W), (1|C, H, W) or (1|B, 1|C, H, W)), got {tuple(self.mask.shape)}"
            )
        return m.to(device=x.device, dtype=x.dtype).expand(b, c, h, w)


class RP2(_StickerAttack):
    r"""Robust Physical Perturbations (Eykholt et al., CVPR 2018), as in the BlurNet slides.

    Finds a perturbation ``delta`` confined to a mask ``M`` (a "sticker") that makes the
    model predict the target class ``y*`` under random physical-looking changes:

    .. math::
        \arg\min_\delta \; \lambda \|M \cdot \delta\|_p
        + \mathbb{E}_{T}\, \mathrm{CE}\big(f(\mathrm{clip}(x + T(M \cdot \delta))), y^*\big)

    ``T`` is a random small affine map of the masked perturbation (rotation up to
    ``±max_rotation`` degrees, scale in ``[1 - max_scale, 1 + max_scale]``, shift up to
    ``max_translate`` pixels; ``F.affine_grid`` / ``F.grid_sample`` with zero padding)
    followed by a random brightness factor in ``[1 - brightness, 1 + brightness]`` on the
    composite image. The expectation is a mean over ``n_transforms`` draws per image per
    step; ``delta`` is optimised with Adam. After each step ``delta`` is clamped to
    ``[-eps, eps]`` (when ``eps`` is given) and so that ``x + delta`` stays in ``[0, 1]``.

    The returned image is ``clip(x + M * delta)`` with no transform: it equals ``x``
    exactly where the mask is 0, and lies in ``[0, 1]``. The attack starts in targeted
    mode (``set_mode_targeted_by_label``): ``atk(images, target_labels)``. After
    ``set_mode_default()`` it is untargeted (maximises the cross-entropy of the given
    true labels). Random draws come from a local ``torch.Generator`` seeded with ``seed``
    at each call, so a call is deterministic and the global RNG is untouched.

    Args:
        model: classifier on images in ``[0, 1]`` returning logits.
        mask: binary tensor of shape ``(H, W)``, ``(1, H, W)``, ``(C, H, W)`` or
            ``(B, C, H, W)`` (``B`` and ``C`` may also be 1); ``None`` = whole image.
        eps: optional L-inf bound on ``delta`` (> 0).
        lam: weight ``lambda >= 0`` of the perturbation norm.
        p: the norm's order, ``>= 1`` or ``float("inf")`` (per image, over ``C, H, W``).
        steps: Adam steps (>= 1).
        lr: Adam learning rate (> 0).
        n_transforms: transformations sampled per image and step (>= 1).
        max_rotation: largest rotation in degrees (>= 0).
        max_scale: largest relative scale change, in ``[0, 1)``.
        max_translate: largest shift in pixels (>= 0).
        brightness: largest relative brightness change, in ``[0, 1)``.
        seed: seed of the local generator.

    Raises:
        SpectralTypeError: ``model`` not an ``nn.Module``; ``mask`` not a tensor.
        SpectralValueError: invalid option values; a mask of another dimension count or
            with values other than 0 and 1; at call time a mask whose shape does not fit
            the images, or images outside ``[0, 1]``.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> mask = torch.zeros(2, 2); mask[0, 0] = 1
        >>> atk = RP2(model, mask, steps=5)
        >>> x = torch.rand(1, 3, 2, 2)
        >>> adv = atk(x, torch.tensor([2]))
        >>> torch.equal(adv[..., 1, :], x[..., 1, :])
        True
    """

    def __init__(
        self,
        model: nn.Module,
        mask: torch.Tensor | None = None,
        *,
        eps: float | None = None,
        lam: float = 1e-3,
        p: float = 2,
        steps: int = 200,
        lr: float = 0.01,
        n_transforms: int = 8,
        max_rotation: float = 10.0,
        max_scale: float = 0.1,
        max_translate: float = 2,
        brightness: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.max_rotation = check_float(max_rotation, "max_rotation", strict=False)
        self.max_scale = _check_unit(max_scale, "max_scale")
        self.max_translate = check_float(max_translate, "max_translate", strict=False)
        self.brightness = _check_unit(brightness, "brightness")
        self._setup(
            "RP2", model, mask, eps=eps, lam=lam, p=p, steps=steps, lr=lr,
            n_transforms=n_transforms, seed=seed,
        )  # fmt: skip

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Run the attack (called by ``atk(images, labels)``; labels are the targets)."""
        x, y = self._victims(images, labels)
        m = self._mask_for(x)
        keep = m.bool()
        b = x.shape[0]
        n = self.n_transforms

        gen = torch.Generator().manual_seed(self.seed)
        delta = torch.zeros_like(x, requires_grad=True)
        opt = torch.optim.Adam([delta], lr=self.lr)
        x_rep = x.repeat(n, 1, 1, 1)
        y_rep = y.repeat(n)
        for _ in range(self.steps):
            theta = self._random_affine(n * b, x.shape[-2], x.shape[-1], gen).to(x)
            bright = 1 + self.brightness * (2 * torch.rand(n * b, 1, 1, 1, generator=gen) - 1)
            pert = (m * delta).repeat(n, 1, 1, 1)
            grid = F.affine_grid(theta, list(pert.shape), align_corners=False)
            moved = F.grid_sample(pert, grid, align_corners=False, padding_mode="zeros")
            composite = torch.clamp((x_rep + moved) * bright.to(x), 0.0, 1.0)
            logits = self.get_logits(composite)
            ce = F.cross_entropy(logits, y_rep)
            if not self.targeted:
                ce = -ce
            norm = torch.linalg.vector_norm((m * delta).flatten(1), ord=self.p, dim=1)
            loss = self.lam * norm.mean() + ce
            (grad,) = torch.autograd.grad(loss, delta)
            delta.grad = grad
            opt.step()
            with torch.no_grad():
                if self.eps is not None:
                    delta.clamp_(-self.eps, self.eps)
                delta.copy_(torch.clamp(x + delta, 0.0, 1.0) - x)
        adv = torch.where(keep, torch.clamp(x + delta.detach(), 0.0, 1.0), x)
        return adv.to(images.device)

    def _random_affine(self, n: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` random affine matrices ``(n, 2, 3)`` for ``F.affine_grid``.

        Rotation, scale and shift are drawn in pixel units and mapped to the normalised
        coordinates of ``affine_grid``, so a rotation stays a rotation on non-square images.
        """
        u = torch.rand(n, 4, generator=gen, dtype=torch.float64) * 2 - 1
        angle = u[:, 0] * math.radians(self.max_rotation)
        scale = 1 + u[:, 1] * self.max_scale
        shift = u[:, 2:] * self.max_translate  # pixels (x, y)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        # Sampling map in pixels p_in = A p_out + t, with A = R(angle) / scale; in the
        # normalised coordinates n = 2 p / (W, H): A_n = S^-1 A S, t_n = 2 t / (W, H).
        theta = torch.empty(n, 2, 3, dtype=torch.float64)
        theta[:, 0, 0] = cos
        theta[:, 0, 1] = -sin * h / w
        theta[:, 1, 0] = sin * w / h
        theta[:, 1, 1] = cos
        theta[:, 0, 2] = -2 * shift[:, 0] / w
        theta[:, 1, 2] = -2 * shift[:, 1] / h
        return theta


def _check_unit(value: Any, name: str) -> float:
    v = check_float(value, name, strict=False)
    if v >= 1.0:
        raise SpectralValueError(f"{name}: expected a number in [0, 1), got {v}")
    return v


def _check_mask(mask: Any) -> torch.Tensor | None:
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise SpectralTypeError(
            f"mask: expected a binary torch.Tensor or None, got {type(mask).__name__}"
        )
    if mask.is_complex():
        raise SpectralTypeError(f"mask: expected a real binary tensor, got dtype {mask.dtype}")
    if mask.ndim not in (2, 3, 4) or mask.numel() == 0:
        raise SpectralValueError(
            f"mask: expected shape (H, W), (1|C, H, W) or (B, C, H, W), got {tuple(mask.shape)}"
        )
    values = mask.detach()
    if not bool(((values == 0) | (values == 1)).all()):
        raise SpectralValueError("mask: expected binary values (0 and 1 only), got others")
    return values.to(torch.float64)
