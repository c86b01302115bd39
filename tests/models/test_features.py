"""Feature maps by module name and their clean-vs-adversarial spectra (spectral.features).

The checks compare against hand computations: a hooked output equals the same module
called by hand on the same input; streamed mean spectra equal ``power_spectrum`` of the
whole batch averaged once; band fractions equal sums of the mean power over radius masks.
The model must be left exactly as found (hooks, training flags, weights, buffers), also
when the forward pass fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from spectral import frequency_radius, power_spectrum
from spectral.analysis import FeatureSpectra, feature_spectra
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.models import SmallCNN, feature_maps, layer_names, load_model

F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny ops run fastest on one thread (and do not fight other processes for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def standard() -> nn.Module:
    """The shipped built-in model (eval mode); tests must not modify it."""
    return load_model("builtin:standard")


@pytest.fixture
def small() -> SmallCNN:
    """A fresh, randomly initialised narrow SmallCNN with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    m = SmallCNN(width=4)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m.eval()


def images(b: int, h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g)


def adversarial(x: torch.Tensor, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randint(0, 2, x.shape, generator=g).to(x.dtype) * 2 - 1
    return (x + 8 / 255 * noise).clamp(0, 1)


def assert_no_hooks(model: nn.Module) -> None:
    for name, m in model.named_modules():
        assert not m._forward_hooks, f"forward hook left on {name!r}"
        assert not m._forward_pre_hooks, f"forward pre-hook left on {name!r}"


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for k, v in before.items():
        assert torch.equal(after[k], v), f"{k} changed"


# --------------------------------------------------------------------------------------
# layer_names
# --------------------------------------------------------------------------------------


def test_layer_names_is_named_modules_order_without_root(small: SmallCNN) -> None:
    names = layer_names(small)
    assert names == [n for n, _ in small.named_modules() if n]
    assert "" not in names
    assert names[:6] == [
        "normalize",
        "features",
        "features.conv1",
        "features.bn1",
        "features.relu1",
        "features.conv2",
    ]
    assert names[-1] == "classifier"
    assert len(names) == len(set(names))


def test_layer_names_of_the_builtin_model(standard: nn.Module) -> None:
    assert layer_names(standard) == [n for n, _ in standard.named_modules() if n]


def test_layer_names_rejects_non_modules() -> None:
    with pytest.raises(SpectralTypeError, match=r"nn\.Module"):
        layer_names("model")  # type: ignore[arg-type]


def test_every_listed_name_is_accepted(small: SmallCNN) -> None:
    x = images(2, 16, 16)
    maps = feature_maps(small, x, layer_names(small))
    assert list(maps) == layer_names(small)
    assert maps["classifier"].shape == (2, 10)
    assert torch.equal(maps["classifier"], small(x))


# --------------------------------------------------------------------------------------
# feature_maps: values
# --------------------------------------------------------------------------------------


def test_first_conv_equals_manual_forward(standard: nn.Module) -> None:
    x = images(5)
    maps = feature_maps(standard, x, ["first_conv", "features.conv1"])
    with torch.no_grad():
        want = standard.features.conv1(standard.normalize(x))
    assert list(maps) == ["first_conv", "features.conv1"]
    assert torch.equal(maps["first_conv"], want)
    assert torch.equal(maps["features.conv1"], want)


def test_first_relu_equals_relu1_output(standard: nn.Module) -> None:
    x = images(3)
    f = standard.features
    with torch.no_grad():
        conv = f.conv1(standard.normalize(x))
        want = f.relu1(f.bn1(conv))
    maps = feature_maps(standard, x, "first_relu")
    assert list(maps) == ["first_relu"]
    assert torch.equal(maps["first_relu"], want)
    assert (want < 0).sum() == 0 and (f.bn1(conv) < 0).any()  # the ReLU really acted


def test_several_layers_at_once_match_a_manual_forward(small: SmallCNN) -> None:
    x = images(4, 16, 16)
    f = small.features
    with torch.no_grad():
        n = small.normalize(x)
        h1 = f.relu1(f.bn1(f.conv1(n)))
        h2 = f.relu2(f.bn2(f.conv2(h1)))
        p1 = f.pool1(h2)
        c3 = f.conv3(p1)
        logits = small(x)
    layers = ["normalize", "features.relu2", "features.pool1", "features.conv3", "classifier"]
    maps = feature_maps(small, x, layers)
    assert list(maps) == layers
    for name, want in zip(layers, [n, h2, p1, c3, logits], strict=True):
        assert torch.equal(maps[name], want), name
    assert maps["features.pool1"].shape == (4, 4, 8, 8)


@pytest.mark.parametrize("batch_size", [1, 3, 5, 7, 100])
def test_batch_size_slicing_equals_one_pass(small: SmallCNN, batch_size: int) -> None:
    x = images(7, 12, 12)
    layers = ["first_conv", "features.bn3", "classifier"]
    one = feature_maps(small, x, layers)
    sliced = feature_maps(small, x, layers, batch_size=batch_size)
    for name in layers:
        assert sliced[name].shape == one[name].shape
        torch.testing.assert_close(sliced[name], one[name], rtol=1e-5, atol=1e-6)


def test_outputs_are_detached_even_if_input_requires_grad(small: SmallCNN) -> None:
    x = images(2, 8, 8).requires_grad_()
    maps = feature_maps(small, x, ["first_conv", "first_relu", "classifier"], batch_size=1)
    for name, t in maps.items():
        assert not t.requires_grad, name
        assert t.grad_fn is None, name
    assert x.grad is None


def test_float64_model_and_input(small: SmallCNN) -> None:
    m = small.double()
    x = images(2, 8, 8).to(F64)
    maps = feature_maps(m, x, "first_conv")
    assert maps["first_conv"].dtype == F64
    with torch.no_grad():
        want = m.features.conv1(m.normalize(x))
    assert torch.equal(maps["first_conv"], want)


# --------------------------------------------------------------------------------------
# feature_maps: the model is left as found
# --------------------------------------------------------------------------------------


def test_no_hooks_and_state_unchanged_after_success(standard: nn.Module) -> None:
    before = snapshot(standard)
    flags = {n: m.training for n, m in standard.named_modules()}
    feature_maps(standard, images(3), ["first_conv", "first_relu", "features.conv2"], batch_size=2)
    assert_no_hooks(standard)
    assert_same_state(standard, before)
    assert {n: m.training for n, m in standard.named_modules()} == flags


def mixed_mode(model: nn.Module) -> dict[str, bool]:
    """Train mode with one BatchNorm in eval mode; returns the flags to expect after."""
    model.train()
    model.features.bn2.eval()
    flags = {n: m.training for n, m in model.named_modules()}
    assert flags["features.bn1"] and not flags["features.bn2"] and flags[""]
    return flags


def test_runs_in_eval_mode_and_restores_mixed_training_flags(small: SmallCNN) -> None:
    x = images(4, 8, 8)
    with torch.no_grad():
        want = small.features.bn1(small.features.conv1(small.normalize(x)))  # eval-mode BN
    flags = mixed_mode(small)
    before = snapshot(small)  # includes BN running stats and num_batches_tracked
    maps = feature_maps(small, x, "features.bn1")
    torch.testing.assert_close(maps["features.bn1"], want, rtol=0, atol=1e-6)
    assert {n: m.training for n, m in small.named_modules()} == flags
    assert_same_state(small, before)  # a train-mode forward would update running stats
    assert_no_hooks(small)


def test_failed_forward_propagates_and_leaves_model_as_found(small: SmallCNN) -> None:
    flags = mixed_mode(small)
    before = snapshot(small)
    bad = torch.rand(2, 2, 8, 8)  # two channels; the model's Normalize expects three
    with pytest.raises(ValueError, match="Normalize"):
        feature_maps(small, bad, ["first_conv", "features.relu2", "classifier"])
    assert_no_hooks(small)
    assert {n: m.training for n, m in small.named_modules()} == flags
    assert_same_state(small, before)


def test_failure_in_a_later_slice_leaves_model_as_found(small: SmallCNN) -> None:
    class FailSecondCall(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("boom in slice 2")
            return x

    small.features.add_module("tripwire", FailSecondCall())
    flags = mixed_mode(small)
    with pytest.raises(RuntimeError, match="boom in slice 2"):
        feature_maps(small, images(4, 8, 8), "first_conv", batch_size=2)
    assert_no_hooks(small)
    assert {n: m.training for n, m in small.named_modules()} == flags


def test_non_tensor_output_raises_and_removes_hooks() -> None:
    class PairOut(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, -x

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pair = PairOut()
            self.conv = nn.Conv2d(3, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, _ = self.pair(x)
            return self.conv(a)

    net = Net()
    with pytest.raises(SpectralValueError, match="'pair'"):
        feature_maps(net, images(1, 4, 4), ["conv", "pair"])
    assert_no_hooks(net)
    assert net.training  # restored to train mode


def test_existing_user_hooks_are_kept(small: SmallCNN) -> None:
    seen: list[tuple[int, ...]] = []
    handle = small.features.conv1.register_forward_hook(
        lambda _m, _i, out: seen.append(tuple(out.shape))
    )
    try:
        feature_maps(small, images(2, 8, 8), "first_conv")
        assert len(small.features.conv1._forward_hooks) == 1
        assert seen == [(2, 4, 8, 8)]
    finally:
        handle.remove()


# --------------------------------------------------------------------------------------
# feature_maps: errors
# --------------------------------------------------------------------------------------


def test_unknown_layer_names_it_and_says_how_to_list(small: SmallCNN) -> None:
    with pytest.raises(SpectralValueError) as info:
        feature_maps(small, images(1, 8, 8), ["first_conv", "features.conv9"])
    msg = str(info.value)
    assert "features.conv9" in msg
    assert "spectral.layer_names" in msg
    assert_no_hooks(small)


def test_root_name_is_not_a_layer(small: SmallCNN) -> None:
    with pytest.raises(SpectralValueError, match=r"spectral\.layer_names"):
        feature_maps(small, images(1, 8, 8), "")


@pytest.mark.parametrize("layers", [[], ()])
def test_empty_layer_list_raises(small: SmallCNN, layers: list[str]) -> None:
    with pytest.raises(SpectralValueError, match="layer"):
        feature_maps(small, images(1, 8, 8), layers)


def test_layer_that_does_not_run_is_named(small: SmallCNN) -> None:
    small.spare = nn.Conv2d(3, 3, 1)  # defined, never called in forward
    assert "spare" in layer_names(small)
    with pytest.raises(SpectralValueError, match="spare") as info:
        feature_maps(small, images(2, 8, 8), ["first_conv", "spare"])
    assert "first_conv" not in str(info.value)
    assert_no_hooks(small)


# --------------------------------------------------------------------------------------
# feature_spectra: means equal one-shot power spectra
# --------------------------------------------------------------------------------------


LAYERS = ["first_conv", "features.conv2", "features.relu3"]


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    x = images(11, seed=3)
    return x, adversarial(x)


@pytest.fixture(scope="module")
def one_shot(
    standard: nn.Module, pair: tuple[torch.Tensor, torch.Tensor]
) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per layer: power_spectrum(maps).mean(0) of clean, adversarial and perturbation."""
    x, xa = pair
    fc = feature_maps(standard, x, LAYERS)
    fa = feature_maps(standard, xa, LAYERS)
    out = {}
    for n in LAYERS:
        c, a = fc[n].to(F64), fa[n].to(F64)
        out[n] = tuple(power_spectrum(t).mean(0) for t in (c, a, a - c))
    return out  # type: ignore[return-value]


@pytest.mark.parametrize("batch_size", [3, 4, 11, 64], ids=lambda b: f"bs{b}")
def test_spectra_equal_one_shot_mean(
    standard: nn.Module,
    pair: tuple[torch.Tensor, torch.Tensor],
    one_shot: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    batch_size: int,
) -> None:
    x, xa = pair
    res = feature_spectra(standard, x, xa, LAYERS, batch_size=batch_size)
    assert list(res) == LAYERS
    for n in LAYERS:
        fs = res[n]
        assert isinstance(fs, FeatureSpectra)
        assert fs.layer == n
        assert fs.count == x.shape[0]
        for got, want in zip((fs.clean, fs.adversarial, fs.perturbation), one_shot[n], strict=True):
            assert got.shape == want.shape
            assert got.dtype == torch.float32
            torch.testing.assert_close(got.to(F64), want, rtol=1e-4, atol=1e-6 * want.max())


def test_spectra_shapes_follow_the_layer(
    standard: nn.Module, pair: tuple[torch.Tensor, torch.Tensor]
) -> None:
    x, xa = pair
    res = feature_spectra(standard, x, xa, ["first_conv", "features.pool1", "features.conv5"])
    assert res["first_conv"].clean.shape == (64, 32, 32)
    assert res["features.pool1"].clean.shape == (64, 16, 16)
    assert res["features.conv5"].perturbation.shape == (256, 8, 8)


def test_spectra_leave_the_model_as_found(
    standard: nn.Module, pair: tuple[torch.Tensor, torch.Tensor]
) -> None:
    before = snapshot(standard)
    x, xa = pair
    feature_spectra(standard, x, xa, "first_relu", batch_size=4)
    assert_no_hooks(standard)
    assert_same_state(standard, before)
    assert not any(m.training for m in standard.modules())


def test_identical_inputs_give_zero_difference(standard: nn.Module) -> None:
    x = images(5, seed=7)
    res = feature_spectra(standard, x, x.clone(), ["first_conv", "features.relu2"], batch_size=2)
    for n, fs in res.items():
        assert torch.equal(fs.perturbation, torch.zeros_like(fs.perturbation)), n
        assert torch.equal(fs.clean, fs.adversarial), n
        assert torch.isnan(fs.band_energy("perturbation")).all(), n
        assert torch.equal(fs.band_energy("clean"), fs.band_energy("adversarial")), n


# --------------------------------------------------------------------------------------
# FeatureSpectra.band_energy / to_dict
# --------------------------------------------------------------------------------------


def brute_band_energy(p: torch.Tensor, cutoffs: tuple[float, float]) -> torch.Tensor:
    """Low/mid/high fractions of the non-DC power of a centred ``(C, H, W)`` spectrum."""
    _, h, w = p.shape
    r = torch.from_numpy(frequency_radius(h, w, center=True))
    assert r[h // 2, w // 2] == 0 and (r == 0).sum() == 1
    c1, c2 = cutoffs
    masks = [(r > 0) & (r < c1), (r >= c1) & (r < c2), r >= c2]
    e = torch.stack([(p.to(F64) * m).sum((-2, -1)) for m in masks], -1)
    return e / e.sum(-1, keepdim=True)


@pytest.mark.parametrize(
    ("size", "cutoffs"),
    [((32, 32), (1 / 8, 1 / 4)), ((15, 13), (1 / 8, 1 / 4)), ((20, 9), (0.1, 0.3))],
    ids=["32x32", "15x13-odd", "20x9-cutoffs"],
)
def test_band_energy_equals_brute_force_over_radius_masks(
    standard: nn.Module, size: tuple[int, int], cutoffs: tuple[float, float]
) -> None:
    x = images(6, *size, seed=5)
    res = feature_spectra(
        standard, x, adversarial(x), ["first_conv", "features.relu2"], batch_size=4, cutoffs=cutoffs
    )
    for n, fs in res.items():
        assert fs.cutoffs == cutoffs
        for which in ("clean", "adversarial", "perturbation"):
            got = fs.band_energy(which)
            p = getattr(fs, which)
            assert got.shape == (p.shape[0], 3)
            torch.testing.assert_close(got.sum(-1), torch.ones(p.shape[0], dtype=F64))
            torch.testing.assert_close(got, brute_band_energy(p, cutoffs), rtol=1e-9, atol=1e-12)
            assert (got >= 0).all(), (n, which)


def test_band_energy_on_hand_made_spectrum() -> None:
    p = torch.zeros(2, 8, 8)
    p[:, 4, 4] = 100.0  # DC: in no band
    p[0, 4, 5] = p[0, 4, 3] = 1.0  # r = 1/8: mid
    p[0, 0, 0] = 2.0  # r = sqrt(2)/2 (corner): high
    p[1, 4, 5] = p[1, 4, 3] = 3.0  # channel 1: all mid
    fs = FeatureSpectra("x", clean=p, adversarial=p, perturbation=torch.zeros_like(p), count=1)
    torch.testing.assert_close(
        fs.band_energy("clean"), torch.tensor([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0]], dtype=F64)
    )
    assert torch.isnan(fs.band_energy("perturbation")).all()


def test_to_dict_is_json_with_documented_keys(standard: nn.Module) -> None:
    x = images(4, seed=9)
    fs = feature_spectra(standard, x, x.clone(), "first_conv")["first_conv"]
    d = fs.to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN difference fractions must come out as null
    assert json.loads(text) == d
    assert set(d) == {"layer", "shape", "count", "bands", "band_energy", "mean_power"}
    assert d["layer"] == "first_conv"
    assert d["shape"] == [64, 32, 32]
    assert d["count"] == 4
    assert d["bands"] == ["low", "mid", "high"]
    assert set(d["band_energy"]) == set(d["mean_power"]) == {"clean", "adversarial", "perturbation"}
    assert d["band_energy"]["perturbation"] == [None, None, None]
    assert d["mean_power"]["perturbation"] == 0.0
    want = fs.band_energy("clean").mean(0).tolist()
    np.testing.assert_allclose(d["band_energy"]["clean"], want, rtol=1e-12)
    assert sum(d["band_energy"]["clean"]) == pytest.approx(1.0)
    assert d["mean_power"]["clean"] == pytest.approx(float(fs.clean.mean()))


def test_to_dict_with_a_real_difference(
    standard: nn.Module, pair: tuple[torch.Tensor, torch.Tensor]
) -> None:
    x, xa = pair
    d = feature_spectra(standard, x, xa, "features.conv2")["features.conv2"].to_dict()
    json.dumps(d, allow_nan=False)
    assert sum(d["band_energy"]["perturbation"]) == pytest.approx(1.0)
    assert d["mean_power"]["perturbation"] > 0


# --------------------------------------------------------------------------------------
# feature_spectra: errors
# --------------------------------------------------------------------------------------


def test_mismatched_shapes_raise(standard: nn.Module) -> None:
    x = images(4)
    with pytest.raises(SpectralValueError, match="adversarial"):
        feature_spectra(standard, x, x[:3], "first_conv")
    with pytest.raises(SpectralValueError):
        feature_spectra(standard, x, images(4, 32, 30), "first_conv")


def test_mismatched_dtype_raises(standard: nn.Module) -> None:
    x = images(2)
    with pytest.raises(SpectralTypeError):
        feature_spectra(standard, x, x.to(F64), "first_conv")


@pytest.mark.parametrize("layer", ["classifier", "features.flatten"])
def test_non_4d_layer_raises(standard: nn.Module, layer: str) -> None:
    x = images(2)
    with pytest.raises(SpectralValueError, match=layer.replace(".", r"\.")):
        feature_spectra(standard, x, x, ["first_conv", layer])
    assert_no_hooks(standard)


def test_unknown_layer_in_spectra_raises(standard: nn.Module) -> None:
    x = images(2)
    with pytest.raises(SpectralValueError, match=r"spectral\.layer_names"):
        feature_spectra(standard, x, x, "conv1")


# --------------------------------------------------------------------------------------
# bugs found by these tests (fixed)
# --------------------------------------------------------------------------------------


def test_inplace_activation_after_hooked_layer_does_not_change_its_map() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True)).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        want = net[0](x)
    assert (want < 0).any()
    assert torch.equal(feature_maps(net, x, "first_conv")["first_conv"], want)


@pytest.mark.parametrize("batch_size", [0, -1])
@pytest.mark.parametrize("fn", ["feature_maps", "feature_spectra"])
def test_nonpositive_batch_size_raises(small: SmallCNN, fn: str, batch_size: int) -> None:
    x = images(3, 8, 8)
    with pytest.raises(SpectralValueError, match="batch_size"):
        if fn == "feature_maps":
            feature_maps(small, x, "first_conv", batch_size=batch_size)
        else:
            feature_spectra(small, x, x, "first_conv", batch_size=batch_size)


def test_constant_feature_map_has_nan_band_energy() -> None:
    net = nn.Sequential(nn.Conv2d(3, 1, 1)).eval()
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.fill_(1.7)  # every map is the constant 1.7
    x = images(4, 15, 13)
    fs = feature_spectra(net, x, x * 0.5, "0")["0"]
    assert torch.isnan(fs.band_energy("clean")).all()


def test_module_run_twice_is_refused() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)
            self.act = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.conv(self.act(x)))

    with pytest.raises(SpectralValueError, match=r"runs 2 times .*'act:0', 'act:1'"):
        feature_maps(Twice(), torch.rand(2, 3, 8, 8), "act")
    assert feature_maps(Twice(), torch.rand(2, 3, 8, 8), "conv")["conv"].shape == (2, 3, 8, 8)
