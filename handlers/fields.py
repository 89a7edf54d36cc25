"""Modal input blocks and the parsing of their submitted state, written once for every form.

Each input's block_id is the domain field name, so a FieldErrors from core maps straight onto
`response_action: errors` with no translation table.
"""

from __future__ import annotations

import json
from typing import Any

from handlers.blocks import Block, plain, section

INPUT_ACTION = "value"


def text_input(
    field: str,
    label: str,
    *,
    initial: object = None,
    optional: bool = True,
    hint: str | None = None,
    placeholder: str | None = None,
    max_length: int | None = None,
    multiline: bool = False,
) -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": INPUT_ACTION, "multiline": multiline}
    if initial not in (None, ""):
        element["initial_value"] = str(initial)
    if placeholder:
        element["placeholder"] = plain(placeholder[:150])
    if max_length:
        element["max_length"] = max_length
    block: Block = {
        "type": "input",
        "block_id": field,
        "label": plain(label[:2000]),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint[:2000])
    return block


def submitted(view: dict[str, Any]) -> dict[str, Any]:
    """{block_id: value} for every input in a submitted view, whatever its element type."""
    out: dict[str, Any] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for state in actions.values():
            kind = state.get("type")
            if kind == "plain_text_input" or kind in ("email_text_input", "number_input", "url_text_input"):
                out[block_id] = state.get("value")
            elif kind in ("static_select", "external_select", "radio_buttons"):
                option = state.get("selected_option")
                out[block_id] = option.get("value") if option else None
            elif kind in ("checkboxes", "multi_static_select"):
                out[block_id] = [o.get("value") for o in state.get("selected_options") or []]
            elif kind == "conversations_select":
                out[block_id] = state.get("selected_conversation")
            elif kind == "channels_select":
                out[block_id] = state.get("selected_channel")
            elif kind == "datepicker":
                out[block_id] = state.get("selected_date")
            elif kind == "timepicker":
                out[block_id] = state.get("selected_time")
            elif kind == "file_input":
                out[block_id] = state.get("files") or []
            else:
                out[block_id] = state.get("value")
    return out


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    raw = view.get("private_metadata") or "{}"
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def encode_metadata(**values: Any) -> str:
    text = json.dumps({k: v for k, v in values.items() if v is not None}, separators=(",", ":"))
    if len(text) > 3000:
        raise ValueError("private_metadata over Slack's 3000 characters")
    return text


def modal(
    *,
    callback_id: str,
    title: str,
    blocks: list[Block],
    submit: str | None = None,
    close: str = "Cancel",
    private_metadata: str = "",
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title[:24]),
        "close": plain(close[:24]),
        "blocks": blocks[:100],
        "private_metadata": private_metadata,
    }
    if submit:
        view["submit"] = plain(submit[:24])
    return view


def notice_modal(title: str, text: str, *, callback_id: str = "notice", close: str = "OK") -> dict[str, Any]:
    """A modal that only tells: why something can't be done, or that an answer is on its way.

    `text` is mrkdwn the caller has already escaped. Listeners that later replace a "loading"
    notice find it by its view id, so `callback_id` only names it in logs and tests.
    """
    return modal(callback_id=callback_id, title=title, close=close, blocks=[section(text)])


def date_input(
    field: str, label: str, *, initial: object = None, optional: bool = True, hint: str | None = None
) -> Block:
    element: dict[str, Any] = {"type": "datepicker", "action_id": INPUT_ACTION}
    if initial:
        element["initial_date"] = str(initial)
    block: Block = {
        "type": "input",
        "block_id": field,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint[:2000])
    return block


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text[:75]), "value": value[:150]}


def select_input(
    field: str,
    label: str,
    options: list[tuple[str, str]],
    *,
    initial: str | None = None,
    optional: bool = False,
) -> Block:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": INPUT_ACTION,
        "options": [option(text, value) for text, value in options][:100],
    }
    chosen = next((option(t, v) for t, v in options if v == initial), None)
    if chosen:
        element["initial_option"] = chosen
    return {
        "type": "input",
        "block_id": field,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }


def checkbox_input(field: str, label: str, text: str, *, checked: bool) -> Block:
    box = option(text, "yes")
    element: dict[str, Any] = {"type": "checkboxes", "action_id": INPUT_ACTION, "options": [box]}
    if checked:
        element["initial_options"] = [box]
    return {"type": "input", "block_id": field, "label": plain(label), "element": element, "optional": True}


def checked(values: dict[str, Any], field: str) -> bool:
    return "yes" in (values.get(field) or [])
