"""make_attack: torchattacks attacks by name, from one table, seeded, leaving the model as found."""

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
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from torch import nn

from spectral._internal.validate import (
    check_choice,
    check_float,
    check_int,
    check_model,
    parse_enum,
)
from spectral.attacks._wrap import _left_as_found_class
from spectral.attacks.band import BandPGD
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fourier.bandpass import parse_band
from spectral.fourier.bands import DEFAULT_CUTOFFS, check_cutoffs

__all__ = ["AttackName", "make_attack", "parse_attack_name"]


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
    BANDPGD = "bandpgd"


def _bool(name: str) -> Callable[[Any], bool]:
    def parse(value: Any) -> bool:
        if not isinstance(value, bool):
            raise SpectralTypeError(f"{name}: expected True or False, got {value!r}")
        return value

    return parse


def _int(name: str, minimum: int) -> Callable[[Any], int]:
    return lambda value: check_int(value, name, minimum)


def _float(name: str, *, strict: bool = True) -> Callable[[Any], float]:
    return lambda value: check_float(value, name, strict=strict)


def _choice(name: str, *choices: str) -> Callable[[Any], str]:
    return lambda value: check_choice(value, name, choices)


def _band(value: Any) -> Any:
    """Check a band (name or annulus); BandPGD resolves a name with its own cutoffs."""
    parse_band(value)
    return value


@dataclass(frozen=True)
class _Option:
    """One attack-specific keyword: its default (``None``: required) and its parser."""

    default: Any
    parse: Callable[[Any], Any]


@dataclass(frozen=True)
class _Spec:
    """How :func:`make_attack` builds one attack.

    ``core`` names which of eps, alpha (the step), steps and seed the torchattacks class takes;
    ``options`` the extra keywords it accepts; ``targeted`` whether the class honours
    ``set_mode_targeted_by_label``; ``requires`` a message for a missing required option.
    """

    cls: str | type
    core: tuple[str, ...]
    options: dict[str, _Option]
    targeted: bool = False
    requires: str = ""


_NORM = _Option("Linf", _choice("norm", "Linf", "L2"))
_RESTARTS = _Option(1, _int("n_restarts", 1))
_EOT = _Option(1, _int("eot_iter", 1))
_RHO = _Option(0.75, _float("rho"))
_START = {"random_start": _Option(True, _bool("random_start"))}
_STEPPED = ("eps", "alpha", "steps")
_APGD_SHARED = {"norm": _NORM, "n_restarts": _RESTARTS, "eot_iter": _EOT, "rho": _RHO}

# FAB advertises a targeted mode, but in torchattacks 3.5.1 it reads the given labels as
# both the true and the target classes, so it is not marked targeted.
_SPECS: dict[AttackName, _Spec] = {
    AttackName.FGSM: _Spec("FGSM", ("eps",), {}, targeted=True),
    AttackName.PGD: _Spec("PGD", _STEPPED, _START, targeted=True),
    AttackName.PGDL2: _Spec("PGDL2", _STEPPED, _START, targeted=True),
    AttackName.BIM: _Spec("BIM", _STEPPED, {}, targeted=True),
    AttackName.MIFGSM: _Spec(
        "MIFGSM", _STEPPED, {"decay": _Option(1.0, _float("decay", strict=False))}, targeted=True
    ),
    AttackName.CW: _Spec(
        "CW",
        ("steps",),
        {
            "c": _Option(1.0, _float("c")),
            "kappa": _Option(0.0, _float("kappa", strict=False)),
            "lr": _Option(0.01, _float("lr")),
        },
        targeted=True,
    ),
    AttackName.DEEPFOOL: _Spec(
        "DeepFool", ("steps",), {"overshoot": _Option(0.02, _float("overshoot", strict=False))}
    ),
    AttackName.AUTOATTACK: _Spec(
        "AutoAttack",
        ("eps", "seed"),
        {
            "norm": _NORM,
            "version": _Option("standard", _choice("version", "standard", "plus", "rand")),
            "n_classes": _Option(None, _int("n_classes", 2)),
        },
        requires="its targeted parts attack each of the other classes",
    ),
    AttackName.APGD: _Spec(
        "APGD",
        ("eps", "steps", "seed"),
        {**_APGD_SHARED, "loss": _Option("ce", _choice("loss", "ce", "dlr"))},
    ),
    AttackName.APGDT: _Spec(
        "APGDT",
        ("eps", "steps", "seed"),
        # the targeted DLR loss reads the 4th-largest logit
        {**_APGD_SHARED, "n_classes": _Option(None, _int("n_classes", 4))},
        requires="it targets each other class",
    ),
    AttackName.SQUARE: _Spec(
        "Square",
        ("eps", "seed"),
        {
            "norm": _NORM,
            "n_queries": _Option(5000, _int("n_queries", 1)),
            "n_restarts": _RESTARTS,
            "p_init": _Option(0.8, _float("p_init")),
            "loss": _Option("margin", _choice("loss", "margin", "ce")),
        },
        targeted=True,
    ),
    AttackName.FAB: _Spec(
        "FAB",
        ("eps", "steps", "seed"),
        {
            "norm": _NORM,
            "n_restarts": _RESTARTS,
            "alpha_max": _Option(0.1, _float("alpha_max")),
            "eta": _Option(1.05, _float("eta")),
            "beta": _Option(0.9, _float("beta")),
            "multi_targeted": _Option(False, _bool("multi_targeted")),
            "n_classes": _Option(10, _int("n_classes", 2)),
        },
    ),
    AttackName.BANDPGD: _Spec(
        BandPGD,
        _STEPPED,
        {
            **_START,
            "band": _Option("low", _band),
            "norm": _NORM,
            "cutoffs": _Option(DEFAULT_CUTOFFS, check_cutoffs),
            "box": _Option("none", _choice("box", "none", "clip")),
        },
        targeted=True,
    ),
}


