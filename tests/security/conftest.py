"""Every test under tests/security/ is an attack on the product and carries the ``security``
marker, so ``pytest -m security`` runs the whole group after any change."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.security)
