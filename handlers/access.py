"""Who may use rebill-bot: the users and user-group members listed in REBILL_ADMINS."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.clock import Clock

log = logging.getLogger(__name__)

GROUP_CACHE_TTL = timedelta(minutes=5)


class AccessPolicy:
    """Membership of admin user groups is looked up in Slack and cached for a few minutes.

    The cache is per process and may be lost at any time; losing it only costs an API call.
    """

    def __init__(
        self, *, users: frozenset[str], groups: frozenset[str], client: WebClient, clock: Clock
    ) -> None:
        self._users = users
        self._groups = groups
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[datetime, frozenset[str]]] = {}

    def is_allowed(self, user_id: str | None) -> bool:
        if not user_id:
            return False
        if user_id in self._users:
            return True
        return any(user_id in self._group_members(group) for group in sorted(self._groups))

    def _group_members(self, group: str) -> frozenset[str]:
        now = self._clock.now()
        with self._lock:
            cached = self._members.get(group)
        if cached and now - cached[0] < GROUP_CACHE_TTL:
            return cached[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group)
            members = frozenset(response.get("users") or [])
        except SlackApiError as exc:
            log.warning("could not list members of user group %s: %s", group, exc.response.get("error"))
            # Fail closed, but keep serving a recent answer if Slack hiccups.
            return cached[1] if cached else frozenset()
        with self._lock:
            self._members[group] = (now, members)
        return members
