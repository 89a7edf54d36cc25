"""The scheduled PSA refresh's alert: the customers its resync changed, posted once per slot.

Claimed in the notification table (kind `psa_changes`, the PSA, the slot) like every other alert,
so two replicas running the same refresh slot post it once; a failed post releases the claim.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine

from core import notifications, psa_service
from core.clock import Clock
from core.psa_sync import CustomerChange
from handlers.poster import Poster
from handlers.psa_alert_views import psa_changes_alert


def post_psa_changes(
    engine: Engine,
    poster: Poster,
    channel: str | None,
    kind: str,
    slot: str,
    changes: Sequence[CustomerChange],
    *,
    clock: Clock,
    worker: str,
) -> str:
    if not changes:
        return "no changes"
    if channel is None:
        return "no alerts channel set: changes not posted"
    held = notifications.hold(
        engine, kind="psa_changes", subject=kind, occasion=slot, claimed_by=worker, clock=clock
    )
    if held is None:
        return "changes already posted"
    with held:
        text, blocks = psa_changes_alert(psa_service.vendor_name(kind) or kind, changes)
        held.posted(channel, poster.post(channel, text, blocks))
    return f"changes posted for {len(changes)} customer(s)"
