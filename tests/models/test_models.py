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
from spectral.attacks import pgd_attack, pgd_evaluation
from spectral.data import builtin_dataset, patch_dataset
from spectral.metrics import accuracy
from spectral.models import Normalize, SmallCNN, list_models, load_model
from spectral.train import train_model


@pytest.fixture(scope="module")
def test_split():  # type: ignore[no-untyped-def]
    return builtin_dataset("test")


def test_smallcnn_shapes_and_first_layers_are_3x3() -> None:
    m = SmallCNN(num_classes=7, width=8)
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 7)
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 5
    assert dict(m.named_modules())["features.conv1"] is convs[0]


def test_smallcnn_blocks_set_the_depth_of_each_stage() -> None:
    m = SmallCNN(width=4, blocks=(2, 2, 2))
    convs = {n: mod for n, mod in m.named_modules() if isinstance(mod, nn.Conv2d)}
    assert list(convs) == [f"features.conv{i}" for i in range(1, 7)]
    assert [c.out_channels for c in convs.values()] == [4, 4, 8, 8, 16, 16]
    pools = [n for n, mod in m.named_modules() if isinstance(mod, nn.MaxPool2d)]
    assert pools == ["features.pool1", "features.pool2"]
    # two pools: a 32x32 image reaches the global pool at 8x8
    seen = []
    m.features.relu6.register_forward_hook(lambda mod, i, o: seen.append(o.shape))
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 10) and seen == [(2, 16, 8, 8)]
    assert m.classifier.in_features == 16
    for bad in [(2, 2), (1, 0, 1), (2, 2.0, 1), (True, 1, 1)]:
        with pytest.raises(sp.SpectralValueError, match="blocks"):
            SmallCNN(blocks=bad)  # type: ignore[arg-type]
    with pytest.raises(sp.SpectralValueError, match="width"):
        SmallCNN(width=0)


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
    from spectral.train import BUILTIN_SLICE

    model = load_model(f"builtin:{name}")
    assert not model.training
    entry = next(m for m in list_models() if m["name"] == name)["metrics"]
    recorded = entry["builtin_slice"]
    assert {"n": recorded["n"], "seed": recorded["seed"]} == BUILTIN_SLICE
    part = test_split.subset(recorded["n"], seed=recorded["seed"])
    correct = int((sp.predict(model, part.images) == part.labels).sum())
    # the same images and weights: at most one prediction may flip with the thread count
    assert abs(correct - recorded["correct"]) <= 1
    # the full-test-set accuracy it records is of the same model: within sampling error
    assert entry["n_test"] == 10000
    assert abs(correct / len(part) - entry["clean_accuracy"]) < 0.07


def test_zoo_meets_the_accuracy_targets() -> None:
    met = {m["name"]: m["metrics"] for m in list_models()}
    assert met["standard"]["clean_accuracy"] >= 0.85
    assert met["adversarial"]["clean_accuracy"] >= 0.65
    assert met["adversarial"]["pgd10_accuracy"] >= 0.33
    assert all(m["n_test"] == 10000 for m in met.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["standard", "adversarial"])
def test_recorded_pgd_accuracy_is_reproducible(name, test_split) -> None:  # type: ignore[no-untyped-def]
    # recorded on the 10,000 test images; the 2,000 built-in ones agree within sampling
    # error (3 standard errors of a proportion near 0.5 on 2,000 images is 0.034)
    got = pgd_evaluation(load_model(f"builtin:{name}"), test_split, steps=10, seed=0)
    recorded = next(m for m in list_models() if m["name"] == name)["metrics"]
    assert got["pgd10_accuracy"] == pytest.approx(recorded["pgd10_accuracy"], abs=0.034)


