"""Models nobody here wrote: shared modules per call, TorchScript and torch.export files."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spectral._internal.modelstate import model_left_as_found
from spectral.analysis import filter_analysis, kernel_frequencies, kernel_spectra
from spectral.errors import SpectralValueError
from spectral.metrics import predict
from spectral.models import (
    BlurLayer,
    feature_maps,
    first_activation_name,
    first_conv_name,
    insert_blur,
    is_conv2d,
    layer_names,
    load_model,
    with_normalization,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/foreign_models.py
import foreign_models as fm


def images(n: int = 2, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(3))


def block_by_hand(m: fm.ResNet, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The stem and layer1.0 computed module by module (eval mode)."""
    m.eval()
    with torch.no_grad():
        stem = m.maxpool(F.relu(m.bn1(m.conv1(x))))
        b = m.layer1[0]
        r0 = F.relu(b.bn1(b.conv1(stem)))
        pre = b.bn2(b.conv2(r0)) + stem
    return {"stem": stem, "r0": r0, "pre": pre, "r1": F.relu(pre)}


@pytest.fixture(scope="module")
def scripted_resnet(tmp_path_factory: pytest.TempPathFactory) -> nn.Module:
    path = fm.scripted(fm.resnet(), tmp_path_factory.mktemp("ts") / "r.ts")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return load_model(str(path))


@pytest.fixture(scope="module")
def exported_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fm.exported(fm.resnet(), tmp_path_factory.mktemp("pt2") / "r.pt2")


def test_each_call_of_a_shared_relu_is_its_own_layer() -> None:
    m, x = fm.resnet(), images()
    maps = feature_maps(m, x, ["layer1.0.relu:0", "layer1.0.relu:1", "layer1.0"])
    hand = block_by_hand(fm.resnet(), x)
    torch.testing.assert_close(maps["layer1.0.relu:0"], hand["r0"])
    torch.testing.assert_close(maps["layer1.0.relu:1"], hand["r1"])
    torch.testing.assert_close(maps["layer1.0"], hand["r1"])  # the block ends with that call


def test_plain_name_of_a_shared_module_is_refused_alike_by_both() -> None:
    m, x = fm.resnet(), images()
    listing = r"'layer1\.0\.relu:0', 'layer1\.0\.relu:1'"
    with pytest.raises(SpectralValueError, match="runs 2 times.*" + listing):
        feature_maps(m, x, "layer1.0.relu")
    blurred = insert_blur(m, "layer1.0.relu")
    with pytest.raises(SpectralValueError, match="position: .*runs 2 times.*" + listing):
        blurred(x)
    with pytest.raises(SpectralValueError, match=r"runs 2 times.*valid: 'layer1\.0\.relu:0'"):
        feature_maps(m, x, "layer1.0.relu:2")
    with pytest.raises(SpectralValueError, match=r"'layer1\.0\.relu:2'.*runs 2 times"):
        insert_blur(m, "layer1.0.relu:2")(x)


def test_plain_name_of_a_relu_in_two_sequential_slots_is_refused_when_run() -> None:
    relu = nn.ReLU()
    net = nn.Sequential(nn.Conv2d(3, 3, 1), relu, nn.Conv2d(3, 3, 1), relu)
    with pytest.raises(SpectralValueError, match=r"'1' runs 2 times.*'1:0', '1:1'"):
        insert_blur(net, "1")(images())
    with pytest.raises(SpectralValueError, match=r"'1' runs 2 times.*'1:0', '1:1'"):
        feature_maps(net, images(), "1")
    once = insert_blur(nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU()), "1")
    assert [n for n, _ in once.named_children()] == ["0", "1", "1_blur"]
    assert not once._forward_hooks and not once._forward_pre_hooks  # nothing to count


def test_layer_names_lists_calls_given_an_example_input() -> None:
    m = fm.resnet()
    assert "layer1.0.relu" in layer_names(m)
    names = layer_names(m, images(1))
    assert "layer1.0.relu" not in names
    i = names.index("layer1.0.relu:0")
    assert names[i + 1] == "layer1.0.relu:1"
    assert "relu" in names  # the stem's ReLU runs once: its plain name stays


