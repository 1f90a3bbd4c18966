"""One local stack per test module (per xdist worker running it), shared by its tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.blackbox.stack import Stack, running_stack
from tests.support.helpers import Signer


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, signer: Signer) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("devstack"), signer) as running:
        yield running
