"""Bad input to every public function: the right typed error, naming expected and actual."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import spectral as sp
from spectral.errors import ImageReadError, SpectralError, SpectralTypeError, SpectralValueError

GOOD = torch.rand(2, 3, 8, 8, dtype=torch.float64)

# name used in messages, and a call that feeds the candidate to the function under test
FUNCTIONS: dict[str, tuple[str, Callable[[Any], object]]] = {
    "magnitude_spectrum": ("x", lambda v: sp.magnitude_spectrum(v)),
    "magnitude_spectrum[numpy]": ("x", lambda v: sp.magnitude_spectrum(v, backend="numpy")),
    "power_spectrum": ("x", lambda v: sp.power_spectrum(v)),
    "power_spectrum[pyfftw]": ("x", lambda v: sp.power_spectrum(v, backend="pyfftw")),
    "phase_spectrum": ("x", lambda v: sp.phase_spectrum(v)),
    "band_energy": ("x", lambda v: sp.band_energy(v)),
    "radial_profile": ("power", lambda v: sp.radial_profile(v)),
    "lowpass": ("x", lambda v: sp.lowpass(v, 0.2)),
    "highpass": ("x", lambda v: sp.highpass(v, 0.2, kind="gaussian")),
    "compare_spectra[clean]": ("clean", lambda v: sp.compare_spectra(v, GOOD)),
    "compare_spectra[adversarial]": ("adversarial", lambda v: sp.compare_spectra(GOOD, v)),
    "spectrum_summary": ("x", lambda v: sp.spectrum_summary(v)),
    "SpectrumAccumulator.update": ("batch", lambda v: sp.SpectrumAccumulator().update(v)),
    "SpectrumAccumulator.update[scipy]": (
        "batch",
        lambda v: sp.SpectrumAccumulator(backend="scipy").update(v),
    ),
}


def _nan() -> torch.Tensor:
    x = torch.rand(2, 3, 8, 8)
    x[1, 2, 3, 4] = math.nan
    return x


def _infs() -> torch.Tensor:
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    x[0, 0, 0, 0] = math.inf
    x[1, 1, 1, 1] = -math.inf
    return x


# (id, candidate, error type, fragments the message must contain)
BAD_INPUTS: list[tuple[str, Callable[[], Any], type[Exception], list[str]]] = [
    (
        "3d",
        lambda: torch.rand(3, 8, 8),
        SpectralValueError,
        ["4 dimensions", "(3, 8, 8)", "x[None]"],
    ),
    (
        "5d",
        lambda: torch.rand(1, 2, 3, 8, 8),
        SpectralValueError,
        ["4 dimensions", "(1, 2, 3, 8, 8)"],
    ),
    ("2d", lambda: torch.rand(8, 8), SpectralValueError, ["4 dimensions", "(8, 8)"]),
    ("0d", lambda: torch.tensor(1.0), SpectralValueError, ["4 dimensions", "()"]),
    ("empty_b", lambda: torch.rand(0, 3, 8, 8), SpectralValueError, ["non-empty", "(0, 3, 8, 8)"]),
    ("empty_c", lambda: torch.rand(2, 0, 8, 8), SpectralValueError, ["non-empty", "(2, 0, 8, 8)"]),
    ("empty_h", lambda: torch.rand(2, 3, 0, 8), SpectralValueError, ["non-empty", "(2, 3, 0, 8)"]),
    ("empty_w", lambda: torch.rand(2, 3, 8, 0), SpectralValueError, ["non-empty", "(2, 3, 8, 0)"]),
    ("nan", _nan, SpectralValueError, ["finite", "1 NaN/Inf"]),
    ("inf", _infs, SpectralValueError, ["finite", "2 NaN/Inf"]),
    (
        "complex64",
        lambda: torch.rand(2, 3, 8, 8, dtype=torch.complex64),
        SpectralTypeError,
        ["real", "torch.complex64"],
    ),
    (
        "complex128",
        lambda: torch.rand(2, 3, 8, 8, dtype=torch.complex128),
        SpectralTypeError,
        ["real", "torch.complex128"],
    ),
    (
        "int64",
        lambda: torch.ones(2, 3, 8, 8, dtype=torch.int64),
        SpectralTypeError,
        ["float32 or float64", "torch.int64", "/ 255"],
    ),
    (
        "uint8",
        lambda: torch.ones(2, 3, 8, 8, dtype=torch.uint8),
        SpectralTypeError,
        ["float32 or float64", "torch.uint8"],
    ),
    (
        "bool",
        lambda: torch.ones(2, 3, 8, 8, dtype=torch.bool),
        SpectralTypeError,
        ["float32 or float64", "torch.bool"],
    ),
    (
        "float16",
        lambda: torch.ones(2, 3, 8, 8, dtype=torch.float16),
        SpectralTypeError,
        ["float32 or float64", "torch.float16"],
    ),
    (
        "bfloat16",
        lambda: torch.ones(2, 3, 8, 8, dtype=torch.bfloat16),
        SpectralTypeError,
        ["float32 or float64", "torch.bfloat16"],
    ),
    ("numpy", lambda: np.zeros((2, 3, 8, 8)), SpectralTypeError, ["torch.Tensor", "ndarray"]),
    ("list", lambda: [[[[0.0]]]], SpectralTypeError, ["torch.Tensor", "list"]),
    ("none", lambda: None, SpectralTypeError, ["torch.Tensor", "NoneType"]),
    ("float", lambda: 1.5, SpectralTypeError, ["torch.Tensor", "float"]),
]


# numpy's own RuntimeWarning on Inf input is covered by test_bad_values_raise_without_warnings
@pytest.mark.filterwarnings("ignore:invalid value encountered in fft:RuntimeWarning")
@pytest.mark.parametrize("func", list(FUNCTIONS))
@pytest.mark.parametrize(
    ("case", "make", "err", "fragments"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input(
    func: str, case: str, make: Callable[[], Any], err: type[Exception], fragments: list[str]
) -> None:
    name, call = FUNCTIONS[func]
    with pytest.raises(err) as info:
        call(make())
    msg = str(info.value)
    assert msg.startswith(f"{name}:"), msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    # typed errors are also the built-in ones, and SpectralError
    builtin = ValueError if err is SpectralValueError else TypeError
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, SpectralError)


def test_bad_values_raise_without_warnings() -> None:
    leaks = []
    for backend in ("torch", "numpy", "scipy", "pyfftw"):
        calls = {
            "magnitude_spectrum": lambda v, b=backend: sp.magnitude_spectrum(v, backend=b),
            "power_spectrum": lambda v, b=backend: sp.power_spectrum(v, backend=b),
            "band_energy": lambda v, b=backend: sp.band_energy(v, backend=b),
            "update": lambda v, b=backend: sp.SpectrumAccumulator(backend=b).update(v),
        }
        for bad in (math.nan, math.inf):
            for name, call in calls.items():
                x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
                x[0, 0, 1, 1] = bad
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    with pytest.raises(SpectralValueError):
                        call(x)
                if caught:
                    leaks.append((backend, bad, name, [str(w.message) for w in caught]))
    assert not leaks, leaks


def test_error_hierarchy() -> None:
    assert issubclass(SpectralValueError, ValueError) and issubclass(
        SpectralValueError, SpectralError
    )
    assert issubclass(SpectralTypeError, TypeError) and issubclass(SpectralTypeError, SpectralError)
    assert issubclass(ImageReadError, OSError) and issubclass(ImageReadError, SpectralError)
    assert not issubclass(SpectralError, (ValueError, TypeError, OSError))


def test_inputs_are_not_modified() -> None:
    x = torch.rand(2, 3, 7, 6, dtype=torch.float64)
    before = x.clone()
    for _, call in FUNCTIONS.values():
        try:
            call(x)
        except SpectralError:  # compare_spectra against GOOD: shape mismatch
            pass
    assert torch.equal(x, before)


BAD_CUTOFFS = [
    (0.25, 0.125),  # c1 > c2
    (0.1, 0.1),  # c1 == c2
    (-0.1, 0.2),
    (0.0, 0.2),
    (math.nan, 0.2),
    (0.1, math.nan),
    (0.1,),
    (0.1, 0.2, 0.3),
    (0.1, 0.9),  # mid/high past every radius (0.5 on the axes, sqrt(2)/2 in the corners)
    (0.6, 0.8),
    (),
    "ab",
    None,
    5,
    ("low", "high"),
]


@pytest.mark.parametrize("cutoffs", BAD_CUTOFFS, ids=repr)
def test_bad_cutoffs(cutoffs: Any) -> None:
    for call in (
        lambda: sp.band_energy(GOOD, cutoffs=cutoffs),
        lambda: sp.compare_spectra(GOOD, GOOD, cutoffs=cutoffs),
    ):
        with pytest.raises(SpectralValueError) as info:
            call()
        assert str(info.value).startswith("cutoffs:")


def test_good_cutoffs_accept_sequences() -> None:
    a = sp.band_energy(GOOD, cutoffs=[0.1, 0.3])
    b = sp.band_energy(GOOD, cutoffs=np.array([0.1, 0.3]))
    c = sp.band_energy(GOOD, cutoffs=(torch.tensor(0.1).item(), 0.3))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


@pytest.mark.parametrize("fn", [sp.lowpass, sp.highpass])
@pytest.mark.parametrize(
    ("radius", "err"),
    [
        (0, SpectralValueError),
        (0.0, SpectralValueError),
        (-0.1, SpectralValueError),
        (math.nan, SpectralValueError),
        (math.inf, SpectralValueError),
        ("wide", SpectralTypeError),
        (None, SpectralTypeError),
        ([0.1], SpectralTypeError),
    ],
)
def test_filter_bad_radius(
    fn: Callable[..., torch.Tensor], radius: Any, err: type[Exception]
) -> None:
    with pytest.raises(err) as info:
        fn(GOOD, radius)
    assert str(info.value).startswith("radius:")
    assert (
        repr(radius) in str(info.value)
        or str(float("nan")) in str(info.value)
        or (str(radius) in str(info.value))
    )


@pytest.mark.parametrize("fn", [sp.lowpass, sp.highpass])
def test_filter_bad_kind_and_order(fn: Callable[..., torch.Tensor]) -> None:
    with pytest.raises(SpectralValueError) as info:
        fn(GOOD, 0.2, kind="box")
    msg = str(info.value)
    assert "'box'" in msg
    for k in ("ideal", "butterworth", "gaussian"):
        assert repr(k) in msg
    for order in (0, -1):
        with pytest.raises(SpectralValueError) as info:
            fn(GOOD, 0.2, kind="butterworth", order=order)
        assert str(info.value).startswith("order:") and repr(order) in str(info.value)
    for bad_type in (2.5, True, "2", None):
        with pytest.raises(SpectralTypeError) as tinfo:
            fn(GOOD, 0.2, kind="butterworth", order=bad_type)
        assert str(tinfo.value).startswith("order:")
    # the enum works as well as its value
    torch.testing.assert_close(
        fn(GOOD, 0.2, kind=sp.fourier.FilterKind.GAUSSIAN), fn(GOOD, 0.2, kind="gaussian")
    )


@pytest.mark.parametrize("size", [(1, 5), (6, 1), (1, 1)], ids=str)
def test_radial_profile_needs_two_pixels(size: tuple[int, int]) -> None:
    with pytest.raises(SpectralValueError):
        sp.radial_profile(torch.ones(1, 1, *size))


@pytest.mark.parametrize("size", [(1, 5), (6, 1)], ids=str)
def test_radial_profile_small_size_message_names_shape(size: tuple[int, int]) -> None:
    with pytest.raises(SpectralValueError) as info:
        sp.radial_profile(torch.ones(1, 1, *size))
    assert str(info.value).startswith("power:") and str(size) in str(info.value)


def test_radial_profile_bad_arguments() -> None:
    for n in (1, 0, -3):
        with pytest.raises(SpectralValueError, match=f"got {n}"):
            sp.radial_profile(GOOD, n_bins=n)
    for n in (2.0, "4", True, None.__class__):
        with pytest.raises(SpectralTypeError, match="n_bins"):
            sp.radial_profile(GOOD, n_bins=n)  # type: ignore[arg-type]
    radii, _ = sp.radial_profile(GOOD, n_bins=np.int64(3))
    assert radii.shape == (3,)


def test_powerlaw_slope_bad_arguments() -> None:
    radii = torch.linspace(0, 0.5, 5)
    with pytest.raises(SpectralValueError) as info:
        sp.powerlaw_slope(radii, torch.ones(2, 4))
    assert "(2, 4)" in str(info.value) and "5" in str(info.value)
    with pytest.raises(SpectralValueError):
        sp.powerlaw_slope(radii[None], torch.ones(2, 5))


def test_compare_spectra_mismatches() -> None:
    with pytest.raises(SpectralValueError) as info:
        sp.compare_spectra(GOOD, GOOD[:, :2])
    assert "(2, 3, 8, 8)" in str(info.value) and "(2, 2, 8, 8)" in str(info.value)
    with pytest.raises(SpectralValueError):
        sp.compare_spectra(GOOD, GOOD[..., :7])
    with pytest.raises(SpectralTypeError) as tinfo:
        sp.compare_spectra(GOOD, GOOD.float())
    assert "torch.float64" in str(tinfo.value) and "torch.float32" in str(tinfo.value)


def test_accumulator_update_other_errors() -> None:
    acc = sp.SpectrumAccumulator()
    with pytest.raises(SpectralTypeError, match="SpectrumAccumulator"):
        acc.merge(GOOD)  # type: ignore[arg-type]
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    with pytest.raises(SpectralValueError, match="grad"):
        sp.magnitude_spectrum(x, backend="scipy")
    assert acc.count == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_device_mismatch() -> None:
    with pytest.raises(SpectralValueError, match="device"):
        sp.compare_spectra(GOOD, GOOD.cuda())


def test_cutoffs_beyond_the_radii_of_the_image_size() -> None:
    x = torch.rand(1, 1, 5, 5, dtype=torch.float64)  # radii up to hypot(0.4, 0.4) = 0.5657
    with pytest.raises(SpectralValueError, match=r"cutoffs: .*high band empty for 5x5 images"):
        sp.band_energy(x, cutoffs=(0.1, 0.6))
    assert sp.band_energy(x, cutoffs=(0.1, 0.5)).shape == (1, 1, 3)
    # the corner radius sqrt(2)/2 of an even image is the largest cutoff any image takes
    e = sp.band_energy(torch.rand(1, 1, 8, 8, dtype=torch.float64), cutoffs=(0.1, math.sqrt(0.5)))
    assert float(e[0, 0, 2]) > 0
    # the default low band of an 8x8 image is empty (lowest frequency 1/8): allowed, 0
    assert float(sp.band_energy(torch.rand(1, 1, 8, 8))[0, 0, 0]) == 0.0


def test_check_cutoffs_for_a_size_requires_every_band() -> None:
    check = sp.fourier.check_cutoffs
    assert check((0.1, 0.3), (32, 32)) == (0.1, 0.3)
    with pytest.raises(SpectralValueError, match=r"low band empty for 8x8 images.*> 0.125"):
        check((0.1, 0.3), (8, 8))
    with pytest.raises(SpectralValueError, match=r"mid band empty for 8x8 images"):
        check((0.26, 0.27), (8, 8))
    assert check((0.1, 0.3), (8, 8), every_band=False) == (0.1, 0.3)


def _two_class() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2)).double()


Y = torch.tensor([0, 1])


def _unit_range_entries() -> dict[str, tuple[str, Callable[[torch.Tensor], object]]]:
    from spectral.analysis import (
        attack_analysis,
        calibration_analysis,
        feature_spectra,
        fourier_heatmap,
        noise_baseline,
    )
    from spectral.attacks import make_attack, transfer_attack
    from spectral.metrics import (
        accuracy,
        attack_success_rate,
        predict,
        robust_accuracy,
        targeted_success_rates,
    )

    m = _two_class()
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    return {
        "predict": ("x", lambda v: predict(m, v)),
        "accuracy": ("x", lambda v: accuracy(m, v, Y)),
        "attack_success_rate[clean]": ("clean", lambda v: attack_success_rate(m, v, GOOD)),
        "attack_success_rate[adv]": ("adversarial", lambda v: attack_success_rate(m, GOOD, v)),
        "robust_accuracy": ("x", lambda v: robust_accuracy(m, lambda a, b: a, v, Y)),
        "targeted_success_rates": (
            "clean",
            lambda v: targeted_success_rates(m, v, Y, lambda: None, num_classes=2),
        ),
        "make_attack(...)()": ("images", lambda v: make_attack("fgsm", m)(v, Y)),
        "transfer_attack": ("images", lambda v: transfer_attack(m, m, v, Y, attack="fgsm")),
        "fourier_heatmap": ("images", lambda v: fourier_heatmap(m, v, Y)),
        "calibration_analysis[x]": (
            "x",
            lambda v: calibration_analysis({"m": m}, v, Y, {"m": GOOD}, attack="none", eps=0.0),
        ),
        "calibration_analysis[adv]": (
            "adversarial['m']",
            lambda v: calibration_analysis({"m": m}, GOOD, Y, {"m": v}, attack="none", eps=0.0),
        ),
        "feature_spectra": ("clean", lambda v: feature_spectra(conv.double(), v, GOOD, "0")),
        "attack_analysis": ("images", lambda v: attack_analysis({"m": m}, v, Y, attack="fgsm")),
        "noise_baseline": ("images", lambda v: noise_baseline(v, 0.1)),
    }


UNIT_RANGE_ENTRIES = _unit_range_entries()
# input_gradients and integrated_gradients take any point (the gradient is defined
# everywhere and is checked against closed forms on Gaussian inputs): not range-checked.


@pytest.mark.parametrize("entry", sorted(UNIT_RANGE_ENTRIES))
def test_images_outside_unit_range_name_the_cause(entry: str) -> None:
    name, call = UNIT_RANGE_ENTRIES[entry]
    with pytest.raises(SpectralValueError) as info:
        call(GOOD * 255)
    msg = str(info.value)
    assert msg.startswith(f"{name}: expected images in [0, 1]"), msg
    assert "divide by 255" in msg and "255" in msg
    with pytest.raises(SpectralValueError, match="normalised"):
        call((GOOD - 0.5) / 0.25)


def test_unit_range_allows_round_off() -> None:
    from spectral.metrics import accuracy

    x = GOOD.clone()
    x[0, 0, 0, 0], x[1, 0, 0, 0] = 1 + 1e-7, -1e-7
    assert 0.0 <= accuracy(_two_class(), x, Y) <= 1.0
    x[0, 0, 0, 0] = 1.01
    with pytest.raises(SpectralValueError, match=r"1\.01\]; clamp them"):
        accuracy(_two_class(), x, Y)
