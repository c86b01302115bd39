"""Attacks: make_attack (torchattacks by name), band-limited PGD, APGD, transfer, RP2.

``resumable`` keeps finished attack batches, so an interrupted run continues.
"""

from __future__ import annotations

from spectral._internal.checkpoint import resumable
from spectral.attacks.autoattack import apgd_robust_accuracy
from spectral.attacks.band import BandPGD
from spectral.attacks.batched import run_attack
from spectral.attacks.factory import AttackName, make_attack, parse_attack_name
from spectral.attacks.pgd import pgd_attack, pgd_evaluation
from spectral.attacks.rp2 import RP2
from spectral.attacks.rp2_universal import UniversalRP2
from spectral.attacks.transfer import TransferResult, transfer_attack

__all__ = [
    "RP2",
    "AttackName",
    "BandPGD",
    "TransferResult",
    "UniversalRP2",
    "apgd_robust_accuracy",
    "make_attack",
    "parse_attack_name",
    "pgd_attack",
    "pgd_evaluation",
    "resumable",
    "run_attack",
    "transfer_attack",
]
