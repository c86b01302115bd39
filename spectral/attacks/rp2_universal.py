"""RP2 as its authors ran it: one sticker for a whole victim set, printable and smooth."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectral._internal.validate import check_float
from spectral.attacks.rp2 import _check_unit, _StickerAttack
from spectral.errors import SpectralValueError

__all__ = ["PRINTABLE_PALETTE", "UniversalRP2", "non_printability", "total_variation"]

#: A stand-in printer palette: the 27 colours of {0.1, 0.5, 0.9}^3. Eykholt et al. use
#: colours measured from their printer; pass yours as ``palette`` (K, 3) in [0, 1].
PRINTABLE_PALETTE = torch.cartesian_prod(*(torch.tensor([0.1, 0.5, 0.9]),) * 3)


def non_printability(colors: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    r"""Non-printability score (Sharif et al. 2016, used by RP2), zero on palette colours.

    The mean over pixels of :math:`\prod_{c \in P} \|p - c\|_2`.

    Args:
        colors: ``(N, 3)`` RGB pixels in [0, 1].
        palette: ``(K, 3)`` printable RGB colours.

    Returns:
        A scalar tensor (differentiable in ``colors``).

    Examples:
        >>> pal = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
        >>> float(non_printability(torch.tensor([[0.0, 0.0, 0.0]]), pal))
        0.0
        >>> round(float(non_printability(torch.tensor([[0.5, 0.5, 0.5]]), pal)), 4)  # 0.866^2
        0.75
    """
    dist = torch.cdist(colors.to(palette.dtype), palette.to(colors.device))
    return dist.prod(dim=1).mean()


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation, the mean absolute difference of neighbouring pixels.

    Args:
        x: ``(..., H, W)``.

    Returns:
        A scalar tensor: mean ``|dx|`` plus mean ``|dy|``.

    Examples:
        >>> float(total_variation(torch.ones(3, 4, 4)))
        0.0
        >>> float(total_variation(torch.tensor([[0.0, 1.0], [0.0, 1.0]])))  # 1 across, 0 down
        1.0
    """
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    return dx + dy


