"""One connected system's section on a handoff's message (what each renderer returns).

Its own module so that the per-system renderers (``blocks/context_*.py``) and
``blocks.handoff_context``, which registers them, do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ContextSection", "Renderer"]


@dataclass(frozen=True, slots=True)
class ContextSection:
    """One system's section: its title, a few lines of finished mrkdwn (a renderer escapes what
    it took from the vendor, and may add links and mentions), a link to the system."""

    title: str
    lines: tuple[str, ...] = ()
    url: str | None = None
    url_label: str | None = None


Renderer = Callable[[Mapping[str, Any]], ContextSection | None]