def test_blur_at_the_first_call_changes_only_what_follows_it() -> None:
    m, x = fm.resnet(), images()
    blurred = insert_blur(m, "layer1.0.relu:0", kernel_size=3)
    blur = blurred.layer1[0].relu.second
    assert isinstance(blur, BlurLayer)
    hand = block_by_hand(fm.resnet(), x)
    got = feature_maps(blurred, x, ["maxpool", "layer1.0.bn1", "layer1.0.conv2", "layer1.0"])
    torch.testing.assert_close(got["maxpool"], hand["stem"])  # before the call: unchanged
    b = fm.resnet().eval().layer1[0]
    with torch.no_grad():
        r0 = blur(hand["r0"])
        torch.testing.assert_close(got["layer1.0.conv2"], b.conv2(r0))
        # the second call of the same ReLU is not blurred
        torch.testing.assert_close(got["layer1.0"], F.relu(b.bn2(b.conv2(r0)) + hand["stem"]))
    assert not torch.allclose(got["layer1.0"], hand["r1"])
    # the model handed in is untouched, and a copy of the blurred model counts on its own
    torch.testing.assert_close(feature_maps(m, x, "layer1.0.relu:1")["layer1.0.relu:1"], hand["r1"])
    again = insert_blur(blurred, "conv1")
    assert again(x).shape == (2, 10)


def test_first_relu_recognises_gelu_and_scripted_activations(scripted_resnet: nn.Module) -> None:
    assert first_activation_name(fm.vit()) == "blocks.0.mlp.1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        vit = torch.jit.script(fm.vit().eval())
    assert first_conv_name(vit) == "patch_embed.proj"
    assert first_activation_name(vit) == "blocks.0.mlp.1"
    assert first_conv_name(scripted_resnet) == "conv1"
    assert first_activation_name(scripted_resnet) == "relu"
    for act in (nn.ReLU6(), nn.LeakyReLU(), nn.SiLU(), nn.ELU(), nn.Hardswish(), nn.Mish()):
        assert first_activation_name(nn.Sequential(nn.Conv2d(3, 3, 1), nn.Identity(), act)) == "2"


def test_torchscript_gives_weights_but_refuses_hooks(scripted_resnet: nn.Module) -> None:
    assert is_conv2d(dict(scripted_resnet.named_modules())["layer1.0.conv1"])
    a = filter_analysis({"ts": scripted_resnet, "eager": fm.resnet()})
    assert a.to_dict()["layers"]["ts"] == a.to_dict()["layers"]["eager"]
    assert a.skipped["ts"] == {"conv1": "7x7 kernel", "layer2.0.downsample.0": "1x1 kernel"}
    assert a.to_dict()["skipped"]["eager"] == a.skipped["ts"]
    assert tuple(a.first_layer["ts"].shape) == (16, 3, 7, 7)
    hint = "TorchScript models cannot be hooked; load the model as 'package.module:factory'"
    with pytest.raises(SpectralValueError, match=hint):
        feature_maps(scripted_resnet, images(), "first_relu")
    with pytest.raises(SpectralValueError, match="^position: " + hint):
        insert_blur(scripted_resnet, "layer1.0.relu:0")
    # what needs only inputs and outputs works, and the model is left as found
    x = images()
    with model_left_as_found(scripted_resnet):
        scripted_resnet.train()
        assert predict(scripted_resnet, x).shape == (2,)
    assert not scripted_resnet.training
    assert insert_blur(scripted_resnet, "input")(x).shape == (2, 10)


def test_with_normalization_keeps_names_of_scripted_and_exported(
    scripted_resnet: nn.Module, exported_path: Path
) -> None:
    x = images()
    eager = with_normalization(fm.resnet(), "imagenet").eval()
    ts = with_normalization(scripted_resnet, "imagenet")
    assert layer_names(ts) == layer_names(scripted_resnet)
    assert dict(ts.named_modules())["layer1.0.conv1"] is ts.get_submodule("layer1.0.conv1")
    with torch.no_grad():
        torch.testing.assert_close(ts(x), eager(x))
    a = filter_analysis({"ts": ts})
    assert a.skipped["ts"]["conv1"] == "7x7 kernel"
    gm = with_normalization(load_model(str(exported_path)), "imagenet")
    got = feature_maps(gm, x, ["layer1.0.relu:1", "conv1"])
    want = feature_maps(eager, x, ["layer1.0.relu:1", "conv1"])
    for k in want:
        torch.testing.assert_close(got[k], want[k])


