"""Band-limited PGD: a perturbation confined to one frequency band (Sharma et al. 2019).

Maiya et al. (2021) and Sharma et al. (2019) attack with perturbations restricted to a band
of frequencies; this is that PGD as a torchattacks attack, ``atk(images, labels)``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchattacks.attack import Attack

from spectral._internal.validate import check_choice, check_float, check_int
from spectral.fourier.bandpass import band_mask, parse_band
from spectral.fourier.bands import DEFAULT_CUTOFFS, check_cutoffs

__all__ = ["BandPGD"]

_TINY = 1e-12


def _image_keyed_start(x: torch.Tensor, seed: int, norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Random-start noise and radius fractions drawn per image, keyed by its content.

    Image ``i`` draws from a CPU ``torch.Generator`` seeded with the BLAKE2 digest of its
    bytes keyed by ``seed``: the start does not depend on the batch it is in, its position,
    the number of ranks or the device.
    """
    noise = torch.empty(x.shape, dtype=x.dtype)
    u = torch.empty(len(x), dtype=x.dtype)
    host = x.detach().cpu().contiguous()
    seed_key = int(seed).to_bytes(8, "big")
    for i in range(len(x)):
        digest = hashlib.blake2b(host[i].numpy().tobytes(), digest_size=8, key=seed_key)
        # the whole key goes through the hash: torch's CPU generator keeps 32 bits of a seed
        g = torch.Generator().manual_seed(int.from_bytes(digest.digest(), "big"))
        if norm == "Linf":
            noise[i] = torch.rand(x.shape[1:], generator=g, dtype=x.dtype) * 2 - 1
        else:
            noise[i] = torch.randn(x.shape[1:], generator=g, dtype=x.dtype)
        u[i] = torch.rand((), generator=g, dtype=x.dtype)
    shape = (len(x), *([1] * (x.ndim - 1)))
    return noise.to(x.device), u.reshape(shape).to(x.device)


