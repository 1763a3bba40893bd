"""Block Kit as Slack checks it: block and view limits, answered as Slack's own error lines.

``validate_blocks`` and ``validate_view`` return what they were given when Slack would accept it,
else raise ``SlackError("invalid_blocks" | "invalid_arguments", "[ERROR] ... [json-pointer:...]")``.
The numbers are Slack's published Block Kit limits, not the bot's.
"""

from __future__ import annotations

from sandbox.slack_objects import JsonDict, SlackError

__all__ = ["MESSAGE_BLOCK_LIMIT", "VIEW_BLOCK_LIMIT", "validate_blocks", "validate_view"]

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100


class _Problems:
    """Collects Slack-style ``[ERROR] ... [json-pointer:...]`` lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, pointer: str, problem: str) -> None:
        self.lines.append(f"[ERROR] {problem} [json-pointer:{pointer}]")

    def max_len(self, value: object, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(pointer, f"must be less than {limit + 1} characters")

    def max_items(self, value: object, limit: int, pointer: str) -> None:
        if isinstance(value, list) and len(value) > limit:
            self.add(pointer, f"no more than {limit} items allowed")

    def text(
        self, obj: object, limit: int, pointer: str, *, required: bool = False, plain: bool = False
    ) -> None:
        if obj is None:
            if required:
                self.add(pointer, "must provide an object")
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            self.add(pointer, "must be a text object")
            return
        allowed = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        if obj.get("type") not in allowed:
            self.add(f"{pointer}/type", f"must be one of {', '.join(allowed)}")
        if not obj["text"]:
            self.add(f"{pointer}/text", "must be more than 0 characters")
        self.max_len(obj["text"], limit, f"{pointer}/text")

    def confirm(self, obj: object, pointer: str) -> None:
        if not isinstance(obj, dict):
            self.add(pointer, "must be a confirmation object")
            return
        for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
            self.text(obj.get(key), limit, f"{pointer}/{key}", required=key != "deny")

    def options(self, items: object, pointer: str) -> None:
        if not isinstance(items, list):
            self.add(pointer, "must be an array")
            return
        self.max_items(items, 100, pointer)
        for i, option in enumerate(items):
            if not isinstance(option, dict):
                self.add(f"{pointer}/{i}", "must be an option object")
                continue
            self.text(option.get("text"), 75, f"{pointer}/{i}/text", required=True)
            self.max_len(option.get("value"), 150, f"{pointer}/{i}/value")

    def element(self, el: object, pointer: str) -> None:
        if not isinstance(el, dict) or not isinstance(el.get("type"), str):
            self.add(pointer, "must be a block element")
            return
        self.max_len(el.get("action_id"), 255, f"{pointer}/action_id")
        if el["type"] == "button":
            self.text(el.get("text"), 75, f"{pointer}/text", required=True, plain=True)
            self.max_len(el.get("value"), 2000, f"{pointer}/value")
            self.max_len(el.get("url"), 3000, f"{pointer}/url")
        self.text(el.get("placeholder"), 150, f"{pointer}/placeholder", plain=True)
        if "options" in el:
            self.options(el["options"], f"{pointer}/options")
        if "confirm" in el:
            self.confirm(el["confirm"], f"{pointer}/confirm")

    def elements(self, items: object, limit: int, pointer: str) -> None:
        if not isinstance(items, list) or not items:
            self.add(pointer, "must provide a non-empty array")
            return
        self.max_items(items, limit, pointer)
        action_ids: set[str] = set()
        for i, el in enumerate(items):
            self.element(el, f"{pointer}/{i}")
            action_id = el.get("action_id") if isinstance(el, dict) else None
            if isinstance(action_id, str):
                if action_id in action_ids:
                    self.add(f"{pointer}/{i}/action_id", f"duplicate action_id {action_id!r}")
                action_ids.add(action_id)

    def block(self, block: JsonDict, pointer: str) -> None:
        kind = block["type"]
        self.max_len(block.get("block_id"), 255, f"{pointer}/block_id")
        if kind == "header":
            self.text(block.get("text"), 150, f"{pointer}/text", required=True, plain=True)
        elif kind == "section":
            if block.get("text") is None and block.get("fields") is None:
                self.add(pointer, "must provide either text or fields")
            self.text(block.get("text"), 3000, f"{pointer}/text")
            fields = block.get("fields")
            if fields is not None:
                self.max_items(fields, 10, f"{pointer}/fields")
                for i, item in enumerate(fields if isinstance(fields, list) else []):
                    self.text(item, 2000, f"{pointer}/fields/{i}", required=True)
            if "accessory" in block:
                self.element(block["accessory"], f"{pointer}/accessory")
        elif kind == "actions":
            self.elements(block.get("elements"), 25, f"{pointer}/elements")
        elif kind == "context":
            items = block.get("elements")
            if not isinstance(items, list) or not items:
                self.add(f"{pointer}/elements", "must provide a non-empty array")
            self.max_items(items, 10, f"{pointer}/elements")
        elif kind == "input":
            self.text(block.get("label"), 2000, f"{pointer}/label", required=True, plain=True)
            self.text(block.get("hint"), 2000, f"{pointer}/hint", plain=True)
            self.element(block.get("element"), f"{pointer}/element")


def validate_blocks(blocks: object, *, limit: int, pointer: str = "/blocks") -> list[JsonDict]:
    """Return ``blocks`` if Slack would accept them, else raise ``invalid_blocks(_format)``."""
    if not isinstance(blocks, list):
        raise SlackError(
            "invalid_blocks_format", f"[ERROR] must be an array [json-pointer:{pointer}]"
        )
    problems = _Problems()
    problems.max_items(blocks, limit, pointer)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.add(f"{pointer}/{i}", "must be a block object with a type")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.add(f"{pointer}/{i}/block_id", f"duplicate block_id {block_id!r}")
            block_ids.add(block_id)
        problems.block(block, f"{pointer}/{i}")
    if problems.lines:
        raise SlackError("invalid_blocks", *problems.lines)
    return blocks


def validate_view(view: object, *, expect_type: str | None = None) -> JsonDict:
    """Return ``view`` if Slack would accept it, else raise ``invalid_arguments`` (or blocks)."""
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", "[ERROR] must be an object [json-pointer:/view]")
    kind = view.get("type")
    if kind not in ("modal", "home") or (expect_type is not None and kind != expect_type):
        wanted = expect_type or "modal or home"
        raise SlackError("invalid_arguments", f"[ERROR] must be {wanted} [json-pointer:/view/type]")
    problems = _Problems()
    if kind == "modal":
        problems.text(view.get("title"), 24, "/view/title", required=True, plain=True)
        problems.text(view.get("submit"), 24, "/view/submit", plain=True)
        problems.text(view.get("close"), 24, "/view/close", plain=True)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            problems.add(
                "/view/submit", "submit is required when an input block is within the blocks array"
            )
    problems.max_len(view.get("private_metadata"), 3000, "/view/private_metadata")
    problems.max_len(view.get("callback_id"), 255, "/view/callback_id")
    problems.max_len(view.get("external_id"), 255, "/view/external_id")
    if problems.lines:
        raise SlackError("invalid_arguments", *problems.lines)
    validate_blocks(view.get("blocks", []), limit=VIEW_BLOCK_LIMIT, pointer="/view/blocks")
    return view
