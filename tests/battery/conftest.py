"""The hardening battery (issue #8): hostile input, load and faults."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "battery: the hardening battery (BATTERY_PROFILE=ci|long)")
