"""Helpers shared across the subpackages (not public API: names here may change)."""
