"""Small Block Kit builders, and the one escaping rule for mrkdwn.

The rule: every string a builder puts into a mrkdwn object is escaped (`&`, `<`, `>`), so user
text inside it (a name, an echoed argument, an error message) can never become `<!channel>`, a
mention or a link. Bold, italics, code and emoji are untouched by the escape, so templates like
f"Cancel *{name}*?" need nothing at the call site. The only way to put a live `<...>` sequence
(a mention) into mrkdwn is `md(...)`/`mention(...)`, which return `Mrkdwn` and escape their values.

The escape is idempotent (an existing `&amp;`/`&lt;`/`&gt;` is left alone), so text that was
escaped before it reached a builder (`esc`) is not escaped twice.
"""

from __future__ import annotations

import re
from typing import Any

Block = dict[str, Any]

_BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


class Mrkdwn(str):
    """Text already safe for mrkdwn: escaped values in our own template (see `md`)."""


def esc(text: object) -> Mrkdwn:
    """Escape user text for mrkdwn, so `<!channel>` or `<@U1>` shows literally and pings no one."""
    if isinstance(text, Mrkdwn):
        return text
    return Mrkdwn(_BARE_AMP.sub("&amp;", str(text)).replace("<", "&lt;").replace(">", "&gt;"))


def md(template: str, /, *values: object, **named: object) -> Mrkdwn:
    """Our own mrkdwn `template` (trusted: may hold mentions), `{}` fields filled with escaped values."""
    return Mrkdwn(template.format(*(esc(v) for v in values), **{k: esc(v) for k, v in named.items()}))


def mention(user_id: str) -> Mrkdwn:
    """A live @-mention of a Slack user id (ids only: anything else is shown as text)."""
    if re.fullmatch(r"[UW][A-Z0-9]{1,20}", user_id):
        return Mrkdwn(f"<@{user_id}>")
    return esc(user_id)


def link(url: str, label: str) -> Mrkdwn:
    """A live link to a URL we built ourselves; `<`, `>` and `|` in it are percent-encoded so it
    cannot end the link early, and the label is escaped like any text."""
    safe = url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return Mrkdwn(f"<{safe}|{esc(label)}>")


def plain(text: str, *, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": emoji}


def mrkdwn(text: str) -> dict[str, Any]:
    """The one place text enters a mrkdwn object: escaped unless it is `Mrkdwn` already."""
    return {"type": "mrkdwn", "text": esc(text)}


def section(text: str, *, accessory: dict[str, Any] | None = None, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": _clipped(text, 3000)}
    if accessory:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = block_id
    return block


def _clipped(text: str, limit: int) -> dict[str, Any]:
    element = mrkdwn(text)
    element["text"] = str(element["text"])[:limit]
    return element


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text[:150])}


def context(text: str) -> Block:
    return {"type": "context", "elements": [_clipped(text, 3000)]}


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str, action_id: str, *, value: str | None = None, style: str | None = None, url: str | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(text[:75]), "action_id": action_id}
    if value is not None:
        element["value"] = value[:2000]
    if style:
        element["style"] = style
    if url:
        element["url"] = url
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id:
        block["block_id"] = block_id
    return block
