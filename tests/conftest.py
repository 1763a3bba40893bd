from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.db.engine import Database
from services.routing import RoutingConfig
from tests.support.db import fresh_database
from tests.support.routing import make_routing


@pytest.fixture
def routing() -> RoutingConfig:
    return make_routing()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as db:
        yield db