class UniversalRP2(_StickerAttack):
    r"""RP2 (Eykholt et al., CVPR 2018) as in the authors' code: one sticker for all images.

    :class:`~spectral.attacks.RP2` optimises a sticker per image and moves only the
    sticker; this is the authors' attack. One perturbation ``delta`` (or, with
    ``mode="replace"``, one sticker image ``s``) is shared by every image of the call (the
    victim set: views of one object), and the expectation runs over those images and over
    random transformations of the **whole composite image**: a colour shift (per-channel
    gain), crop-and-resize, and a perspective warp (one homography sampling the output
    from a randomly cropped, corner-jittered quadrilateral). The loss adds the sticker's
    printability (:func:`non_printability` against ``palette``) and smoothness
    (:func:`total_variation`):

    .. math::
        \lambda \|M \delta\|_p + w_{nps} \mathrm{NPS} + w_{tv} \mathrm{TV}(M \delta)
        + \mathbb{E}_{x, T}\, \mathrm{CE}\big(f(T(c(x))), y^*\big)

    with the composite ``c(x) = clip(x + M delta)`` (``mode="add"``, as the authors'
    code) or ``c(x) = (1 - M) x + M s`` (``mode="replace"``: the printed sticker covers
    the pixels; ``s = sigmoid(w)`` stays in [0, 1]). In ``add`` mode NPS is taken on the
    mean composite inside the mask (the printed colours for one object). The returned
    images are ``c(x)`` without transform, equal to ``x`` outside the mask; the shared
    perturbation is kept as :attr:`perturbation` ``(C, H, W)`` (``M delta``, or
    ``M s``). The whole victim set must be in one call (do not batch it).

    Starts in targeted mode (``atk(images, targets)``; usually one target class for the
    set); after ``set_mode_default()`` it maximises the loss of the given labels. Random
    draws use a local generator seeded with ``seed`` per call.

    Args:
        model: classifier on [0, 1] images returning logits.
        mask: sticker mask as for :class:`RP2` (``(H, W)``, ``(1|C, H, W)``); None =
            whole image.
        mode: ``"add"`` or ``"replace"``.
        eps: optional L-inf bound on ``delta`` (``add`` mode).
        lam: weight of ``||M delta||_p`` (``add`` mode; ignored in ``replace``).
        p: the norm's order (>= 1 or inf).
        nps_weight: weight of the non-printability score (>= 0).
        tv_weight: weight of the total variation (>= 0).
        palette: ``(K, 3)`` printable colours (default :data:`PRINTABLE_PALETTE`).
        steps: Adam steps. lr: Adam learning rate.
        n_transforms: transformations per image and step.
        color_shift: largest relative per-channel gain change, in [0, 1).
        max_crop: largest fraction of each side cropped away, in [0, 1).
        perspective: largest corner jitter as a fraction of the crop's half side, [0, 1).
        seed: seed of the local generator.

    Raises:
        SpectralTypeError: ``model`` not an ``nn.Module``; ``mask`` not a tensor.
        SpectralValueError: invalid options; a mask that does not fit; a palette that is
            not ``(K, 3)``; at call time images outside [0, 1].

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> mask = torch.zeros(4, 4); mask[:2, :2] = 1
        >>> atk = UniversalRP2(net, mask, mode="replace", steps=3)
        >>> x = torch.rand(5, 3, 4, 4)
        >>> adv = atk(x, torch.full((5,), 2))
        >>> bool((adv[:, :, :2, :2] == adv[:1, :, :2, :2]).all())  # one sticker for all
        True
        >>> torch.equal(adv[:, :, 2:], x[:, :, 2:])
        True
    """

    def __init__(
        self,
        model: nn.Module,
        mask: torch.Tensor | None = None,
        *,
        mode: str = "add",
        eps: float | None = None,
        lam: float = 1e-3,
        p: float = 2,
        nps_weight: float = 0.0,
        tv_weight: float = 0.0,
        palette: torch.Tensor | None = None,
        steps: int = 200,
        lr: float = 0.01,
        n_transforms: int = 4,
        color_shift: float = 0.1,
        max_crop: float = 0.1,
        perspective: float = 0.1,
        seed: int = 0,
    ) -> None:
        if mode not in ("add", "replace"):
            raise SpectralValueError(f"mode: expected 'add' or 'replace', got {mode!r}")
        self.mode = mode
        self.nps_weight = check_float(nps_weight, "nps_weight", strict=False)
        self.tv_weight = check_float(tv_weight, "tv_weight", strict=False)
        pal = PRINTABLE_PALETTE if palette is None else palette
        if not isinstance(pal, torch.Tensor) or pal.ndim != 2 or pal.shape[1] != 3:
            shape = tuple(pal.shape) if isinstance(pal, torch.Tensor) else type(pal).__name__
            raise SpectralValueError(f"palette: expected (K, 3) RGB colours, got {shape}")
        self.palette = pal.detach().float()
        self.color_shift = _check_unit(color_shift, "color_shift")
        self.max_crop = _check_unit(max_crop, "max_crop")
        self.perspective = _check_unit(perspective, "perspective")
        self.perturbation: torch.Tensor | None = None
        self._setup(
            "UniversalRP2", model, mask, eps=eps, lam=lam, p=p, steps=steps, lr=lr,
            n_transforms=n_transforms, seed=seed,
        )  # fmt: skip

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Run the attack on the victim set (called by ``atk(images, labels)``)."""
        x, y = self._victims(images, labels)
        m = self._mask_for(x)[:1]  # (1, C, H, W): one sticker
        _, c, h, w = x.shape
        n = self.n_transforms
        gen = torch.Generator().manual_seed(self.seed)
        param = torch.zeros(1, c, h, w, device=x.device, requires_grad=True)
        opt = torch.optim.Adam([param], lr=self.lr)
        y_rep = y.repeat(n)
        for _ in range(self.steps):
            comp = self._composite(x, m, param)
            moved = self._transform(comp.repeat(n, 1, 1, 1), gen)
            ce = F.cross_entropy(self.get_logits(moved), y_rep)
            loss = ce if self.targeted else -ce
            sticker = m * (torch.sigmoid(param) if self.mode == "replace" else param)
            if self.mode == "add":
                loss = loss + self.lam * torch.linalg.vector_norm(sticker.flatten(), ord=self.p)
            if self.nps_weight > 0 and c == 3:
                inside = m[0, 0].bool()
                colors = comp.mean(0)[:, inside].T  # (pixels, 3) of the printed sticker
                loss = loss + self.nps_weight * non_printability(colors, self.palette)
            if self.tv_weight > 0:
                loss = loss + self.tv_weight * total_variation(sticker)
            (grad,) = torch.autograd.grad(loss, param)
            param.grad = grad
            opt.step()
            if self.mode == "add":
                with torch.no_grad():
                    if self.eps is not None:
                        param.clamp_(-self.eps, self.eps)
                    param.clamp_(-1.0, 1.0)
        with torch.no_grad():
            adv = self._composite(x, m, param)
            shared = torch.sigmoid(param) if self.mode == "replace" else param
            self.perturbation = (m * shared)[0].detach().to(images.device)
        return adv.detach().to(images.device)

    def _composite(self, x: torch.Tensor, m: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
        if self.mode == "replace":
            return (1 - m) * x + m * torch.sigmoid(param)
        return torch.where(m.bool(), torch.clamp(x + param, 0.0, 1.0), x)

    def _transform(self, imgs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Colour shift, then crop-and-resize with a perspective warp (one homography)."""
        k, c, h, w = imgs.shape
        gain = 1 + self.color_shift * (2 * torch.rand(k, c, 1, 1, generator=gen) - 1)
        imgs = torch.clamp(imgs * gain.to(imgs), 0.0, 1.0)
        u = torch.rand(k, 11, generator=gen, dtype=torch.float64)
        half = 1 - self.max_crop * u[:, 0]  # half side of the crop, normalised coordinates
        centre = (2 * u[:, 1:3] - 1) * (1 - half[:, None])  # the crop stays inside
        corners = torch.tensor([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=torch.float64)
        jitter = (2 * u[:, 3:11].reshape(k, 4, 2) - 1) * self.perspective * half[:, None, None]
        src = centre[:, None, :] + corners[None] * half[:, None, None] + jitter
        hom = _homographies(corners.expand(k, 4, 2), src)
        ys, xs = torch.meshgrid(
            torch.linspace(-1 + 1 / h, 1 - 1 / h, h, dtype=torch.float64),
            torch.linspace(-1 + 1 / w, 1 - 1 / w, w, dtype=torch.float64),
            indexing="ij",
        )
        pts = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(1, -1, 3)
        mapped = pts @ hom.transpose(1, 2)
        grid = (mapped[..., :2] / mapped[..., 2:]).reshape(k, h, w, 2)
        return F.grid_sample(imgs, grid.to(imgs), align_corners=False, padding_mode="border")


def _homographies(dst: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """``(k, 3, 3)`` maps taking the 4 points ``dst[i]`` to ``src[i]`` (DLT, h33 = 1)."""
    k = dst.shape[0]
    a = torch.zeros(k, 8, 8, dtype=torch.float64)
    bvec = torch.zeros(k, 8, dtype=torch.float64)
    for j in range(4):
        x, y = dst[:, j, 0], dst[:, j, 1]
        u, v = src[:, j, 0], src[:, j, 1]
        a[:, 2 * j, 0], a[:, 2 * j, 1], a[:, 2 * j, 2] = x, y, 1
        a[:, 2 * j, 6], a[:, 2 * j, 7] = -u * x, -u * y
        a[:, 2 * j + 1, 3], a[:, 2 * j + 1, 4], a[:, 2 * j + 1, 5] = x, y, 1
        a[:, 2 * j + 1, 6], a[:, 2 * j + 1, 7] = -v * x, -v * y
        bvec[:, 2 * j], bvec[:, 2 * j + 1] = u, v
    h = torch.linalg.solve(a, bvec)
    return torch.cat([h, torch.ones(k, 1, dtype=torch.float64)], 1).reshape(k, 3, 3)
