"""spectral.metrics against hand computations on hand-built models."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.metrics import (
    accuracy,
    attack_success_rate,
    l2_dissimilarity,
    predict,
    robust_accuracy,
    targeted_success_rates,
)

# --------------------------------------------------------------------------------------
# hand-built models: logits are the pixel values, so argmax is readable off the image
# --------------------------------------------------------------------------------------


class ModeRecorder(nn.Module):
    """Identity that remembers the training flag it ran under."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(self.training)
        return x


def pixel_model(k: int) -> nn.Sequential:
    """Images (B, 1, 1, k) -> logits = the k pixel values (identity linear layer)."""
    lin = nn.Linear(k, k, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(k))
    return nn.Sequential(ModeRecorder(), nn.Flatten(), lin)


def imgs(rows: list[list[float]]) -> torch.Tensor:
    t = torch.tensor(rows, dtype=torch.float32)
    return t.reshape(t.shape[0], 1, 1, t.shape[1])


# preds: [0, 1, 1]
CLEAN = imgs([[0.9, 0.1], [0.2, 0.7], [0.4, 0.6]])


def test_predict_is_argmax_of_the_logits() -> None:
    model = pixel_model(2)
    out = predict(model, CLEAN)
    assert out.dtype == torch.long
    assert out.tolist() == [0, 1, 1]
    assert not out.requires_grad


@pytest.mark.parametrize("batch_size", [1, 2, 3, 256])
def test_predict_batching_does_not_change_the_result(batch_size: int) -> None:
    model = pixel_model(2)
    assert predict(model, CLEAN, batch_size=batch_size).tolist() == [0, 1, 1]


def test_predict_runs_in_eval_mode_and_restores_every_flag() -> None:
    model = pixel_model(2)
    model.train()
    model[2].eval()  # a mixed state must come back exactly
    predict(model, CLEAN, batch_size=2)
    recorder = model[0]
    assert recorder.seen == [False, False]  # two batches, both in eval mode
    assert [m.training for m in model] == [True, True, False]
    assert model.training


def test_predict_restores_flags_after_an_exception() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 2))  # wrong width for 2-pixel images
    model.train()
    with pytest.raises(RuntimeError):
        predict(model, CLEAN)
    assert all(m.training for m in model.modules())


def test_predict_rejects_non_logit_outputs() -> None:
    with pytest.raises(SpectralValueError, match="logits"):
        predict(nn.Identity(), CLEAN)  # returns a 4-D tensor


def test_accuracy_hand_computed() -> None:
    model = pixel_model(2)
    assert accuracy(model, CLEAN, torch.tensor([0, 0, 1])) == pytest.approx(2 / 3)
    assert accuracy(model, CLEAN, torch.tensor([0, 1, 1])) == 1.0
    assert accuracy(model, CLEAN, torch.tensor([1, 0, 0])) == 0.0
    assert isinstance(accuracy(model, CLEAN, torch.tensor([1, 0, 0])), float)


def test_attack_success_rate_counts_changed_predictions_not_wrong_ones() -> None:
    model = pixel_model(2)
    y = torch.tensor([1, 1, 1])
    # clean preds [0, 1, 1]; adversarial preds [1, 1, 0]
    adv = imgs([[0.3, 0.6], [0.1, 0.8], [0.7, 0.2]])
    assert predict(model, adv).tolist() == [1, 1, 0]
    asr = attack_success_rate(model, CLEAN, adv)
    assert asr == pytest.approx(2 / 3)  # images 0 and 2 changed
    # the label-based "error rate" differs: only image 2 is wrong afterwards
    assert 1 - accuracy(model, adv, y) == pytest.approx(1 / 3)
    assert asr != pytest.approx(1 - accuracy(model, adv, y))
    assert attack_success_rate(model, CLEAN, CLEAN) == 0.0
    assert attack_success_rate(model, CLEAN, adv, batch_size=1) == pytest.approx(2 / 3)