class BandPGD(Attack):
    """PGD whose perturbation stays in one frequency band, under an L-inf or L2 budget.

    The order of operations is fixed so that the perturbation ``delta`` is, after every
    step, exactly in the band (up to FFT round-off) and inside the budget:

    1. start: ``delta = 0``, or with ``random_start`` the band projection of uniform
       noise (L-inf) / Gaussian noise (L2), scaled to a norm of ``eps * u``, ``u ~ U(0, 1)``
       per image; built with a ``seed`` (:func:`spectral.make_attack`), each image draws
       its start from a generator keyed by the seed and the image's bytes, so an image
       gets the same start in any batch, on any rank and device;
    2. step: ``g`` = gradient of the cross-entropy at ``x + delta``; ``d = P(g)`` (the band
       projection of the gradient: ``<g, P(g)> = ||P(g)||^2 >= 0``, an ascent direction
       inside the band), normalised per image to unit L-inf norm (``max |d| = 1``) or unit
       L2 norm; ``delta = P(delta + step_size * d)``;
    3. budget: ``delta *= min(1, eps / ||delta||)`` per image, with ``||.||`` the L-inf
       norm (the largest ``|value|``) or the L2 norm over ``C, H, W``. Scaling keeps the
       band; clipping each value to ``[-eps, eps]`` (plain PGD) would not.

    The image box ``[0, 1]``: with ``box="none"`` (the default) the attack returns
    ``x + delta`` unclipped, so the returned perturbation is exactly band-limited, and the
    image may leave ``[0, 1]`` by at most ``eps`` per value (L-inf; the model, with its
    normalisation inside, takes it like any input). Clipping would put energy outside the
    band wherever a pixel saturates. ``box="clip"`` attacks and returns
    ``clip(x + delta, 0, 1)``: valid images, whose perturbation leaves the band where the
    clip acts. ``P`` is :func:`spectral.fourier.band_project` (DC is in no band).

    Args:
        model: classifier on images in ``[0, 1]`` returning logits.
        eps: budget: L-inf bound (``<= 1``) or L2 radius over ``C, H, W``.
        alpha: step size (torchattacks' name; :func:`spectral.make_attack` calls it
            ``step_size``), in the budget's norm.
        steps: iterations (>= 1).
        band: ``"low"``, ``"mid"``, ``"high"``, ``"all"`` or ``(lo, hi)`` in cycles/pixel
            (:func:`spectral.fourier.parse_band`).
        norm: ``"Linf"`` or ``"L2"``.
        cutoffs: edges of the named bands (those of :func:`spectral.band_energy`).
        random_start: start from a random band-limited point of the budget.
        box: ``"none"`` or ``"clip"`` (see above).

    Raises:
        SpectralValueError: a bad budget, step, band, cutoffs, norm or box.
        SpectralTypeError: options of the wrong type.

    Shape:
        - images: :math:`(B, C, H, W)` in ``[0, 1]``; labels :math:`(B,)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> from spectral.fourier import band_energy
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(768, 4)).double()
        >>> atk = BandPGD(net, eps=8 / 255, alpha=2 / 255, steps=3, band="high")
        >>> x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
        >>> delta = atk(x, torch.tensor([0, 1])) - x
        >>> bool(delta.abs().amax() <= 8 / 255 + 1e-12)
        True
        >>> [round(v, 8) for v in band_energy(delta)[0, 0].tolist()]  # all in the high band
        [0.0, 0.0, 1.0]
    """

    def __init__(
        self,
        model: nn.Module,
        eps: float = 8 / 255,
        alpha: float = 2 / 255,
        steps: int = 10,
        *,
        band: Any = "low",
        norm: str = "Linf",
        cutoffs: tuple[float, float] = DEFAULT_CUTOFFS,
        random_start: bool = True,
        box: str = "none",
    ) -> None:
        super().__init__("BandPGD", model)
        self.eps = check_float(eps, "eps")
        self.alpha = check_float(alpha, "step_size")
        self.steps = check_int(steps, "steps", 1)
        self.norm = check_choice(norm, "norm", ("Linf", "L2"))
        self.cutoffs = check_cutoffs(cutoffs)
        self.band = parse_band(band, self.cutoffs)
        self.random_start = bool(random_start)
        self.box = check_choice(box, "box", ("none", "clip"))
        self.supported_mode = ["default", "targeted"]

    def project(self, t: torch.Tensor) -> torch.Tensor:
        """The band projection ``P(t)`` (:func:`spectral.fourier.band_project`).

        Args:
            t: perturbations or gradients.

        Returns:
            ``P(t)``, like ``t``.

        Shape:
            - t: :math:`(B, C, H, W)`; Output: like ``t``
        """
        h, w = t.shape[-2:]
        m = torch.from_numpy(band_mask(h, w, self.band)).to(t.device, t.dtype)
        return torch.fft.irfft2(torch.fft.rfft2(t) * m, s=(h, w))

    def _size(self, t: torch.Tensor) -> torch.Tensor:
        flat = t.flatten(1)
        n = flat.abs().amax(1) if self.norm == "Linf" else flat.norm(dim=1)
        return n.view(-1, *([1] * (t.ndim - 1)))

    def _fit(self, delta: torch.Tensor) -> torch.Tensor:
        """Scale each perturbation into the budget (a scale keeps the band)."""
        return delta * (self.eps / self._size(delta).clamp_min(_TINY)).clamp(max=1.0)

    def _image(self, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        return (x + delta).clamp(0, 1) if self.box == "clip" else x + delta

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The adversarial images (see the class docstring for the order of operations).

        Args:
            images: images in ``[0, 1]``.
            labels: true labels (target labels in targeted mode).

        Returns:
            ``x + delta`` (``box="none"``) or its clip to ``[0, 1]``, detached.

        Shape:
            - images: :math:`(B, C, H, W)`; labels: :math:`(B,)`; Output: like images
        """
        x = images.clone().detach().to(self.device)
        y = labels.clone().detach().to(self.device)
        target = self.get_target_label(x, y) if self.targeted else y
        sign = -1.0 if self.targeted else 1.0
        delta = torch.zeros_like(x)
        if self.random_start:
            seed = getattr(self, "_spectral_seed", None)
            if seed is None:  # unseeded: the global RNG, like torchattacks
                noise = torch.rand_like(x) * 2 - 1 if self.norm == "Linf" else torch.randn_like(x)
                u = torch.rand(len(x), *([1] * (x.ndim - 1)), device=x.device, dtype=x.dtype)
            else:
                noise, u = _image_keyed_start(x, seed, self.norm)
            noise = self.project(noise)
            delta = noise * (self.eps * u / self._size(noise).clamp_min(_TINY))
        for _ in range(self.steps):
            delta.requires_grad_(True)
            with torch.enable_grad():  # also when called under torch.no_grad()
                logits = self.get_logits(self._image(x, delta))
                loss = sign * F.cross_entropy(logits, target)
            (grad,) = torch.autograd.grad(loss, delta)
            d = self.project(grad.detach())
            d = d / self._size(d).clamp_min(_TINY)
            delta = self._fit(self.project(delta.detach() + self.alpha * d))
        return self._image(x, delta).detach()