#: Attacks whose ``eps`` is an L2 radius whatever the options.
_L2_ATTACKS = (AttackName.PGDL2,)


def _norm(key: AttackName, params: dict[str, Any]) -> str:
    """``"Linf"`` or ``"L2"``: the norm ``eps`` is measured in for this attack."""
    if key in _L2_ATTACKS:
        return "L2"
    return str(params.get("norm", "Linf"))


def _check_linf_eps(eps: float) -> None:
    """Refuse an L-inf budget above 1: images are in [0, 1], so it would allow anything."""
    if eps > 1.0:
        hint = f"; did you mean {eps:g}/255 = {eps / 255:.4g}?" if eps <= 255.0 else ""
        raise SpectralValueError(
            f"eps: expected an L-inf budget in (0, 1] (images are in [0, 1]), got {eps:g}{hint}"
        )


def parse_attack_name(name: Any) -> AttackName:
    """The :class:`AttackName` that ``name`` names (case-insensitive).

    Args:
        name: an :class:`AttackName`, or its value in any case, surrounding spaces
            ignored.

    Returns:
        The member (``name`` itself if it is one).

    Raises:
        SpectralTypeError: neither an :class:`AttackName` nor a str.
        SpectralValueError: an unknown name (the message lists the known ones).

    Examples:
        >>> parse_attack_name(" PGD ")
        <AttackName.PGD: 'pgd'>
        >>> parse_attack_name(AttackName.APGDT).value
        'apgdt'
    """
    return parse_enum(name, AttackName, "name", fold_case=True)


