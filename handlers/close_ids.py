"""Action ids of the month close's buttons: used by the report, its thread and the invoice view."""

from __future__ import annotations

from enum import StrEnum


class CloseIds(StrEnum):
    APPROVE = "close_approve"
    HOLD = "close_hold"
    SEND_ALL = "close_send_all"
    SEND_AGAIN = "close_send_again"
    WAS_SENT = "close_was_sent"
    ACTIONS_BLOCK = "close_actions"
