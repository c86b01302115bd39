"""Batch sizes from memory, and results that do not depend on the batch size."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import spectral._internal.batching as batching
from spectral.analysis.attack import attack_analysis
from spectral.analysis.attribution import input_gradients, integrated_gradients
from spectral.analysis.calibration import calibration_analysis
from spectral.analysis.features import feature_spectra
from spectral.analysis.heatmap import fourier_heatmap
from spectral.attacks import make_attack, pgd_evaluation, transfer_attack
from spectral.data import ImageDataset
from spectral.defenses.blurnet import blackbox_blur_table
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.metrics import accuracy, auto_batch_size, available_memory, predict, robust_accuracy


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 3),
    ).double()


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(11, 3, 8, 8, generator=g, dtype=torch.float64), torch.arange(11) % 3


class Counting(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.sizes = inner, []  # type: ignore[var-annotated]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(int(x.shape[0]))
        return self.inner(x)


def test_activation_bytes_sums_the_leaf_outputs_of_one_image() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 3))
    # conv and relu: 4 x 8 x 8 floats each; flatten: 256; linear: 3 -- times 4 bytes
    assert batching.activation_bytes(net, torch.rand(7, 3, 8, 8)) == 4 * (256 + 256 + 256 + 3)
    net.train()
    batching.activation_bytes(net, torch.rand(7, 3, 8, 8))
    assert net.training  # left as found


def test_auto_batch_size_is_a_quarter_of_free_memory_over_the_per_image_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 3))
    x = torch.rand(2, 3, 8, 8)
    act, image = 4 * (3 * 256 + 3), 4 * 3 * 64
    backward, forward = 3 * act + 8 * image, act + 8 * image
    monkeypatch.setattr(batching, "available_memory", lambda _dev: 4 * 10 * backward)
    assert auto_batch_size(net, x) == 10
    assert auto_batch_size(net, x, backward=False) == (10 * backward) // forward
    monkeypatch.setattr(batching, "available_memory", lambda _dev: 1)
    assert auto_batch_size(net, x) == 1  # at least one image
    monkeypatch.setattr(batching, "available_memory", lambda _dev: 1 << 50)
    assert auto_batch_size(net, x) == 256  # at most 256


def test_available_memory_reads_meminfo() -> None:
    with open("/proc/meminfo") as fh:
        line = next(ln for ln in fh if ln.startswith("MemAvailable:"))
    expected = int(line.split()[1]) * 1024
    assert abs(available_memory("cpu") - expected) < 0.2 * expected


def test_none_means_auto_and_auto_means_batches(
    monkeypatch: pytest.MonkeyPatch, data: tuple[torch.Tensor, torch.Tensor]
) -> None:
    x, _ = data
    net = Counting(small_cnn())
    monkeypatch.setattr(batching, "auto_batch_size", lambda *a, **k: 4)
    predict(net, x)
    assert net.sizes[-3:] == [4, 4, 3]
    net.sizes.clear()
    predict(net, x, batch_size=100)
    assert net.sizes == [11]


@pytest.mark.parametrize(
    ("kw", "error"),
    [({"fraction": 0.0}, SpectralValueError), ({"fraction": 1.5}, SpectralValueError)],
)
def test_auto_batch_size_errors(kw: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        auto_batch_size(nn.Flatten(), torch.rand(1, 3, 2, 2), **kw)
    with pytest.raises(SpectralValueError, match="at least one image"):
        auto_batch_size(nn.Flatten(), torch.rand(0, 3, 2, 2))
    with pytest.raises(SpectralTypeError):
        auto_batch_size("net", torch.rand(1, 3, 2, 2))  # type: ignore[arg-type]


def test_attack_in_batches_checks_shapes_and_reports_progress() -> None:
    x, y = torch.rand(5, 1, 2, 2), torch.zeros(5, dtype=torch.long)
    seen: list[tuple[int, int]] = []
    out = batching.attack_in_batches(
        lambda a, b: a * 0.5, x, y, 2, lambda d, t: seen.append((d, t))
    )
    assert torch.equal(out, x * 0.5) and seen == [(2, 5), (4, 5), (5, 5)]
    with pytest.raises(SpectralValueError, match="expected adversarial images of shape"):
        batching.attack_in_batches(lambda a, b: a[:1], x, y, 2)


def test_predictions_and_gradients_do_not_depend_on_the_batch_size(
    data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = data
    net = small_cnn()
    assert torch.equal(predict(net, x, batch_size=3), predict(net, x, batch_size=1000))
    assert accuracy(net, x, y, batch_size=3) == accuracy(net, x, y)
    g3, g1000 = (input_gradients(net, x, y, batch_size=b) for b in (3, 1000))
    torch.testing.assert_close(g3, g1000, rtol=1e-12, atol=1e-12)
    i3, i1000 = (integrated_gradients(net, x, y, steps=4, batch_size=b) for b in (3, 1000))
    torch.testing.assert_close(i3, i1000, rtol=1e-12, atol=1e-12)
    h3, h1000 = (fourier_heatmap(net, x, y, eps=2.0, batch_size=b) for b in (3, 1000))
    assert torch.equal(h3, h1000)
    f3, f1000 = (feature_spectra(net, x, x, "0", batch_size=b)["0"] for b in (3, 1000))
    torch.testing.assert_close(f3.clean, f1000.clean)


def test_deterministic_attacks_do_not_depend_on_the_batch_size(
    data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = data
    net = small_cnn()
    runs = {b: attack_analysis({"net": net}, x, y, attack="fgsm", batch_size=b) for b in (3, 1000)}
    assert torch.equal(runs[3].adversarial["net"], runs[1000].adversarial["net"])
    assert (
        runs[3].metrics["net"]["attack_success_rate"]
        == runs[1000].metrics["net"]["attack_success_rate"]
    )
    fgsm = make_attack("fgsm", net, eps=0.1)
    assert robust_accuracy(net, fgsm, x, y, batch_size=3) == robust_accuracy(
        net, fgsm, x, y, batch_size=1000
    )
    t3, t1000 = (
        transfer_attack(net, small_cnn(1), x, y, attack="fgsm", batch_size=b) for b in (3, 1000)
    )
    assert torch.equal(t3.adversarial, t1000.adversarial)
    assert t3.target_success_rate == t1000.target_success_rate
    adv = runs[3].adversarial["net"]
    c3, c1000 = (
        calibration_analysis({"net": net}, x, y, {"net": adv}, attack="fgsm", eps=0.1, batch_size=b)
        for b in (3, 1000)
    )
    assert c3.metrics == c1000.metrics
    b3, b1000 = (
        blackbox_blur_table(
            net, x, y, attack="fgsm", sizes=(3,), positions=("input",), batch_size=b
        )
        for b in (3, 1000)
    )
    assert b3 == b1000


def test_pgd_evaluation_does_not_depend_on_the_batch_size(
    data: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = data
    ds = ImageDataset(x.float(), y, ("a", "b", "c"))
    net = small_cnn().float()
    r3, r1000 = (pgd_evaluation(net, ds, steps=3, batch_size=b) for b in (3, 1000))
    assert r3 == r1000 and r3 == pgd_evaluation(net, ds, steps=3)


def test_available_memory_respects_a_container_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text("1000000\n")
    usage.write_text("400000\n")
    monkeypatch.setattr(batching, "_CGROUP_FILES", ((str(limit), str(usage)),))
    assert available_memory("cpu") == 600000  # below MemAvailable: the cgroup's room
    limit.write_text("max\n")
    assert available_memory("cpu") > 600000  # unlimited: MemAvailable
