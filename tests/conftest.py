"""Shared fixtures: every test starts from the same seeds."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Parallel test workers share the machine's cores: one thread each (set before torch is
    # imported, and inherited by the commands the tests start) instead of each worker's torch
    # running as many threads as there are cores, which oversubscribes them several times over.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def messages_on_the_console() -> None:
    # As the command line and the API show them: a test that calls a layer below the app
    # reads its messages on stdout and stderr, whatever other tests ran before it.
    from nas.app._console import show_messages

    show_messages()


@pytest.fixture(autouse=True)
def seeded() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # CUDA-only tests are marked `gpu`; without a device they are skipped with a reason,
    # never silently passed.
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    from tests.servers import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> str:
    from tests.servers import fresh_database

    return fresh_database(postgres_admin_url)


@pytest.fixture(scope="session")
def mariadb_admin_url() -> Iterator[str]:
    from tests.servers import mariadb_server

    with mariadb_server() as url:
        yield url


@pytest.fixture
def mariadb_url(mariadb_admin_url: str) -> str:
    from tests.servers import fresh_database

    return fresh_database(mariadb_admin_url)
