"""make_attack: torchattacks attacks by name, seeded, leaving the model as found."""

from __future__ import annotations

try:
    import torchattacks
    from torchattacks.attack import Attack
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "spectral.attacks needs torchattacks: pip install 'spectral-robustness[attacks]' "
        "(or pip install --no-deps torchattacks to avoid pulling torchvision)"
    ) from exc
import contextlib
import io
from collections.abc import Iterator
from enum import Enum
from typing import Any

import torch
from torch import nn

from spectral._internal.modelstate import model_left_as_found
from spectral._internal.validate import (
    check_choice,
    check_float,
    check_images,
    check_int,
    check_model,
)
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["AttackName", "make_attack"]


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
        with model_left_as_found(self.model), _seeded(self._spectral_seed):
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
    check_model(model)
    eps_f = check_float(eps, "eps")
    n_steps = check_int(steps, "steps", 1)
    alpha_f = eps_f / 4 if alpha is None else check_float(alpha, "alpha")
    if seed is not None:
        check_int(seed, "seed", 0)
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
        decay = check_float(kwargs.get("decay", 1.0), "decay", strict=False)
        cls = ta.MIFGSM
        params = {"eps": eps_f, "alpha": alpha_f, "steps": n_steps, "decay": decay}
    elif key is AttackName.CW:
        cls = ta.CW
        params = {
            "c": check_float(kwargs.get("c", 1.0), "c"),
            "kappa": check_float(kwargs.get("kappa", 0.0), "kappa", strict=False),
            "steps": n_steps,
            "lr": check_float(kwargs.get("lr", 0.01), "lr"),
        }
    elif key is AttackName.DEEPFOOL:
        cls = ta.DeepFool
        overshoot = check_float(kwargs.get("overshoot", 0.02), "overshoot", strict=False)
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
            "version": check_choice(
                kwargs.get("version", "standard"), "version", ("standard", "plus", "rand")
            ),
            "n_classes": check_int(kwargs["n_classes"], "n_classes", 2),
            "seed": seed,
        }
    elif key is AttackName.APGD:
        cls = ta.APGD
        params = {
            "norm": _check_norm(kwargs.get("norm", "Linf")),
            "eps": eps_f,
            "steps": n_steps,
            "n_restarts": check_int(kwargs.get("n_restarts", 1), "n_restarts", 1),
            "seed": seed,
            "loss": check_choice(kwargs.get("loss", "ce"), "loss", ("ce", "dlr")),
            "eot_iter": check_int(kwargs.get("eot_iter", 1), "eot_iter", 1),
            "rho": check_float(kwargs.get("rho", 0.75), "rho"),
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
            "n_restarts": check_int(kwargs.get("n_restarts", 1), "n_restarts", 1),
            "seed": seed,
            "eot_iter": check_int(kwargs.get("eot_iter", 1), "eot_iter", 1),
            "rho": check_float(kwargs.get("rho", 0.75), "rho"),
            # the targeted DLR loss reads the 4th-largest logit
            "n_classes": check_int(kwargs["n_classes"], "n_classes", 4),
        }
    elif key is AttackName.SQUARE:
        cls = ta.Square
        params = {
            "norm": _check_norm(kwargs.get("norm", "Linf")),
            "eps": eps_f,
            "n_queries": check_int(kwargs.get("n_queries", 5000), "n_queries", 1),
            "n_restarts": check_int(kwargs.get("n_restarts", 1), "n_restarts", 1),
            "p_init": check_float(kwargs.get("p_init", 0.8), "p_init"),
            "loss": check_choice(kwargs.get("loss", "margin"), "loss", ("margin", "ce")),
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
            "n_restarts": check_int(kwargs.get("n_restarts", 1), "n_restarts", 1),
            "alpha_max": check_float(kwargs.get("alpha_max", 0.1), "alpha_max"),
            "eta": check_float(kwargs.get("eta", 1.05), "eta"),
            "beta": check_float(kwargs.get("beta", 0.9), "beta"),
            "seed": seed,
            "multi_targeted": multi,
            "n_classes": check_int(kwargs.get("n_classes", 10), "n_classes", 2),
        }

    # torchattacks prints when a model has no parameters; keep stdout clean.
    with contextlib.redirect_stdout(io.StringIO()):
        atk = _left_as_found_class(cls)(model, **params)
    atk._spectral_seed = seed
    if targeted:
        atk.set_mode_targeted_by_label(quiet=True)
    return atk


def _check_norm(norm: Any) -> str:
    return check_choice(norm, "norm", ("Linf", "L2"))
