"""The layering the code relies on: services free of Slack, blocks pure builders.

Every import anywhere in a module counts (top level, inside functions, under TYPE_CHECKING).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# services/ decides and records; only the Slack adapter, handlers/ and bot/ talk to Slack, and
# only connectors/ talk to vendors (services see them through interfaces such as PaymentProvider).
SERVICES_FORBIDDEN = ("blocks", "slack_sdk", "slack_bolt", "slack_adapter", "connectors")
# blocks/ builds Block Kit JSON: no Web API client, no HTTP.
BLOCKS_FORBIDDEN = ("slack_sdk.web", "slack_sdk.http_retry", "slack_bolt", "httpx", "aiohttp")

# Exceptions to the rule above: none. A module listed here must still need its exception.
SERVICES_ALLOWED: dict[str, frozenset[str]] = {}


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, as written (``from x import y`` counts as ``x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden(names: set[str], prefixes: tuple[str, ...]) -> set[str]:
    """The forbidden prefixes ``names`` reach (``slack_sdk`` matches ``slack_sdk.errors``)."""
    return {p for p in prefixes for n in names if n == p or n.startswith(f"{p}.")}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", modules("services"), ids=relative)
def test_services_import_no_slack_and_no_blocks(path: Path) -> None:
    allowed = SERVICES_ALLOWED.get(relative(path), frozenset())
    assert forbidden(imported(path), SERVICES_FORBIDDEN) <= allowed


@pytest.mark.parametrize("path", modules("blocks"), ids=relative)
def test_blocks_are_pure_builders(path: Path) -> None:
    assert not forbidden(imported(path), BLOCKS_FORBIDDEN)


def test_the_allow_list_names_only_modules_that_still_need_it() -> None:
    for name, allowed in SERVICES_ALLOWED.items():
        path = ROOT / name
        if path.exists():
            assert forbidden(imported(path), SERVICES_FORBIDDEN) == allowed, name


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import slack_sdk.web\n"
        "if TYPE_CHECKING:\n"
        "    from blocks.audit import thread_note\n"
        "def f() -> None:\n"
        "    from slack_adapter import notes\n"
        "    import slack_bolt\n"
        "    from connectors.plisio import PlisioClient\n"
        "import blockstack\n",
        encoding="utf-8",
    )
    assert forbidden(imported(module), SERVICES_FORBIDDEN) == set(SERVICES_FORBIDDEN)
    assert forbidden({"blockstack", "slack_sdkx"}, SERVICES_FORBIDDEN) == set()
