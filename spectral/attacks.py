"""Adversarial attacks: torchattacks by name, black-box transfer, and the RP2 attack.

:func:`make_attack` builds a torchattacks attack from an :class:`AttackName` with one set
of keyword options. The object it returns *is* an instance of the torchattacks class
(``isinstance(atk, torchattacks.PGD)``; their base is ``torchattacks.attack.Attack``)
and is called the torchattacks way, ``atk(images, labels)``. On top of torchattacks it
leaves the model as found (every module's ``training`` flag and every parameter's
``.grad``, also on an exception), leaves the global random state as found while making
each call deterministic for ``seed``, and returns images on the input's device.

:func:`transfer_attack` is the black-box setting of the BlurNet slides: craft on a
surrogate, evaluate on the target. :class:`RP2` is the Robust Physical Perturbation
attack (Eykholt et al. 2018) used there: a masked "sticker" perturbation optimised to
survive random rotations, scalings, shifts and brightness changes.

torchattacks is an optional dependency (``pip install spectral-robustness[attacks]``);
``import spectral`` does not import this module.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

try:
    import torchattacks
    from torchattacks.attack import Attack
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "spectral.attacks needs torchattacks: pip install 'spectral-robustness[attacks]' "
        "(or pip install --no-deps torchattacks to avoid pulling torchvision)"
    ) from exc

from spectral._validate import check_images
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.metrics import (
    _check_labels,
    _check_model,
    _model_left_as_found,
    accuracy,
    attack_success_rate,
    l2_dissimilarity,
)

__all__ = [
    "RP2",
    "AttackName",
    "TransferResult",
    "apgd_robust_accuracy",
    "make_attack",
    "transfer_attack",
]


class AttackName(str, Enum):
    """Attacks that :func:`make_attack` builds (values are the torchattacks names, lower-case)."""

    FGSM = "fgsm"
    PGD = "pgd"
    PGDL2 = "pgdl2"
    CW = "cw"
    DEEPFOOL = "deepfool"
    AUTOATTACK = "autoattack"
    SQUARE = "square"
    APGD = "apgd"
    APGDT = "apgdt"
    BIM = "bim"
    MIFGSM = "mifgsm"
    FAB = "fab"


# Attacks whose torchattacks implementation honours set_mode_targeted_by_label. FAB
# advertises a targeted mode, but in torchattacks 3.5.1 it reads the given labels as
# both the true and the target classes, so it is left out.
_TARGETED = frozenset(
    {
        AttackName.FGSM,
        AttackName.PGD,
        AttackName.PGDL2,
        AttackName.CW,
        AttackName.SQUARE,
        AttackName.BIM,
        AttackName.MIFGSM,
    }
)

# Extra keyword options accepted per attack (besides eps, steps, alpha, targeted, seed).
_EXTRA_KWARGS: dict[AttackName, frozenset[str]] = {
    AttackName.FGSM: frozenset(),
    AttackName.PGD: frozenset({"random_start"}),
    AttackName.PGDL2: frozenset({"random_start"}),
    AttackName.CW: frozenset({"c", "kappa", "lr"}),
    AttackName.DEEPFOOL: frozenset({"overshoot"}),
    AttackName.AUTOATTACK: frozenset({"n_classes", "norm", "version"}),
    AttackName.SQUARE: frozenset({"norm", "n_queries", "n_restarts", "p_init", "loss"}),
    AttackName.APGD: frozenset({"norm", "n_restarts", "loss", "eot_iter", "rho"}),
    AttackName.APGDT: frozenset({"norm", "n_restarts", "eot_iter", "rho", "n_classes"}),
    AttackName.BIM: frozenset(),
    AttackName.MIFGSM: frozenset({"decay"}),
    AttackName.FAB: frozenset(
        {"norm", "n_restarts", "alpha_max", "eta", "beta", "multi_targeted", "n_classes"}
    ),
}


def _known_names() -> str:
    return ", ".join(n.value for n in AttackName)


def _attack_name(name: Any) -> AttackName:
    if isinstance(name, AttackName):
        return name
    if not isinstance(name, str):
        raise SpectralTypeError(
            f"name: expected an attack name (str or AttackName), got {type(name).__name__}"
        )
    try:
        return AttackName(name.strip().lower())
    except ValueError:
        raise SpectralValueError(
            f"name: unknown attack {name!r}; known attacks: {_known_names()}"
        ) from None


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed the global torch RNGs for the block and restore their state afterwards."""
    if seed is None:
        yield
        return
    devices: list[int] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class _LeftAsFound(Attack):
    """torchattacks ``Attack`` whose call leaves model, RNG and input device as found.

    torchattacks switches the model to ``eval`` and back by the top-level flag only (and
    not at all on an exception), lets attacks that call ``backward()`` fill the
    parameters' ``.grad``, and draws random starts from (or reseeds) the global RNG.
    """

    _spectral_seed: int | None = None

    def __call__(self, inputs: torch.Tensor, labels: Any = None, *args: Any, **kwargs: Any) -> Any:
        check_images(inputs, "images")
        if self.device is None:
            self.set_device(inputs.device)
        with _model_left_as_found(self.model), _seeded(self._spectral_seed):
            adv = super().__call__(inputs, labels, *args, **kwargs)
        return adv.detach().to(inputs.device)