def test_pgd_attack_respects_eps_and_lowers_accuracy(test_split) -> None:  # type: ignore[no-untyped-def]
    model = load_model("builtin:standard")
    x, y = test_split.images[:100], test_split.labels[:100]
    xa = pgd_attack(
        model,
        x,
        y,
        eps=8 / 255,
        step_size=2 / 255,
        steps=5,
        generator=torch.Generator().manual_seed(0),
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


def test_failing_factory_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "failmodels.py").write_text(
        "def needs(width):\n    pass\n"
        "def boom():\n    raise RuntimeError('no GPU here\\nsecond line')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(sp.SpectralValueError) as info:
        load_model("failmodels:needs")
    assert str(info.value).startswith(
        "model 'failmodels:needs': calling it failed: TypeError: needs() missing 1 required "
        "positional argument: 'width'"
    )
    with pytest.raises(sp.SpectralValueError) as info:
        load_model("failmodels:boom")
    assert (
        str(info.value) == "model 'failmodels:boom': calling it failed: RuntimeError: no GPU here"
    )
    sys.modules.pop("failmodels", None)


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"hello\n", "torch.load failed"),
        (b"import torch\nx = 1\n", "weights_only=True) refused it"),
        (b"", "torch.load failed"),
    ],
)
def test_weights_that_are_no_state_dict(tmp_path: Path, content: bytes, detail: str) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes(content)
    with pytest.raises(sp.SpectralValueError) as info:
        load_model("torch.nn:Flatten", weights=path)
    msg = str(info.value)
    assert msg.startswith(f"weights: {path}: not a PyTorch state dict ("), msg
    assert detail in msg and "\n" not in msg
    assert "Re-running" not in msg and "arbitrary code" not in msg  # none of torch's advice


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
    small = patch_dataset("train").subset(120)
    test = patch_dataset("test").subset(40)
    kw = {"epochs": 1, "width": 4, "batch_size": 32, "train_data": small, "test_data": test}
    a, ma = train_model(seed=3, **kw)
    b, mb = train_model(seed=3, **kw)
    c, _ = train_model(seed=4, **kw)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    timing = {"train_seconds", "eval_seconds"}
    assert {k: v for k, v in ma.items() if k not in timing} == {
        k: v for k, v in mb.items() if k not in timing
    }
    pairs = zip(a.state_dict().values(), c.state_dict().values(), strict=True)
    assert any(not torch.equal(x, y) for x, y in pairs)
    with pytest.raises(sp.SpectralValueError, match="recipe"):
        train_model(recipe="magic", **kw)


def test_adversarial_recipe_trains_on_perturbed_inputs() -> None:
    small = patch_dataset("train").subset(64)
    test = patch_dataset("test").subset(20)
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
    # the catastrophic-overfitting probe ran and its accuracy is reported per epoch
    assert 0.0 <= seen[0][2]["probe_pgd5_accuracy"] <= 1.0
    assert m["history"][0]["probe_pgd5_accuracy"] == seen[0][2]["probe_pgd5_accuracy"]