def test_l2_dissimilarity_hand_computed() -> None:
    clean = torch.tensor([[3.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]).reshape(2, 1, 2, 2)
    adv = torch.tensor([[3.0, 4.0, 0.0, 0.0], [1.0, 1.0, 1.0, 3.0]]).reshape(2, 1, 2, 2)
    # image 0: ||(0,-4,0,0)|| / ||(3,4,0,0)|| = 4/5; image 1: 2 / sqrt(12)
    expected = (4 / 5 + 2 / math.sqrt(12)) / 2
    assert l2_dissimilarity(clean, adv) == pytest.approx(expected, rel=1e-12)
    assert l2_dissimilarity(adv, adv) == 0.0


def test_l2_dissimilarity_norms_run_over_channels_too() -> None:
    clean = torch.zeros(1, 2, 1, 1)
    adv = torch.tensor([3.0, 4.0]).reshape(1, 2, 1, 1)
    assert l2_dissimilarity(clean, adv) == pytest.approx(1.0)  # 5 / 5, not per channel


def test_l2_dissimilarity_all_zero_adversarial_is_an_error() -> None:
    x = torch.rand(3, 1, 2, 2)
    adv = x.clone()
    adv[1] = 0
    with pytest.raises(SpectralValueError, match=r"indices \[1\]"):
        l2_dissimilarity(x, adv)


# --------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clean", "adv", "error", "match"),
    [
        (torch.rand(2, 1, 2, 2), torch.rand(3, 1, 2, 2), SpectralValueError, r"\(2, 1, 2, 2\)"),
        (torch.rand(2, 1, 2, 2), torch.rand(2, 1, 2, 2).double(), SpectralTypeError, "dtype"),
        (torch.rand(1, 2, 2), torch.rand(1, 2, 2), SpectralValueError, "4 dimensions"),
        (
            torch.ones(2, 1, 2, 2, dtype=torch.int64),
            torch.ones(2, 1, 2, 2),
            SpectralTypeError,
            "int64",
        ),
        (torch.rand(2, 1, 2, 2), torch.full((2, 1, 2, 2), math.nan), SpectralValueError, "NaN"),
        ([[0.0]], torch.rand(2, 1, 2, 2), SpectralTypeError, "Tensor"),
    ],
)
def test_pairwise_metrics_reject_bad_inputs(
    clean: Any, adv: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        l2_dissimilarity(clean, adv)
    with pytest.raises(error, match=match):
        attack_success_rate(pixel_model(2), clean, adv)


def test_bad_labels_and_models_raise_typed_errors() -> None:
    model = pixel_model(2)
    with pytest.raises(SpectralTypeError, match="integer"):
        accuracy(model, CLEAN, torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(SpectralValueError, match=r"expected shape \(3,\)"):
        accuracy(model, CLEAN, torch.tensor([0, 1]))
    with pytest.raises(SpectralValueError, match=">= 0"):
        accuracy(model, CLEAN, torch.tensor([0, -1, 1]))
    with pytest.raises(SpectralTypeError, match=r"nn\.Module"):
        predict(lambda x: x, CLEAN)  # type: ignore[arg-type]
    with pytest.raises(SpectralValueError, match="batch_size"):
        predict(model, CLEAN, batch_size=0)


# --------------------------------------------------------------------------------------
# robust_accuracy and targeted_success_rates with hand-made attacks
# --------------------------------------------------------------------------------------


def swap_pixels(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """An 'attack' that swaps the two logits, so every prediction flips."""
    return images.flip(-1)


def test_robust_accuracy_is_accuracy_on_the_attacked_images() -> None:
    model = pixel_model(2)
    y = torch.tensor([0, 1, 0])  # clean accuracy 2/3; after the swap preds are [1, 0, 0]
    assert accuracy(model, CLEAN, y) == pytest.approx(2 / 3)
    assert robust_accuracy(model, swap_pixels, CLEAN, y) == pytest.approx(1 / 3)
    assert robust_accuracy(model, swap_pixels, CLEAN, y, batch_size=1) == pytest.approx(1 / 3)


def test_robust_accuracy_checks_what_the_attack_returns() -> None:
    with pytest.raises(SpectralValueError, match="attack"):
        robust_accuracy(pixel_model(2), lambda x, y: x[:1], CLEAN, torch.tensor([0, 1, 0]))
    with pytest.raises(SpectralTypeError, match="callable"):
        robust_accuracy(pixel_model(2), "pgd", CLEAN, torch.tensor([0, 1, 0]))  # type: ignore[arg-type]


class OneHotAttack:
    """Targeted fake: turns each image into the one-hot of its target (if allowed)."""

    def __init__(self, succeed_on: set[int], log: list[tuple[torch.Tensor, torch.Tensor]]):
        self.succeed_on = succeed_on
        self.log = log
        self.targeted = False

    def set_mode_targeted_by_label(self, quiet: bool = False) -> None:
        self.targeted = True

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        assert self.targeted
        self.log.append((images.clone(), labels.clone()))
        out = images.clone()
        for i, t in enumerate(labels.tolist()):
            if t in self.succeed_on:
                out[i] = 0.0
                out[i, 0, 0, t] = 1.0
        return out


def test_targeted_success_rates_per_target_average_worst() -> None:
    k = 3
    model = pixel_model(k)
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    x = torch.eye(k)[labels].reshape(6, 1, 1, k) * 0.8 + 0.1  # correctly classified
    log: list[tuple[torch.Tensor, torch.Tensor]] = []
    out = targeted_success_rates(
        model, x, labels, lambda: OneHotAttack({0}, log), num_classes=k, batch_size=4
    )
    assert set(out) == {"per_target", "average", "worst", "l2_distortion", "success"}
    assert out["per_target"] == {0: 1.0, 1: 0.0, 2: 0.0}
    # per-image outcomes: NaN where the image is of the target class, else 0/1
    s = out["success"]
    assert s.shape == (6, k) and torch.equal(s.isnan(), labels[:, None] == torch.arange(k))
    assert [float(s[:, t].nanmean()) for t in range(k)] == [1.0, 0.0, 0.0]
    # L2 distortion: mean over targets of l2_dissimilarity on that target's attacked images
    expect = []
    for t in range(k):
        xt = x[labels != t]
        fake = OneHotAttack({0}, [])
        fake.set_mode_targeted_by_label()
        adv = fake(xt, torch.full((len(xt),), t))
        expect.append(l2_dissimilarity(xt, adv))
    assert out["l2_distortion"] == pytest.approx(sum(expect) / k)
    assert out["average"] == pytest.approx(1 / 3)
    assert out["worst"] == 1.0
    assert all(isinstance(v, float) for v in out["per_target"].values())
    # images of class t are excluded: per target, attacked = those with label != t
    seen: dict[int, list[torch.Tensor]] = {0: [], 1: [], 2: []}
    for images, targets in log:
        t = int(targets[0])
        assert torch.all(targets == t)
        seen[t].append(images)
    for t in range(k):
        attacked = torch.cat(seen[t])
        assert torch.equal(attacked, x[labels != t])
        assert not (predict(model, attacked) == t).any()


def test_targeted_success_rates_validation() -> None:
    model = pixel_model(2)
    x, y = CLEAN, torch.tensor([0, 1, 1])

    def factory() -> OneHotAttack:
        return OneHotAttack({0, 1}, [])

    with pytest.raises(SpectralValueError, match=r"\[0, 2\)"):
        targeted_success_rates(model, x, torch.tensor([0, 1, 2]), factory, num_classes=2)
    with pytest.raises(SpectralValueError, match="num_classes"):
        targeted_success_rates(model, x, y, factory, num_classes=1)
    with pytest.raises(SpectralValueError, match="other than target 1"):
        targeted_success_rates(model, x, torch.tensor([1, 1, 1]), factory, num_classes=2)
    with pytest.raises(SpectralTypeError, match="set_mode_targeted_by_label"):
        targeted_success_rates(model, x, y, lambda: swap_pixels, num_classes=2)
    out = targeted_success_rates(model, x, y, factory, num_classes=2)
    l2 = out.pop("l2_distortion")
    assert float(out.pop("success").nansum()) == 3.0  # every attacked image succeeded
    assert out == {"per_target": {0: 1.0, 1: 1.0}, "average": 1.0, "worst": 1.0}
    assert l2 > 0