_WRAPPED: dict[type, type] = {}


def _left_as_found_class(cls: type) -> type:
    """Subclass of the torchattacks class ``cls`` with :class:`_LeftAsFound`'s call."""
    sub = _WRAPPED.get(cls)
    if sub is None:
        sub = type(
            cls.__name__,
            (_LeftAsFound, cls),
            {
                "__module__": __name__,
                "__qualname__": cls.__name__,
                "__doc__": f"torchattacks.{cls.__name__} leaving model and RNG as found.",
            },
        )
        _WRAPPED[cls] = sub
    return sub


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpectralTypeError(f"{name}: expected an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise SpectralValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def _check_float(value: Any, name: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpectralTypeError(f"{name}: expected a number, got {value!r}") from None
    ok = (v > minimum if strict else v >= minimum) and math.isfinite(v)
    if not ok:
        op = ">" if strict else ">="
        raise SpectralValueError(f"{name}: expected a finite number {op} {minimum}, got {v}")
    return v


def make_attack(
    name: AttackName | str,
    model: nn.Module,
    *,
    eps: float = 8 / 255,
    steps: int = 10,
    alpha: float | None = None,
    targeted: bool = False,
    seed: int | None = 0,
    **kwargs: Any,
) -> Attack:
    """Build a torchattacks attack by name, with one translation of the options.

    Parameters per attack (options not listed for an attack are ignored by it):

    ========== ===================================================================
    fgsm       ``eps`` (L-inf)
    pgd        ``eps`` (L-inf), ``alpha`` (default ``eps / 4``), ``steps``, ``random_start``
    pgdl2      ``eps`` as an **L2 radius** (over all ``C, H, W``; the default ``8/255``
               is tiny for L2, pass e.g. ``eps=0.5``), ``alpha`` (default ``eps / 4``,
               an L2 step), ``steps``, ``random_start``
    bim        ``eps``, ``alpha`` (default ``eps / 4``), ``steps``
    mifgsm     ``eps``, ``alpha`` (default ``eps / 4``), ``steps``, ``decay`` (1.0)
    cw         ``c`` (1.0), ``kappa`` (0.0), ``lr`` (0.01), ``steps``; minimum-norm
               L2 attack, ``eps`` unused
    deepfool   ``steps``, ``overshoot`` (0.02); minimum-norm L2 attack, ``eps`` unused
    autoattack ``eps``, ``n_classes`` (**required**), ``norm`` ("Linf"), ``version``
               ("standard"), ``seed``
    apgd       ``eps``, ``steps``, ``norm`` ("Linf"), ``n_restarts`` (1), ``loss`` ("ce"),
               ``eot_iter`` (1), ``rho`` (0.75), ``seed``
    apgdt      targeted APGD with the DLR loss towards each of the ``n_classes - 1`` other
               classes in turn (AutoAttack's APGD-T): ``eps``, ``steps``, ``n_classes``
               (**required**, >= 4: the DLR loss reads the 4th-largest logit), ``norm``,
               ``n_restarts`` (1), ``eot_iter``, ``rho``, ``seed``
    square     ``eps``, ``n_queries`` (5000), ``norm`` ("Linf"), ``n_restarts`` (1),
               ``p_init`` (0.8), ``loss`` ("margin"), ``seed``
    fab        ``eps``, ``steps``, ``norm`` ("Linf"), ``n_restarts`` (1), ``alpha_max``
               (0.1), ``eta`` (1.05), ``beta`` (0.9), ``multi_targeted`` (False),
               ``n_classes`` (required when ``multi_targeted``), ``seed``
    ========== ===================================================================

    Every call of the returned attack runs with the global torch RNG seeded with ``seed``
    (so random starts repeat) and restores the RNG state afterwards; it also restores the
    model's ``training`` flags and parameter ``.grad`` and returns images on the input's
    device.

    Args:
        name: an :class:`AttackName` or its value (case-insensitive).
        model: classifier on images in ``[0, 1]`` (normalisation inside), returning logits.
        eps: perturbation budget (> 0): an L-inf bound, or an L2 radius for ``pgdl2``
            (and for ``norm="L2"``).
        steps: iterations (>= 1) for the iterative attacks.
        alpha: step size (> 0); ``None`` means ``eps / 4``.
        targeted: put the attack in ``set_mode_targeted_by_label`` mode: ``atk(images,
            target_labels)`` then pushes each image towards the label given with it.
            Supported by fgsm, pgd, pgdl2, cw, square, bim and mifgsm.
        seed: seed of the global RNG during each call (and of apgd/square/fab/autoattack);
            ``None`` leaves the RNG alone (not deterministic).
        **kwargs: the attack-specific options above.

    Returns:
        An instance of (a subclass of) the torchattacks class, e.g. ``torchattacks.PGD``.

    Raises:
        SpectralValueError: unknown name (the message lists the known ones), ``eps <= 0``,
            ``steps < 1``, an option the attack does not take, ``autoattack`` without
            ``n_classes``, or ``targeted=True`` for an attack without a by-label targeted mode.
        SpectralTypeError: ``model`` is not an ``nn.Module``; wrong option types.

    Examples:
        >>> import torch, torchattacks
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> atk = make_attack("pgd", model, eps=8 / 255, steps=5)
        >>> isinstance(atk, torchattacks.PGD), atk.alpha == atk.eps / 4
        (True, True)
        >>> x = torch.rand(2, 3, 2, 2)
        >>> bool(((atk(x, torch.tensor([0, 1])) - x).abs().max() <= 8 / 255 + 1e-6))
        True
    """
    key = _attack_name(name)
    _check_model(model)
    eps_f = _check_float(eps, "eps")
    n_steps = _check_int(steps, "steps", 1)
    alpha_f = eps_f / 4 if alpha is None else _check_float(alpha, "alpha")
    if seed is not None:
        _check_int(seed, "seed", 0)
    unknown = sorted(set(kwargs) - _EXTRA_KWARGS[key])
    if unknown:
        allowed = ", ".join(sorted(_EXTRA_KWARGS[key])) or "none"
        raise SpectralValueError(
            f"{key.value}: unknown option(s) {unknown}; options it takes besides eps, steps, "
            f"alpha, targeted, seed: {allowed}"
        )
    if targeted and key not in _TARGETED:
        raise SpectralValueError(
            f"targeted: {key.value} has no by-label targeted mode; attacks that do: "
            + ", ".join(sorted(n.value for n in _TARGETED))
        )

    ta: Any = torchattacks
    cls: type
    params: dict[str, Any]
    if key is AttackName.FGSM:
        cls, params = ta.FGSM, {"eps": eps_f}
    elif key in (AttackName.PGD, AttackName.PGDL2):
        cls = ta.PGD if key is AttackName.PGD else ta.PGDL2
        params = {
            "eps": eps_f,
            "alpha": alpha_f,
            "steps": n_steps,
            "random_start": bool(kwargs.get("random_start", True)),
        }
    elif key is AttackName.BIM:
        cls, params = ta.BIM, {"eps": eps_f, "alpha": alpha_f, "steps": n_steps}
    elif key is AttackName.MIFGSM:
        decay = _check_float(kwargs.get("decay", 1.0), "decay", strict=False)
        cls = ta.MIFGSM
        params = {"eps": eps_f, "alpha": alpha_f, "steps": n_steps, "decay": decay}
    elif key is AttackName.CW:
        cls = ta.CW
        params = {
            "c": _check_float(kwargs.get("c", 1.0), "c"),
            "kappa": _check_float(kwargs.get("kappa", 0.0), "kappa", strict=False),
            "steps": n_steps,
            "lr": _check_float(kwargs.get("lr", 0.01), "lr"),
        }
    elif key is AttackName.DEEPFOOL:
        cls = ta.DeepFool
        overshoot = _check_float(kwargs.get("overshoot", 0.02), "overshoot", strict=False)
        params = {"steps": n_steps, "overshoot": overshoot}
    elif key is AttackName.AUTOATTACK:
        if "n_classes" not in kwargs:
            raise SpectralValueError(
                "autoattack: expected n_classes=<number of classes> (its targeted parts "
                "attack each of the other classes), got none"
            )
        cls = ta.AutoAttack
        params = {
            "norm": _check_norm(kwargs.get("norm", "Linf")),
            "eps": eps_f,
            "version": _check_choice(
                kwargs.get("version", "standard"), "version", ("standard", "plus", "rand")
            ),
            "n_classes": _check_int(kwargs["n_classes"], "n_classes", 2),
            "seed": seed,
        }
    elif key is AttackName.APGD:
        cls = ta.APGD
        params = {
            "norm": _check_norm(kwargs.get("norm", "Linf")),
            "eps": eps_f,
            "steps": n_steps,
            "n_restarts": _check_int(kwargs.get("n_restarts", 1), "n_restarts", 1),
            "seed": seed,
            "loss": _check_choice(kwargs.get("loss", "ce"), "loss", ("ce", "dlr")),
            "eot_iter": _check_int(kwargs.get("eot_iter", 1), "eot_iter", 1),
            "rho": _check_float(kwargs.get("rho", 0.75), "rho"),
        }
    elif key is AttackName.APGDT:
        if "n_classes" not in kwargs:
            raise SpectralValueError(
                "apgdt: expected n_classes=<number of classes> (it targets each other class), "
                "got none"
            )
        cls = ta.APGDT
        params = {
            "norm": _check_norm(kwargs.get("norm", "Linf")),
            "eps": eps_f,
            "steps": n_steps,
            "n_restarts": _check_int(kwargs.get("n_restarts", 1), "n_restarts", 1),
            "seed": seed,
            "eot_iter": _check_int(kwargs.get("eot_iter", 1), "eot_iter", 1),
            "rho": _check_float(kwargs.get("rho", 0.75), "rho"),
            # the targeted DLR loss reads the 4th-largest logit
            "n_classes": _check_int(kwargs["n_classes"], "n_classes", 4),
        }
    elif key is AttackName.SQUARE:
        cls = ta.Square
        params = {
            "norm": _check_norm(kwargs.get("norm", "Linf")),
            "eps": eps_f,
            "n_queries": _check_int(kwargs.get("n_queries", 5000), "n_queries", 1),
            "n_restarts": _check_int(kwargs.get("n_restarts", 1), "n_restarts", 1),
            "p_init": _check_float(kwargs.get("p_init", 0.8), "p_init"),
            "loss": _check_choice(kwargs.get("loss", "margin"), "loss", ("margin", "ce")),
            "seed": seed,
        }
    else:  # AttackName.FAB
        multi = bool(kwargs.get("multi_targeted", False))
        if multi and "n_classes" not in kwargs:
            raise SpectralValueError(
                "fab: expected n_classes=<number of classes> with multi_targeted=True, got none"
            )
        cls = ta.FAB
        params = {
            "norm": _check_norm(kwargs.get("norm", "Linf")),
            "eps": eps_f,
            "steps": n_steps,
            "n_restarts": _check_int(kwargs.get("n_restarts", 1), "n_restarts", 1),
            "alpha_max": _check_float(kwargs.get("alpha_max", 0.1), "alpha_max"),
            "eta": _check_float(kwargs.get("eta", 1.05), "eta"),
            "beta": _check_float(kwargs.get("beta", 0.9), "beta"),
            "seed": seed,
            "multi_targeted": multi,
            "n_classes": _check_int(kwargs.get("n_classes", 10), "n_classes", 2),
        }

    # torchattacks prints when a model has no parameters; keep stdout clean.
    with contextlib.redirect_stdout(io.StringIO()):
        atk = _left_as_found_class(cls)(model, **params)
    atk._spectral_seed = seed
    if targeted:
        atk.set_mode_targeted_by_label(quiet=True)
    return atk


def apgd_robust_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float = 8 / 255,
    steps: int = 100,
    n_classes: int = 10,
    seed: int = 0,
    batch_size: int = 250,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Robust accuracy under AutoAttack's APGD-CE followed by APGD-T (L-inf), as counts.

    The first two attacks of AutoAttack's standard version (Croce & Hein 2020), run as it
    runs them: APGD with the cross-entropy loss on every correctly classified image, then
    targeted APGD (DLR loss, each of the ``n_classes - 1`` other classes) on the images
    that survived it; an image counts as robust only if it survives both. With
    ``steps=100`` and one restart each this is what RobustBench's AutoAttack numbers start
    from (FAB-T and Square, its last two attacks, rarely lower them further).

    Args:
        model: the classifier (images in [0, 1]).
        x: images ``(N, C, H, W)``.
        y: labels ``(N,)``.
        eps: L-inf budget.
        steps: iterations of each APGD run.
        n_classes: classes of the model (APGD-T targets the other ``n_classes - 1``).
        seed: seed of the attacks' random starts.
        batch_size: images per attack call.
        progress: called with ``(images done, total)`` after each batch.

    Returns:
        ``{"n", "clean_correct", "apgd_ce_correct", "apgd_t_correct", "clean_accuracy",
        "apgd_ce_accuracy", "robust_accuracy", "eps", "steps"}``; ``robust_accuracy`` is
        the accuracy after both attacks.

    Raises:
        SpectralValueError: bad ``eps``/``steps``/``n_classes`` (from :func:`make_attack`),
            or ``x`` and ``y`` of different lengths.
    """
    from spectral.metrics import predict

    if len(x) != len(y):
        raise SpectralValueError(f"y: expected {len(x)} labels for {len(x)} images, got {len(y)}")
    ce = make_attack("apgd", model, eps=eps, steps=steps, loss="ce", seed=seed)
    tgt = make_attack("apgdt", model, eps=eps, steps=steps, n_classes=n_classes, seed=seed)
    counts = {"clean": 0, "ce": 0, "t": 0}
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        alive = predict(model, xb) == yb
        counts["clean"] += int(alive.sum())
        for key, atk in (("ce", ce), ("t", tgt)):
            idx = alive.nonzero().flatten()
            if len(idx):
                adv = atk(xb[idx], yb[idx])
                alive[idx] = predict(model, adv) == yb[idx]
            counts[key] += int(alive.sum())
        if progress is not None:
            progress(min(i + batch_size, len(x)), len(x))
    n = len(x)
    return {
        "n": n,
        "clean_correct": counts["clean"],
        "apgd_ce_correct": counts["ce"],
        "apgd_t_correct": counts["t"],
        "clean_accuracy": counts["clean"] / n if n else float("nan"),
        "apgd_ce_accuracy": counts["ce"] / n if n else float("nan"),
        "robust_accuracy": counts["t"] / n if n else float("nan"),
        "eps": float(eps),
        "steps": int(steps),
    }


def _check_norm(norm: Any) -> str:
    return _check_choice(norm, "norm", ("Linf", "L2"))


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SpectralValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return str(value)


# --------------------------------------------------------------------------------------
# black-box transfer
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferResult:
    """Outcome of a black-box transfer attack (crafted on a surrogate, run on a target).

    Attributes:
        adversarial: adversarial images ``(B, C, H, W)`` crafted on the surrogate.
        surrogate_success_rate: :func:`~spectral.metrics.attack_success_rate` on the surrogate.
        target_success_rate: the same on the target (the black-box success rate).
        target_clean_accuracy: target accuracy on the clean images.
        target_adversarial_accuracy: target accuracy on the adversarial images.
        l2_dissimilarity: :func:`~spectral.metrics.l2_dissimilarity` of the images.
        attack: the attack name.
        eps: the perturbation budget passed to :func:`make_attack`.
    """

    adversarial: torch.Tensor
    surrogate_success_rate: float
    target_success_rate: float
    target_clean_accuracy: float
    target_adversarial_accuracy: float
    l2_dissimilarity: float
    attack: str
    eps: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable numbers (the adversarial images are left out; save the tensor)."""
        return {
            "attack": self.attack,
            "eps": self.eps,
            "n_images": int(self.adversarial.shape[0]),
            "surrogate_success_rate": self.surrogate_success_rate,
            "target_success_rate": self.target_success_rate,
            "target_clean_accuracy": self.target_clean_accuracy,
            "target_adversarial_accuracy": self.target_adversarial_accuracy,
            "l2_dissimilarity": self.l2_dissimilarity,
        }


def transfer_attack(
    surrogate: nn.Module,
    target: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    attack: AttackName | str = "pgd",
    eps: float = 8 / 255,
    steps: int = 10,
    **kw: Any,
) -> TransferResult:
    """Black-box transfer: craft adversarial images on ``surrogate``, evaluate on ``target``.

    The attacker never queries ``target``; both models are left as found.

    Args:
        surrogate: model the attack sees (white-box).
        target: model under evaluation (black-box).
        images: clean images ``(B, C, H, W)`` in ``[0, 1]``.
        labels: true labels ``(B,)`` (target labels if ``targeted=True`` is passed in ``kw``).
        attack: attack name (see :func:`make_attack`).
        eps: perturbation budget.
        steps: attack iterations.
        **kw: further options for :func:`make_attack` (``alpha``, ``seed``, ``targeted``, ...).

    Returns:
        A :class:`TransferResult`.

    Raises:
        SpectralTypeError: wrong types.
        SpectralValueError: bad shapes or options (see :func:`make_attack`).
    """
    _check_model(surrogate, "surrogate")
    _check_model(target, "target")
    check_images(images, "images")
    _check_labels(labels, images, "labels")
    atk = make_attack(attack, surrogate, eps=eps, steps=steps, **kw)
    adv = atk(images, labels).detach().to(dtype=images.dtype)
    return TransferResult(
        adversarial=adv,
        surrogate_success_rate=attack_success_rate(surrogate, images, adv),
        target_success_rate=attack_success_rate(target, images, adv),
        target_clean_accuracy=accuracy(target, images, labels),
        target_adversarial_accuracy=accuracy(target, adv, labels),
        l2_dissimilarity=l2_dissimilarity(images, adv),
        attack=_attack_name(attack).value,
        eps=float(eps),
    )


# --------------------------------------------------------------------------------------
# RP2
# --------------------------------------------------------------------------------------


class RP2(_LeftAsFound):
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
        _check_model(model)
        self.mask = _check_mask(mask)
        self.eps = None if eps is None else _check_float(eps, "eps")
        self.lam = _check_float(lam, "lam", strict=False)
        p_f = _check_float(p, "p", minimum=1.0, strict=False) if p != math.inf else math.inf
        self.p = p_f
        self.steps = _check_int(steps, "steps", 1)
        self.lr = _check_float(lr, "lr")
        self.n_transforms = _check_int(n_transforms, "n_transforms", 1)
        self.max_rotation = _check_float(max_rotation, "max_rotation", strict=False)
        self.max_scale = _check_unit(max_scale, "max_scale")
        self.max_translate = _check_float(max_translate, "max_translate", strict=False)
        self.brightness = _check_unit(brightness, "brightness")
        self.seed = _check_int(seed, "seed", 0)
        with contextlib.redirect_stdout(io.StringIO()):
            super().__init__("RP2", model)
        self.supported_mode = ["default", "targeted"]
        self.set_mode_targeted_by_label(quiet=True)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Run the attack (called by ``atk(images, labels)``; labels are the targets)."""
        check_images(images, "images")
        if float(images.min()) < 0.0 or float(images.max()) > 1.0:
            raise SpectralValueError(
                f"images: expected values in [0, 1], got [{float(images.min()):.4g}, "
                f"{float(images.max()):.4g}]"
            )
        _check_labels(labels, images, "labels")
        device = self.device if self.device is not None else images.device
        x = images.detach().to(device)
        y = labels.detach().to(device)
        if self.targeted:
            y = self.get_target_label(x, y)
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
    v = _check_float(value, name, strict=False)
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
