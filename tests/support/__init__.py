"""Fakes, builders and helpers shared by the unit and scenario tests."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