def make_attack(
    name: AttackName | str,
    model: nn.Module,
    *,
    eps: float = 8 / 255,
    steps: int = 10,
    step_size: float | None = None,
    targeted: bool = False,
    seed: int | None = 0,
    **kwargs: Any,
) -> Attack:
    """Build a torchattacks attack by name, with one translation of the options.

    Parameters per attack (an option an attack does not take is refused):

    ========== ===================================================================
    fgsm       ``eps`` (L-inf)
    pgd        ``eps`` (L-inf), ``step_size`` (default ``eps / 4``), ``steps``, ``random_start``
    pgdl2      ``eps`` as an **L2 radius** (over all ``C, H, W``; the default ``8/255``
               is tiny for L2, pass e.g. ``eps=0.5``), ``step_size`` (default ``eps / 4``,
               an L2 step), ``steps``, ``random_start``
    bim        ``eps``, ``step_size`` (default ``eps / 4``), ``steps``
    mifgsm     ``eps``, ``step_size`` (default ``eps / 4``), ``steps``, ``decay`` (1.0)
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
    bandpgd    PGD with the perturbation kept in a frequency band (:class:`BandPGD`):
               ``eps``, ``step_size`` (default ``eps / 4``), ``steps``, ``band`` ("low";
               "mid", "high", "all" or ``(lo, hi)`` cycles/pixel), ``norm`` ("Linf" or
               "L2"), ``cutoffs`` (those of ``band_energy``), ``random_start``, ``box``
               ("none": ``x + delta`` unclipped; "clip")
    ========== ===================================================================

    Every call of the returned attack runs with the global torch RNG seeded with ``seed``
    (so random starts repeat) and restores the RNG state afterwards; it also restores the
    model's ``training`` flags and parameter ``.grad`` and returns images on the input's
    device.

    Args:
        name: an :class:`AttackName` or its value (case-insensitive).
        model: classifier on images in ``[0, 1]`` (normalisation inside), returning logits.
        eps: perturbation budget (> 0). An L-inf bound, in the units of images in
            ``[0, 1]``, must be at most 1 (for pixel values, pass e.g. ``8 / 255``, not
            ``8``). For ``pgdl2`` and ``norm="L2"`` it is an L2 radius over all
            ``C, H, W`` values and only has to be finite and > 0 (it may exceed 1).
            Unused (but still > 0) for ``cw`` and ``deepfool``.
        steps: iterations (>= 1) for the iterative attacks.
        step_size: step size (> 0; torchattacks' ``alpha``); ``None`` means ``eps / 4``.
            (In spectral, ``alpha`` always names the BlurNet penalty weight.)
        targeted: put the attack in ``set_mode_targeted_by_label`` mode: ``atk(images,
            target_labels)`` then pushes each image towards the label given with it.
            Supported by fgsm, pgd, pgdl2, cw, square, bim, mifgsm and bandpgd.
        seed: seed of the global RNG during each call (and of apgd/square/fab/autoattack);
            ``None`` leaves the RNG alone (not deterministic).
        **kwargs: the attack-specific options above.

    Returns:
        An instance of (a subclass of) the torchattacks class, e.g. ``torchattacks.PGD``.

    Raises:
        SpectralValueError: unknown name (the message lists the known ones), ``eps <= 0``,
            an L-inf ``eps > 1``,
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
    key = parse_attack_name(name)
    spec = _SPECS[key]
    check_model(model)
    eps_f = check_float(eps, "eps")
    core: dict[str, Any] = {
        "eps": eps_f,
        "alpha": eps_f / 4 if step_size is None else check_float(step_size, "step_size"),
        "steps": check_int(steps, "steps", 1),
        "seed": None if seed is None else check_int(seed, "seed", 0),
    }
    unknown = sorted(set(kwargs) - set(spec.options))
    if "alpha" in unknown and "alpha" not in spec.options:
        raise SpectralValueError(
            f"{key.value}: the step is called step_size here (torchattacks' alpha); "
            "in spectral, alpha names the BlurNet penalty weight"
        )
    if unknown:
        allowed = ", ".join(sorted(spec.options)) or "none"
        raise SpectralValueError(
            f"{key.value}: unknown option(s) {unknown}; options it takes besides eps, steps, "
            f"step_size, targeted, seed: {allowed}"
        )
    if targeted and not spec.targeted:
        known = sorted(k.value for k, s in _SPECS.items() if s.targeted)
        raise SpectralValueError(
            f"targeted: {key.value} has no by-label targeted mode; attacks that do: "
            + ", ".join(known)
        )
    params = {k: core[k] for k in spec.core}
    for option, o in spec.options.items():
        if option in kwargs:
            params[option] = o.parse(kwargs[option])
        elif o.default is not None:
            params[option] = o.default
        else:
            raise SpectralValueError(
                f"{key.value}: expected {option}=<number of classes> ({spec.requires}), got none"
            )
    if "eps" in spec.core and _norm(key, params) == "Linf":
        _check_linf_eps(eps_f)
    if params.get("multi_targeted") and "n_classes" not in kwargs:
        raise SpectralValueError(
            f"{key.value}: expected n_classes=<number of classes> with multi_targeted=True, "
            "got none"
        )
    cls = spec.cls if isinstance(spec.cls, type) else getattr(torchattacks, spec.cls)
    # torchattacks prints when a model has no parameters; keep stdout clean.
    with contextlib.redirect_stdout(io.StringIO()):
        atk = _left_as_found_class(cls)(model, **params)
    atk._spectral_seed = core["seed"]
    if targeted:
        atk.set_mode_targeted_by_label(quiet=True)
    return atk