def test_exported_model_loads_runs_and_gives_feature_maps_per_call(exported_path: Path) -> None:
    with pytest.raises(SpectralValueError, match=r"weights: only used with a 'package\.module"):
        load_model(str(exported_path), weights="w.pt")
    gm = load_model(str(exported_path))
    x = images(3)
    eager = fm.resnet().eval()
    flags = [m.training for m in gm.modules()]
    with model_left_as_found(gm):
        torch.testing.assert_close(gm(x), eager(x))
        assert torch.equal(predict(gm, x), eager(x).argmax(1))
    assert [m.training for m in gm.modules()] == flags
    names = layer_names(gm)
    assert {"conv1", "layer1.0.relu:0", "layer1.0.relu:1", "fc"} <= set(names)
    assert first_conv_name(gm) == "conv1" and first_activation_name(gm) == "relu"
    layers = ["first_conv", "first_relu", "layer1.0.relu:0", "layer1.0.relu:1", "layer1.0.bn1"]
    got = feature_maps(gm, x, layers, batch_size=2)
    want = feature_maps(eager, x, layers)
    for k in layers:
        torch.testing.assert_close(got[k], want[k])
    with pytest.raises(SpectralValueError, match=r"address one call: 'layer1\.0\.relu:0'"):
        feature_maps(gm, x, "layer1.0.relu")
    with pytest.raises(SpectralValueError, match="cannot be edited; use position 'input'"):
        insert_blur(gm, "conv1")
    assert insert_blur(gm, "input")(x).shape == (3, 10)
    a = filter_analysis({"pt2": gm})
    assert a.skipped["pt2"] == {"conv1": "7x7 kernel", "layer2.0.downsample.0": "1x1 kernel"}
    assert len(a.layers["pt2"]) == 4


def test_weights_with_a_spec_that_ignores_them_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpectralValueError, match=r"weights: only used with .*a built-in model"):
        load_model("builtin:standard", weights=tmp_path / "w.pt")
    with pytest.raises(SpectralValueError, match=r"weights: .*a RobustBench model"):
        load_model("robustbench:cifar10/Linf/Carmon2019Unlabeled", weights="w.pt")


def test_missing_robustbench_checkpoint_lists_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10" / "Linf"
    folder.mkdir(parents=True)
    (folder / "Carmon2019Unlabeled.pt").write_bytes(b"")
    (folder / "Wong2020Fast.pt").write_bytes(b"")
    with pytest.raises(SpectralValueError) as info:
        load_model("robustbench:cifar10/Linf/Carmon2019Unlabled", model_dir=tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and "--model-dir" in msg and "model_dir" in msg
    assert "Carmon2019Unlabeled.pt, Wong2020Fast.pt" in msg
    assert "did you mean robustbench:cifar10/Linf/Carmon2019Unlabeled?" in msg
    with pytest.raises(SpectralValueError, match="does not exist"):
        load_model("robustbench:cifar10/L2/X", model_dir=tmp_path)


def test_kernel_spectra_of_any_size() -> None:
    delta = torch.zeros(1, 1, 7, 7)
    delta[0, 0, 3, 3] = 1.0
    torch.testing.assert_close(kernel_spectra(delta, size=16), torch.ones(1, 1, 16, 16).double())
    w = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    spec = kernel_spectra(w, size=32)
    c = 16  # DC sits at size // 2, where kernel_frequencies is 0
    assert float(kernel_frequencies(32)[c]) == 0.0
    torch.testing.assert_close(spec[..., c, c], w.double().sum((-2, -1)).abs())
    # zero-padding keeps Parseval for the padded signal: sum |F|^2 = size^2 sum w^2
    torch.testing.assert_close(
        spec.square().sum((-2, -1)), 32**2 * w.double().square().sum((-2, -1))
    )
    with pytest.raises(SpectralValueError, match="size: expected an int >= the kernel side 16"):
        kernel_spectra(w, size=8)
