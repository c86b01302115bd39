"""Model zoo, model loaders and training recipes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import spectral as sp
from cli.main import app
from spectral.datasets import builtin_dataset
from spectral.metrics import accuracy
from spectral.models import Normalize, SmallCNN, list_models, load_model
from spectral.train import evaluate, pgd_attack, train_model


@pytest.fixture(scope="module")
def test_split():  # type: ignore[no-untyped-def]
    return builtin_dataset("test")


def test_smallcnn_shapes_and_first_layers_are_3x3() -> None:
    m = SmallCNN(num_classes=7, width=8)
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 7)
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 5
    assert dict(m.named_modules())["features.conv1"] is convs[0]


def test_normalize_is_per_channel() -> None:
    n = Normalize((0.5, 0.25, 0.0), (0.5, 0.25, 2.0))
    x = torch.rand(2, 3, 4, 4)
    expect = torch.stack([(x[:, 0] - 0.5) / 0.5, (x[:, 1] - 0.25) / 0.25, x[:, 2] / 2.0], 1)
    torch.testing.assert_close(n(x), expect)


def test_zoo_lists_standard_and_adversarial() -> None:
    names = {m["name"] for m in list_models()}
    assert {"standard", "adversarial"} <= names
    for m in list_models():
        assert {"clean_accuracy", "pgd10_accuracy", "eps"} <= set(m["metrics"])
        assert m["command"].startswith("spectral train")


@pytest.mark.parametrize("name", [m["name"] for m in list_models()])
def test_every_builtin_model_loads_and_reproduces_its_clean_accuracy(name, test_split) -> None:  # type: ignore[no-untyped-def]
    model = load_model(f"builtin:{name}")
    assert not model.training
    acc = accuracy(model, test_split.images, test_split.labels)
    recorded = next(m for m in list_models() if m["name"] == name)["metrics"]["clean_accuracy"]
    assert acc == pytest.approx(recorded, abs=1.5 / len(test_split))


def test_zoo_meets_the_accuracy_targets() -> None:
    met = {m["name"]: m["metrics"] for m in list_models()}
    assert met["standard"]["clean_accuracy"] >= 0.85
    assert met["adversarial"]["pgd10_accuracy"] >= met["standard"]["pgd10_accuracy"] + 0.20


@pytest.mark.slow
@pytest.mark.parametrize("name", ["standard", "adversarial"])
def test_recorded_pgd_accuracy_is_reproducible(name, test_split) -> None:  # type: ignore[no-untyped-def]
    got = evaluate(load_model(f"builtin:{name}"), test_split, steps=10, seed=0)
    recorded = next(m for m in list_models() if m["name"] == name)["metrics"]
    assert got["pgd10_accuracy"] == pytest.approx(recorded["pgd10_accuracy"], abs=0.01)


def test_pgd_attack_respects_eps_and_lowers_accuracy(test_split) -> None:  # type: ignore[no-untyped-def]
    model = load_model("builtin:standard")
    x, y = test_split.images[:100], test_split.labels[:100]
    xa = pgd_attack(
        model, x, y, eps=8 / 255, alpha=2 / 255, steps=5, generator=torch.Generator().manual_seed(0)
    )
    assert float((xa - x).abs().max()) <= 8 / 255 + 1e-6 and xa.min() >= 0 and xa.max() <= 1
    assert accuracy(model, xa, y) < accuracy(model, x, y)
    assert not model.training


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torchscript_file(tmp_path: Path) -> None:
    m = SmallCNN(width=4).eval()
    path = tmp_path / "m.pt"
    torch.jit.script(m).save(str(path))
    loaded = load_model(str(path))
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), m(x))


def test_torch_export_archive(tmp_path: Path) -> None:
    m = SmallCNN(width=4).eval()
    x = torch.rand(2, 3, 32, 32)
    path = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(m, (x,)), str(path))
    torch.testing.assert_close(load_model(str(path))(x), m(x))
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not an archive")
    with pytest.raises(sp.SpectralValueError, match=r"torch\.export"):
        load_model(str(bad))


def test_factory_with_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mymodels.py").write_text(
        "from spectral.models import SmallCNN\ndef make():\n    return SmallCNN(width=4)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ref = SmallCNN(width=4).eval()
    torch.save(ref.state_dict(), tmp_path / "w.pt")
    loaded = load_model("mymodels:make", weights=tmp_path / "w.pt")
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), ref(x))
    torch.save(SmallCNN(width=8).state_dict(), tmp_path / "wrong.pt")
    with pytest.raises(sp.SpectralValueError, match="does not fit"):
        load_model("mymodels:make", weights=tmp_path / "wrong.pt")
    with pytest.raises(sp.SpectralValueError, match="no callable"):
        load_model("mymodels:nothing")
    sys.modules.pop("mymodels", None)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("builtin:nope", "known: builtin:"),
        ("no_such_module_xyz:make", "cannot import"),
        ("robustbench:cifar10/Linf/Carmon2019Unlabeled", "robustbench"),
        ("robustbench:bad", "robustbench:<dataset>/<threat>/<name>"),
        ("/no/such/file.pt", "no such file"),
        ("", "non-empty"),
    ],
)
def test_bad_model_specs(spec: str, needle: str) -> None:
    with pytest.raises(sp.SpectralValueError, match=needle.replace("[", r"\[")):
        load_model(spec)


def test_not_torchscript(tmp_path: Path) -> None:
    p = tmp_path / "state.pt"
    torch.save(SmallCNN(width=4).state_dict(), p)
    with pytest.raises(sp.SpectralValueError, match="not a TorchScript file"):
        load_model(str(p))


def test_training_is_deterministic_for_a_seed() -> None:
    small = builtin_dataset("train").subset(120)
    test = builtin_dataset("test").subset(40)
    kw = {"epochs": 1, "width": 4, "batch_size": 32, "train_data": small, "test_data": test}
    a, ma = train_model(seed=3, **kw)
    b, mb = train_model(seed=3, **kw)
    c, _ = train_model(seed=4, **kw)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert ma == mb
    pairs = zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    assert any(not torch.equal(x, y) for x, y in pairs)
    with pytest.raises(sp.SpectralValueError, match="recipe"):
        train_model(recipe="magic", **kw)


def test_adversarial_recipe_trains_on_perturbed_inputs() -> None:
    small = builtin_dataset("train").subset(64)
    test = builtin_dataset("test").subset(20)
    seen = []
    _, m = train_model(
        recipe="adversarial",
        epochs=1,
        width=4,
        batch_size=64,
        train_data=small,
        test_data=test,
        on_epoch=lambda *a: seen.append(a),
    )
    assert m["config"]["recipe"] == "adversarial" and len(seen) == 1


def test_cli_zoo_lists_models() -> None:
    res = CliRunner().invoke(app, ["zoo", "--json"])
    assert res.exit_code == 0
    assert {m["name"] for m in json.loads(res.stdout)} >= {"standard", "adversarial"}
    res = CliRunner().invoke(app, ["zoo"])
    assert "builtin:standard" in res.stdout


def test_cli_train_bad_epochs(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["train", "--epochs", "0", "--out", str(tmp_path / "t")])
    assert res.exit_code == 1 and res.stderr.strip().splitlines() == [
        "error: --epochs: expected >= 1, got 0"
    ]


@pytest.mark.parametrize("recipe", ["blur-linf", "blur-tv"])
def test_blur_recipes_finetune_the_standard_model(recipe: str) -> None:
    from spectral.blur import blur_layers

    small = builtin_dataset("train").subset(64)
    test = builtin_dataset("test").subset(20)
    model, m = train_model(
        recipe=recipe, epochs=1, batch_size=32, kernel_size=5, train_data=small, test_data=test
    )
    assert m["config"]["recipe"] == recipe and m["config"]["lr"] == 0.01  # recipe default
    blurs = blur_layers(model)
    if recipe == "blur-linf":
        assert list(blurs) == ["features.conv1_blur"] and blurs["features.conv1_blur"].learnable
        assert blurs["features.conv1_blur"].weight.shape == (32, 1, 5, 5)
    else:
        assert blurs == {}
    # the TV tap is removed after training: no forward hooks stay on the model
    assert all(not mod._forward_hooks for mod in model.modules())
    # fine-tuning starts from the standard weights: conv2 moved only a little
    base = load_model("builtin:standard").features.conv2.weight
    rel = (model.features.conv2.weight - base).norm() / base.norm()
    assert 0 < float(rel.detach()) < 0.2


def test_pgd_attack_keeps_mixed_training_flags() -> None:
    model = SmallCNN(width=4).train()
    model.features.bn1.eval()  # e.g. frozen batch norm while fine-tuning
    before = {n: m.training for n, m in model.named_modules()}
    pgd_attack(
        model,
        torch.rand(2, 3, 32, 32),
        torch.tensor([0, 1]),
        eps=0.03,
        alpha=0.01,
        steps=1,
        generator=torch.Generator().manual_seed(0),
    )
    assert {n: m.training for n, m in model.named_modules()} == before


def test_normalize_refuses_other_channel_counts_instead_of_broadcasting() -> None:
    m = load_model("builtin:standard")
    with pytest.raises(ValueError, match=r"expected \(B, 3, H, W\).*\[2, 1, 32, 32\]"):
        m(torch.rand(2, 1, 32, 32))
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 10)
