"""spectral.attacks on tiny models trained in-test on a synthetic 3-class task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

torchattacks = pytest.importorskip("torchattacks")

from spectral.attacks import AttackName, TransferResult, make_attack, transfer_attack  # noqa: E402  # noqa: E402
from spectral.attacks.rp2 import RP2  # noqa: E402
from spectral.errors import SpectralTypeError, SpectralValueError  # noqa: E402
from spectral.metrics import (  # noqa: E402  # noqa: E402
    accuracy,
    attack_success_rate,
    l2_dissimilarity,
    predict,
    targeted_success_rates,
)

K = 3  # classes
SHAPE = (3, 8, 8)


# --------------------------------------------------------------------------------------
# the tiny task
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """These tensors are tiny: one thread is faster and steadier on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def make_data(n_per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class k = a fixed random prototype image + pixel noise, in [0, 1]."""
    protos = torch.rand(K, *SHAPE, generator=torch.Generator().manual_seed(123)) * 0.2 + 0.4
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(K).repeat_interleave(n_per_class)
    x = (protos[y] + 0.1 * torch.randn(len(y), *SHAPE, generator=g)).clamp(0, 1)
    return x, y


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for p in model.parameters():  # re-initialise under the seed
            if p.ndim > 1:
                nn.init.kaiming_uniform_(p, a=5**0.5)
            else:
                nn.init.uniform_(p, -0.1, 0.1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(200):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    for p in model.parameters():
        p.grad = None
    return model.eval()


def tiny_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.AvgPool2d(4),
        nn.Flatten(),
        nn.Linear(24, K),
    )


def tiny_linear() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(192, K))


@pytest.fixture(scope="module")
def task() -> dict[str, Any]:
    x_train, y_train = make_data(40, seed=0)
    x, y = make_data(10, seed=1)
    cnn = train(tiny_cnn(), x_train, y_train, seed=0)
    lin = train(tiny_linear(), x_train, y_train, seed=1)
    assert accuracy(cnn, x, y) >= 0.85
    assert accuracy(lin, x, y) >= 0.85
    return {"x": x, "y": y, "cnn": cnn, "lin": lin}


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_state_equal(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for k in before:
        assert torch.equal(after[k], before[k]), k
    assert all(p.grad is None for p in model.parameters())


# --------------------------------------------------------------------------------------
# make_attack
# --------------------------------------------------------------------------------------

EXPECTED_CLASS = {
    "fgsm": "FGSM",
    "pgd": "PGD",
    "pgdl2": "PGDL2",
    "cw": "CW",
    "deepfool": "DeepFool",
    "autoattack": "AutoAttack",
    "square": "Square",
    "apgd": "APGD",
    "bim": "BIM",
    "mifgsm": "MIFGSM",
    "fab": "FAB",
}


def test_attack_names_are_lower_case_values() -> None:
    assert {n.value for n in AttackName} >= set(EXPECTED_CLASS)
    assert all(n.value == n.value.lower() for n in AttackName)
    assert AttackName("pgd") is AttackName.PGD and AttackName.PGD == "pgd"


@pytest.mark.parametrize("name", sorted(EXPECTED_CLASS))
def test_make_attack_builds_the_torchattacks_class(name: str) -> None:
    model = tiny_linear()
    atk = (
        make_attack(name, model, n_classes=K) if name == "autoattack" else make_attack(name, model)
    )
    assert isinstance(atk, getattr(torchattacks, EXPECTED_CLASS[name]))
    assert isinstance(atk, torchattacks.attack.Attack)
    assert atk.model is model
    assert make_attack(
        AttackName(name), model, **({"n_classes": K} if name == "autoattack" else {})
    )


def test_make_attack_translates_parameters() -> None:
    model = tiny_linear()
    pgd = make_attack("PGD", model, eps=0.1, steps=7)
    assert (pgd.eps, pgd.alpha, pgd.steps, pgd.random_start) == (0.1, 0.025, 7, True)
    assert make_attack("pgd", model, eps=0.1, step_size=0.01).alpha == 0.01
    for name in ("bim", "mifgsm", "pgdl2"):
        atk = make_attack(name, model, eps=0.4, steps=3)
        assert (atk.eps, atk.alpha, atk.steps) == (0.4, 0.1, 3)
    cw = make_attack("cw", model, steps=20, c=2.0, kappa=0.5, lr=0.05)
    assert (cw.c, cw.kappa, cw.steps, cw.lr) == (2.0, 0.5, 20, 0.05)
    df = make_attack("deepfool", model, steps=5, overshoot=0.1)
    assert (df.steps, df.overshoot) == (5, 0.1)
    aa = make_attack("autoattack", model, eps=0.05, n_classes=7, seed=3)
    assert (aa.norm, aa.version, aa.n_classes, aa.seed, aa.eps) == ("Linf", "standard", 7, 3, 0.05)
    sq = make_attack("square", model, n_queries=50, seed=4)
    assert (sq.n_queries, sq.seed, sq.norm) == (50, 4, "Linf")
    apgd = make_attack("apgd", model, steps=4, norm="L2", eps=0.5)
    assert (apgd.steps, apgd.norm, apgd.eps) == (4, "L2", 0.5)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(SpectralValueError, match=r"name: expected one of .*got 'pgdx'") as info:
        make_attack("pgdx", tiny_linear())
    for name in EXPECTED_CLASS:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eps": 0.0}, "eps"),
        ({"eps": -0.1}, "eps"),
        ({"steps": 0}, "steps"),
        ({"step_size": 0.0}, "step_size"),
        ({"alpha": 0.01}, "called step_size here"),
        ({"c": 1.0}, r"unknown option\(s\) \['c'\]"),
        ({"targeted": True, "name": "deepfool"}, "no by-label targeted mode"),
        ({"targeted": True, "name": "fab"}, "no by-label targeted mode"),
        ({"name": "autoattack"}, "n_classes"),
        ({"name": "apgd", "norm": "L1"}, "norm"),
    ],
)
def test_make_attack_rejects_bad_options(kwargs: dict[str, Any], match: str) -> None:
    name = kwargs.pop("name", "pgd")
    with pytest.raises(SpectralValueError, match=match):
        make_attack(name, tiny_linear(), **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("fgsm", {}),
        ("pgd", {}),
        ("bim", {}),
        ("mifgsm", {}),
        ("apgd", {}),
        ("square", {}),
        ("fab", {}),
        ("autoattack", {"n_classes": 3}),
        ("apgdt", {"n_classes": 4}),
    ],
)
def test_linf_eps_above_one_suggests_pixel_units(name: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(SpectralValueError) as info:
        make_attack(name, tiny_linear(), eps=8, **kwargs)
    msg = str(info.value)
    assert msg.startswith("eps: expected an L-inf budget in (0, 1]"), msg
    assert "got 8; did you mean 8/255 = 0.03137?" in msg
    make_attack(name, tiny_linear(), eps=1.0, **kwargs)  # the whole range is allowed


def test_l2_eps_may_exceed_one() -> None:
    assert make_attack("pgdl2", tiny_linear(), eps=8.0).eps == 8.0
    assert make_attack("apgd", tiny_linear(), eps=3.0, norm="L2").eps == 3.0
    make_attack("cw", tiny_linear(), eps=5.0)  # eps unused: only > 0 is checked


def test_make_attack_type_errors() -> None:
    with pytest.raises(SpectralTypeError, match=r"nn\.Module"):
        make_attack("pgd", lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(SpectralTypeError, match="steps"):
        make_attack("pgd", tiny_linear(), steps=2.5)  # type: ignore[arg-type]
    with pytest.raises(SpectralTypeError, match="name"):
        make_attack(3, tiny_linear())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["fgsm", "pgd", "bim", "mifgsm"])
def test_linf_attacks_stay_in_the_ball_and_in_range(task: dict[str, Any], name: str) -> None:
    x, y = task["x"].clone(), task["y"]
    x[0] = 0.0  # pixels at the borders of [0, 1]
    x[1] = 1.0
    eps = 8 / 255
    adv = make_attack(name, task["cnn"], eps=eps, steps=5)(x, y)
    assert adv.shape == x.shape and adv.dtype == x.dtype
    assert float((adv - x).abs().max()) <= eps + 1e-6
    assert float((adv - x).abs().max()) >= eps / 2  # it did move
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0


RUN_OPTIONS: dict[str, dict[str, Any]] = {
    "fgsm": {},
    "pgd": {},
    "pgdl2": {"eps": 0.5},
    "cw": {"steps": 20},
    "deepfool": {"steps": 10},
    "autoattack": {"n_classes": K},
    "square": {"n_queries": 100},
    "apgd": {},
    "bim": {},
    "mifgsm": {},
    "fab": {},
}


@pytest.mark.parametrize("name", sorted(RUN_OPTIONS))
def test_every_attack_runs_and_fools_the_tiny_model(task: dict[str, Any], name: str) -> None:
    x, y, model = task["x"][:9], task["y"][:9], task["cnn"]
    adv = make_attack(name, model, **RUN_OPTIONS[name])(x, y)
    assert adv.shape == x.shape and adv.dtype == x.dtype and not adv.requires_grad
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert accuracy(model, adv, y) <= accuracy(model, x, y) - 0.5


def test_pgdl2_eps_is_an_l2_radius(task: dict[str, Any]) -> None:
    x, y = task["x"], task["y"]
    adv = make_attack("pgdl2", task["cnn"], eps=0.5, steps=5)(x, y)
    norms = (adv - x).flatten(1).norm(dim=1)
    assert float(norms.max()) <= 0.5 + 1e-5
    assert float(norms.max()) > 0.25


def test_pgd_lowers_accuracy(task: dict[str, Any]) -> None:
    x, y, model = task["x"], task["y"], task["cnn"]
    clean = accuracy(model, x, y)
    adv = make_attack("pgd", model, eps=8 / 255, steps=10)(x, y)
    robust = accuracy(model, adv, y)
    assert clean >= 0.85
    assert robust <= clean - 0.5


def test_targeted_pgd_reaches_the_target_more_often_than_untargeted(
    task: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    x, y, model = task["x"], task["y"], task["cnn"]
    target = (y + 1) % K
    atk = make_attack("pgd", model, eps=8 / 255, steps=10, targeted=True)
    assert atk.targeted and atk.attack_mode == "targeted(label)"
    assert capsys.readouterr().out == ""  # quiet, unlike torchattacks' default
    adv_t = atk(x, target)
    adv_u = make_attack("pgd", model, eps=8 / 255, steps=10)(x, y)
    hit_t = float((predict(model, adv_t) == target).float().mean())
    hit_u = float((predict(model, adv_u) == target).float().mean())
    assert hit_t >= 0.8
    assert hit_t > hit_u + 0.2


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("pgd", {}),
        ("cw", {"steps": 5}),  # calls loss.backward(): would fill the parameters' .grad
        ("deepfool", {"steps": 3}),  # backward() per logit
        ("square", {"n_queries": 20}),
        ("apgd", {"steps": 3}),
    ],
)
def test_attacks_leave_the_model_as_found(
    task: dict[str, Any], name: str, kw: dict[str, Any]
) -> None:
    model = task["cnn"]
    before = state(model)
    model.train()
    model[2].eval()  # mixed flags: torchattacks alone would turn them all to train
    try:
        atk = make_attack(name, model, **kw)
        atk(task["x"][:6], task["y"][:6])
        assert model.training and [m.training for m in model] == [
            True,
            True,
            False,
            True,
            True,
            True,
        ]
        assert_state_equal(model, before)
    finally:
        model.eval()


class Flaky(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(192, K)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls > 2:
            raise RuntimeError("boom")
        return self.lin(x.flatten(1))


def test_training_flag_restored_when_the_attack_fails() -> None:
    model = Flaky().train()
    with pytest.raises(RuntimeError, match="boom"):
        make_attack("pgd", model, steps=5)(torch.rand(2, *SHAPE), torch.tensor([0, 1]))
    assert model.training and model.lin.training
    assert model.lin.weight.grad is None


def test_attacks_are_deterministic_for_a_seed_and_keep_the_global_rng(
    task: dict[str, Any],
) -> None:
    x, y, model = task["x"], task["y"], task["cnn"]
    rng = torch.get_rng_state()
    a = make_attack("pgd", model, steps=2, seed=5)(x, y)
    b = make_attack("pgd", model, steps=2, seed=5)(x, y)
    c = make_attack("pgd", model, steps=2, seed=6)(x, y)
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)  # the random start depends on the seed
    atk = make_attack("pgd", model, steps=2, seed=5)
    assert torch.equal(atk(x, y), atk(x, y))  # and repeats call after call


# --------------------------------------------------------------------------------------
# transfer_attack
# --------------------------------------------------------------------------------------


def test_transfer_attack_numbers_match_the_metrics(task: dict[str, Any]) -> None:
    x, y, surrogate, target = task["x"], task["y"], task["lin"], task["cnn"]
    res = transfer_attack(surrogate, target, x, y, attack="pgd", eps=16 / 255, steps=10)
    assert isinstance(res, TransferResult)
    adv = res.adversarial
    assert adv.shape == x.shape
    assert float((adv - x).abs().max()) <= 16 / 255 + 1e-6
    assert res.surrogate_success_rate == attack_success_rate(surrogate, x, adv)
    assert res.target_success_rate == attack_success_rate(target, x, adv)
    assert res.target_clean_accuracy == accuracy(target, x, y)
    assert res.target_adversarial_accuracy == accuracy(target, adv, y)
    assert res.l2_dissimilarity == l2_dissimilarity(x, adv)
    # the white-box model is fooled; the transfer hurts the black-box target too
    assert res.surrogate_success_rate >= 0.8
    assert res.target_adversarial_accuracy < res.target_clean_accuracy
    # crafted on the surrogate only: same images as attacking the surrogate directly
    assert torch.equal(adv, make_attack("pgd", surrogate, eps=16 / 255, steps=10)(x, y))
    d = json.loads(json.dumps(res.to_dict()))
    assert d["attack"] == "pgd" and d["n_images"] == len(x)
    assert d["target_success_rate"] == res.target_success_rate
    with pytest.raises(AttributeError):
        res.eps = 1.0  # type: ignore[misc]


# --------------------------------------------------------------------------------------
# RP2
# --------------------------------------------------------------------------------------


def patch_mask() -> torch.Tensor:
    m = torch.zeros(8, 8)
    m[2:6, 2:6] = 1
    return m


def test_rp2_perturbs_only_inside_the_mask_and_stays_in_range(task: dict[str, Any]) -> None:
    x, y, model = task["x"].clone(), task["y"], task["cnn"]
    x[0] = 1.0
    x[1] = 0.0
    mask = patch_mask()
    adv = RP2(model, mask, steps=20, lr=0.05)(x, (y + 1) % K)
    outside = ~mask.bool().expand_as(x)
    assert torch.equal(adv[outside], x[outside])
    assert float((adv - x)[~outside].abs().max()) > 0.05
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0


def test_rp2_beats_a_random_masked_perturbation_of_the_same_norm(task: dict[str, Any]) -> None:
    x, y, model = task["x"], task["y"], task["cnn"]
    target = (y + 1) % K
    mask = patch_mask()
    adv = RP2(model, mask, steps=40, lr=0.05)(x, target)
    rp2_rate = float((predict(model, adv) == target).float().mean())
    norms = (adv - x).flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(9)) * mask
    noise = noise / noise.flatten(1).norm(dim=1).view(-1, 1, 1, 1) * norms
    base = (x + noise).clamp(0, 1)
    base_rate = float((predict(model, base) == target).float().mean())
    assert rp2_rate >= 0.8
    assert rp2_rate > base_rate + 0.4


def test_rp2_lambda_trades_norm_for_success(task: dict[str, Any]) -> None:
    x, y, model = task["x"], task["y"], task["cnn"]
    target = (y + 1) % K

    def run(lam: float) -> tuple[float, float]:
        adv = RP2(model, patch_mask(), lam=lam, steps=40, lr=0.05)(x, target)
        rate = float((predict(model, adv) == target).float().mean())
        return rate, float((adv - x).flatten(1).norm(dim=1).mean())

    (rate0, norm0), (rate1, norm1) = run(0.0), run(1.0)
    assert norm1 < 0.5 * norm0
    assert rate1 >= 0.5 and rate0 >= 0.8


def test_rp2_respects_the_linf_bound(task: dict[str, Any]) -> None:
    x, y = task["x"], task["y"]
    adv = RP2(task["cnn"], patch_mask(), eps=0.05, steps=15, lr=0.05)(x, (y + 1) % K)
    assert float((adv - x).abs().max()) <= 0.05 + 1e-6
    assert float((adv - x).abs().max()) >= 0.04


def test_rp2_is_deterministic_and_leaves_the_model_as_found(task: dict[str, Any]) -> None:
    x, target, model = task["x"][:9], (task["y"][:9] + 1) % K, task["cnn"]
    before = state(model)
    rng = torch.get_rng_state()
    model.train()
    try:
        a = RP2(model, patch_mask(), steps=5, lr=0.05, seed=1)(x, target)
        assert model.training and all(m.training for m in model)
        b = RP2(model, patch_mask(), steps=5, lr=0.05, seed=1)(x, target)
        c = RP2(model, patch_mask(), steps=5, lr=0.05, seed=2)(x, target)
    finally:
        model.eval()
    assert torch.equal(a, b)
    assert not torch.equal(a, c)  # other random transformations
    assert torch.equal(torch.get_rng_state(), rng)
    assert_state_equal(model, before)


def test_rp2_mask_shapes_agree(task: dict[str, Any]) -> None:
    x, target, model = task["x"][:6], (task["y"][:6] + 1) % K, task["cnn"]
    m = patch_mask()
    outs = [
        RP2(model, mask, steps=5, lr=0.05)(x, target)
        for mask in (m, m[None], m.expand(3, 8, 8), m.expand(6, 3, 8, 8).clone().bool())
    ]
    for out in outs[1:]:
        assert torch.equal(out, outs[0])
    # a per-image mask: image 0 keeps the patch, image 1 gets nothing
    per_image = m.expand(2, 3, 8, 8).clone()
    per_image[1] = 0
    out = RP2(model, per_image, steps=5, lr=0.05)(x[:2], target[:2])
    assert torch.equal(out[1], x[1])
    assert not torch.equal(out[0], x[0])
    # no mask: the whole image may change
    full = RP2(model, None, steps=5, lr=0.05)(x, target)
    assert bool(((full - x).abs() > 0)[:, :, 0, 0].any())


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (torch.ones(8), SpectralValueError, "mask"),
        (torch.ones(1, 1, 1, 8, 8), SpectralValueError, "mask"),
        (torch.full((8, 8), 0.5), SpectralValueError, "binary"),
        ([[1.0]], SpectralTypeError, "mask"),
    ],
)
def test_rp2_rejects_bad_masks_at_construction(mask: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RP2(tiny_linear(), mask)


@pytest.mark.parametrize("shape", [(8, 7), (2, 8, 8), (5, 3, 8, 8), (1, 2, 8, 8)])
def test_rp2_rejects_masks_that_do_not_fit_the_images(shape: tuple[int, ...]) -> None:
    atk = RP2(tiny_linear(), torch.ones(shape), steps=1)
    with pytest.raises(SpectralValueError, match=r"mask: expected a shape broadcastable"):
        atk(torch.rand(4, *SHAPE), torch.zeros(4, dtype=torch.long))


def test_rp2_rejects_bad_options_and_images() -> None:
    model = tiny_linear()
    for kw in ({"steps": 0}, {"lr": 0.0}, {"eps": -1.0}, {"max_scale": 1.0}, {"p": 0.5}):
        with pytest.raises(SpectralValueError):
            RP2(model, **kw)
    with pytest.raises(SpectralValueError, match=r"\[0, 1\]"):
        RP2(model, steps=1)(torch.rand(2, *SHAPE) + 1.0, torch.tensor([0, 1]))


# --------------------------------------------------------------------------------------
# targeted_success_rates with a real attack
# --------------------------------------------------------------------------------------


def test_targeted_success_rates_with_a_strong_pgd(task: dict[str, Any]) -> None:
    x, y, model = task["x"], task["y"], task["cnn"]
    out = targeted_success_rates(
        model,
        x,
        y,
        lambda: make_attack("pgd", model, eps=0.15, steps=20),
        num_classes=K,
        batch_size=16,
    )
    rates = out["per_target"]
    assert sorted(rates) == list(range(K))
    assert out["average"] == pytest.approx(sum(rates.values()) / K)
    assert out["worst"] == max(rates.values())
    assert out["average"] > 0.5
    # a weak budget does worse on average
    weak = targeted_success_rates(
        model, x, y, lambda: make_attack("fgsm", model, eps=1 / 255), num_classes=K
    )
    assert weak["average"] < out["average"]


def test_targeted_success_rates_rejects_an_untargetable_attack(task: dict[str, Any]) -> None:
    with pytest.raises(SpectralValueError, match="no targeted mode"):
        targeted_success_rates(
            task["cnn"],
            task["x"],
            task["y"],
            lambda: torchattacks.DeepFool(task["cnn"], steps=1),
            num_classes=K,
        )


def test_apgdt_needs_n_classes_and_builds_torchattacks_apgdt() -> None:
    import torchattacks

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    with pytest.raises(SpectralValueError, match="n_classes"):
        make_attack("apgdt", model, eps=8 / 255)
    with pytest.raises(SpectralValueError, match="n_classes"):
        make_attack("apgdt", model, eps=8 / 255, n_classes=3)  # DLR needs 4 logits
    atk = make_attack("apgdt", model, eps=8 / 255, steps=3, n_classes=4, seed=0)
    assert isinstance(atk, torchattacks.APGDT) and atk.n_target_classes == 3


def test_apgd_robust_accuracy_counts_survivors_of_both_attacks() -> None:
    from spectral.attacks import apgd_robust_accuracy
    from spectral.metrics import predict

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))
    x = torch.rand(40, 3, 2, 2)
    y = predict(model, x)
    y[:10] = (y[:10] + 1) % 5  # ten images misclassified from the start
    calls = []
    r = apgd_robust_accuracy(
        model,
        x,
        y,
        eps=0.05,
        steps=5,
        n_classes=5,
        batch_size=16,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert r["n"] == 40 and r["clean_correct"] == 30
    assert r["clean_correct"] >= r["apgd_ce_correct"] >= r["apgd_t_correct"] >= 0
    assert r["robust_accuracy"] == r["apgd_t_correct"] / 40
    assert calls == [(16, 40), (32, 40), (40, 40)]
    # the first stage's count is real: APGD-CE alone on the clean-correct images
    ok = (predict(model, x) == y).nonzero().flatten()
    ce = make_attack("apgd", model, eps=0.05, steps=5, loss="ce", seed=0)
    survived = 0
    for part in ok.split(16):
        survived += int((predict(model, ce(x[part], y[part])) == y[part]).sum())
    assert r["apgd_ce_correct"] <= survived + 2  # batches differ, the random starts too
    # a larger budget breaks more images, never fewer (APGD on a linear model)
    big = apgd_robust_accuracy(model, x, y, eps=0.5, steps=5, n_classes=5)
    assert big["robust_accuracy"] <= r["robust_accuracy"]
    assert big["robust_accuracy"] < 0.75
    with pytest.raises(SpectralValueError, match="labels"):
        apgd_robust_accuracy(model, x, y[:3], n_classes=5)
