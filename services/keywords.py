"""The keywords the plain-words parser knows, and the one-typo forgiveness that finds them.

``canonical`` maps a typed word onto its keyword ("snoze" -> snooze, "stauts" -> status) by optimal
string alignment distance: one slip in words of four to seven letters, two from eight letters on.
Everyday words one slip away from a keyword ("none", "gone", "note") are never corrected.
"""

from __future__ import annotations

__all__ = ["FILLER", "canonical", "words"]


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


# Each keyword and the words (and phrasings) that mean it; typos are matched against these.
VOCABULARY: dict[str, tuple[str, ...]] = {
    "help": ("help", "commands", "hello", "hi", "hey", "usage", "howto"),
    "status": ("status", "state", "happening", "going", "progress", "update", "lookup", "find"),
    "invoice": ("invoice", "invoices", "bill", "billing"),
    "overdue": ("overdue", "late", "behind", "missed", "past"),
    "queue": ("queue", "mine", "todo", "assigned", "handoffs", "tasks", "work", "plate"),
    "waiting": ("waiting", "awaiting", "approvals", "pending", "sign-off", "signoff"),
    "snooze": ("snooze", "postpone", "defer", "later", "delay", "mute", "pause"),
    "remind": ("remind", "reminder", "ping", "nudge"),
    "assign": ("assign", "reassign", "give", "hand", "transfer", "delegate", "owner"),
    "done": ("done", "finished", "resolved", "complete", "completed", "close", "closed", "fixed"),
    "mark": ("mark", "set"),
    "approve": ("approve", "authorise", "authorize", "okay", "accept"),
    "decline": ("decline", "reject", "deny", "refuse"),
    "create": ("create", "new", "make", "raise", "issue", "send", "draft", "generate"),
}
_CANONICAL = {word: key for key, group in VOCABULARY.items() for word in group}
# Everyday words that are one typo away from a keyword but mean something else: never corrected.
KEEP = words(
    """note notes none gone nine sign dome bone tone date dates give lone cone hone some come
    home hope hole role rule ding king mine line fine wine dine pine nice mice due dues cue
    invite improve approx statue states stats slate plate later latest last lake make take
    send sent sand said seen sheet short snow show shown sooner soon spoke"""
)
# Words that carry no meaning of their own in a question ("what's the status of ...").
FILLER = words(
    """a an the of for with on about to me my is are was what whats how hows any anything
    please pls can could you u do does did there here it its this that status state happening
    going update progress lookup find show tell give list check where which who whos s
    customer client account call handoff handoffs hey hi bot new"""
)


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a swap of neighbours counts as one slip)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def canonical(word: str) -> str | None:
    """The keyword a word means, allowing one typo in words of four letters or more."""
    word = word.strip("'’.:-").replace("’", "'")
    word = word.replace("'", "")
    if word in _CANONICAL:
        return _CANONICAL[word]
    if len(word) < 4 or word in KEEP or word in FILLER or word.isdigit():
        return None
    allowed = 2 if len(word) >= 8 else 1
    best: tuple[int, str] | None = None
    for candidate, key in _CANONICAL.items():
        if len(candidate) < 4 or abs(len(candidate) - len(word)) > allowed:
            continue
        distance = _distance(word, candidate)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, key)
    return None if best is None else best[1]