def test_adversarial_recipe_keeps_the_epoch_with_the_best_probe(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import spectral.train as tr

    # a probe that collapses after epoch 2, as catastrophic overfitting does
    scores = iter([0.30, 0.40, 0.05])
    real = tr.pgd_attack
    monkeypatch.setattr(tr, "predict", lambda model, x: torch.zeros(len(x), dtype=torch.long))
    # (evaluate's accuracies use predict too: they are meaningless here and not checked)

    states = []

    def attack(model, x, y, **kw):  # type: ignore[no-untyped-def]
        if kw["steps"] != 5:  # the final evaluation (PGD-10), not the probe
            return real(model, x, y, **kw)
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        s = next(scores)
        y[:] = 0
        y[round(s * len(y)) :] = 1  # predict() says 0: the accuracy is exactly s
        return real(model, x, y, **kw)

    monkeypatch.setattr(tr, "pgd_attack", attack)
    small = patch_dataset("train").subset(64)
    test = patch_dataset("test").subset(10)
    model, m = tr.train_model(
        recipe="adversarial", epochs=3, width=4, batch_size=32, train_data=small, test_data=test
    )
    assert [h["probe_pgd5_accuracy"] for h in m["history"]] == pytest.approx(
        [0.30, 0.40, 0.05], abs=1 / 64
    )
    assert m["epoch_kept"] == 2
    for k, v in model.state_dict().items():
        assert torch.equal(v, states[1][k]), k


def test_cli_zoo_lists_models() -> None:
    res = CliRunner().invoke(app, ["zoo", "--json"])
    assert res.exit_code == 0
    assert {m["name"] for m in json.loads(res.stdout)} >= {"standard", "adversarial"}
    res = CliRunner().invoke(app, ["zoo"])
    assert "builtin:standard" in res.stdout


def test_cli_train_bad_epochs(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["train", "--data", "patches", "--epochs", "0", "--out", str(tmp_path / "t")]
    )
    assert res.exit_code == 1 and res.stderr.strip().splitlines() == [
        "error: --epochs: expected >= 1, got 0"
    ]


def test_cli_train_records_the_command_that_ran(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import spectral.train as tr

    calls = []

    def fake_train(**kw):  # type: ignore[no-untyped-def]
        calls.append(kw)
        cfg = tr.TrainConfig(recipe=tr.Recipe(kw["recipe"]), epochs=kw.get("epochs", 16))
        return SmallCNN(width=2), {
            "clean_accuracy": 0.5,
            "pgd10_accuracy": 0.1,
            "eps": cfg.eps,
            "config": cfg.to_dict(),
        }

    monkeypatch.setattr(tr, "train_model", fake_train)
    out = tmp_path / "t"
    res = CliRunner().invoke(
        app, ["train", "--data", "patches", "--epochs", "2", "--name", "mine", "--out", str(out)]
    )
    assert res.exit_code == 0, res.stderr
    assert len(calls[0]["train_data"]) == 6000 and len(calls[0]["test_data"]) == 1500
    m = json.loads((out / "metrics.json").read_text())
    # exactly what was run: no --install that was not given, the data and the name
    assert m["command"] == (
        "spectral train --recipe standard --epochs 2 --seed 0 --data patches --name mine"
    )
    assert m["model"] == "mine" and (out / "mine.pt").exists()
    assert m["builtin_slice"]["n"] == 500
    res = CliRunner().invoke(app, ["train", "--epochs", "2", "--out", str(tmp_path / "u")])
    assert res.exit_code == 2 and "--data" in res.stderr
    res = CliRunner().invoke(app, ["train", "--data", "builtin", "--out", str(tmp_path / "v")])
    assert res.exit_code == 1 and "training set" in res.stderr
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("recipe", ["blur-linf", "blur-tv"])
def test_blur_recipes_finetune_the_standard_model(recipe: str) -> None:
    from spectral.models import blur_layers

    small = patch_dataset("train").subset(64)
    test = patch_dataset("test").subset(20)
    model, m = train_model(
        recipe=recipe, epochs=1, batch_size=32, kernel_size=5, train_data=small, test_data=test
    )
    assert m["config"]["recipe"] == recipe and m["config"]["lr"] == 0.01  # recipe default
    blurs = blur_layers(model)
    if recipe == "blur-linf":
        assert list(blurs) == ["features.conv1_blur"] and blurs["features.conv1_blur"].learnable
        c = load_model("builtin:standard").features.conv1.out_channels
        assert blurs["features.conv1_blur"].weight.shape == (c, 1, 5, 5)
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
        step_size=0.01,
        steps=1,
        generator=torch.Generator().manual_seed(0),
    )
    assert {n: m.training for n, m in model.named_modules()} == before


def test_normalize_refuses_other_channel_counts_instead_of_broadcasting() -> None:
    m = load_model("builtin:standard")
    with pytest.raises(ValueError, match=r"expected \(B, 3, H, W\).*\[2, 1, 32, 32\]"):
        m(torch.rand(2, 1, 32, 32))
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_install_stores_float16_and_records_the_shipped_accuracy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spectral.models.zoo as models
    import spectral.train as tr

    monkeypatch.setattr(models, "zoo_dir", lambda: tmp_path)
    net = SmallCNN(width=2)
    net.features.conv1.weight.data[0, 0, 0, 0] = 1 / 3  # not representable in float16

    def fake_train(**kw):  # type: ignore[no-untyped-def]
        cfg = tr.TrainConfig(width=2, blocks=(2, 2, 1))
        return net, {
            "clean_accuracy": 0.1,
            "pgd10_accuracy": 0.0,
            "eps": cfg.eps,
            "config": cfg.to_dict(),
        }

    monkeypatch.setattr(tr, "train_model", fake_train)
    res = CliRunner().invoke(
        app, ["train", "--data", "patches", "--install", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.stderr
    state = torch.load(tmp_path / "standard.pt", weights_only=True)
    assert state["features.conv1.weight"].dtype == torch.float16
    assert state["features.bn1.num_batches_tracked"].dtype == torch.int64
    loaded = load_model("builtin:standard")
    w = loaded.features.conv1.weight.detach()
    assert w.dtype == torch.float32 and float(w[0, 0, 0, 0]) == float(torch.tensor(1 / 3).half())
    entry = json.loads((tmp_path / "zoo.json").read_text())["standard"]
    assert entry["arch"] == {"kind": "SmallCNN", "num_classes": 10, "width": 2, "blocks": [2, 2, 1]}
    assert entry["command"].endswith("--data patches --install")
    # the recorded slice accuracy is that of the reloaded float16 weights
    again = tr.builtin_slice_accuracy(loaded)
    assert entry["metrics"]["builtin_slice"] == again


def test_evaluate_on_a_pgd_subset_keeps_clean_accuracy_on_all() -> None:
    data = patch_dataset("test").subset(60)
    model = SmallCNN(width=2)
    full = pgd_evaluation(model, data, steps=2, seed=0)
    part = pgd_evaluation(model, data, steps=2, seed=0, pgd_images=20)
    assert full["n_test"] == full["n_pgd"] == 60 and part["n_test"] == 60
    assert part["n_pgd"] == 20 and part["clean_accuracy"] == full["clean_accuracy"]
    sub = data.subset(20, seed=0)
    direct = pgd_evaluation(model, sub, steps=2, seed=0)
    assert part["pgd2_accuracy"] == direct["pgd2_accuracy"]
    assert (
        pgd_evaluation(model, data, steps=2, pgd_images=600)["n_pgd"] == 60
    )  # more than there are
