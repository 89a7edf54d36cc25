"""The set-up gate: until the billing basics are saved, commands answer with a prompt to save them.

Below `handlers.setup` (the settings modal) so the router and the Home tab can show the prompt
without importing the modal's listeners.
"""

from __future__ import annotations

from enum import StrEnum

from core import billing_settings
from handlers import blocks
from handlers.base import Call
from handlers.subcommands import help_blocks


class Ids(StrEnum):
    OPEN = "setup_open"
    FORM = "setup_form"


def configure_prompt() -> list[blocks.Block]:
    return [
        blocks.section(
            "*rebill-bot isn't configured yet.* Save your business name, default payment terms and "
            "invoice numbering first; then you'll see your end customers here."
        ),
        blocks.actions(blocks.button("Configure rebilling", Ids.OPEN, style="primary")),
    ]


def ensure_configured(call: Call) -> bool:
    """Answer with the set-up prompt (and return False) until the basics are saved."""
    if billing_settings.is_configured(call.db):
        return True
    call.ack(
        response_type="ephemeral",
        text="rebill-bot isn't configured yet.",
        blocks=configure_prompt() + help_blocks(),
    )
    return False
