"""Which `response_url`s rebill-bot will POST to: Slack's own hosts, and nothing a body can invent.

A response_url comes from the request body. Even a signed body is not a reason to send our
messages (an error text, a refusal) to an arbitrary host, and an unsigned one must never reach
here at all. Slack's commercial and GovSlack hooks hosts are allowed, and the host of
SLACK_API_URL, so a GovSlack install or a test server's own response URLs keep working.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

SLACK_HOOK_HOSTS: Final = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})


def allowed_response_url(url: object, *, slack_api_url: str) -> bool:
    if not isinstance(url, str) or not url:
        return False
    try:
        parts = urlsplit(url)
        api = urlsplit(slack_api_url)
        port, api_port = parts.port, api.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.username or parts.password or not host:
        return False
    if parts.scheme == "https" and host in SLACK_HOOK_HOSTS and port in (None, 443):
        return True
    # The API server's own host (GovSlack, a test server): same scheme, host and port.
    return parts.scheme == api.scheme and host == (api.hostname or "").lower() and port == api_port
