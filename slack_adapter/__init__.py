"""The Slack adapter: the one place outside ``handlers/`` and ``bot/`` that talks to Slack."""

from __future__ import annotations

from slack_adapter.adapter import SlackAdapter, build_slack_adapter

__all__ = ["SlackAdapter", "build_slack_adapter"]
