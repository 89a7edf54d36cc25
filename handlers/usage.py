"""`/rebill usage` (a modal with a file input) and `/rebill margins [YYYY-MM]`.

The file download and the import are slow: the submission is acknowledged first (the modal turns
into a "working" view), then the file is fetched with the bot token and imported, and the view is
updated with the report. The import itself is `core.usage_import`, the same as the CLI's.
"""

from __future__ import annotations

import io
import tempfile
from typing import Any, Final

import httpx
from slack_bolt import App
from slack_sdk.errors import SlackApiError

from core import billing_settings, margins
from core.calculation import Period
from core.errors import RebillError
from core.usage_import import import_usage, load_mapping, shipped_maps, summary_lines
from handlers import usage_views as views
from handlers.base import Call, listener
from handlers.blocks import md
from handlers.setup_prompt import ensure_configured
from handlers.subcommands import subcommand

MAX_BYTES: Final = 200 * 1024 * 1024  # a month of CDRs for a large MSP is tens of MB
SPOOL: Final = 8 * 1024 * 1024  # kept in memory up to this, then on disk


class DownloadError(RebillError):
    """The uploaded file could not be fetched from Slack."""


@subcommand("usage", usage="usage", summary="import a supplier's usage file (CSV)")
def usage_command(call: Call, args: str) -> None:
    if not ensure_configured(call):
        return
    call.ack()
    call.client.views_open(trigger_id=call.body["trigger_id"], view=views.import_form(shipped_maps()))


def import_submitted(call: Call) -> None:
    view = call.body["view"]
    form = views.parse_import_form(view)
    if form.file_id is None or form.file_name is None:
        call.ack(response_action="errors", errors={"file": "Choose a CSV file to import."})
        return
    file_id, name, dry_run = form.file_id, form.file_name, form.dry_run
    mapping = load_mapping(form.mapping)
    call.ack(response_action="update", view=views.working_view(name))
    # After the ack, on the slow pool (core.workpool): fetch the file and import it.
    call.later(lambda later: _import(later, file_id, name, mapping, dry_run))


def _import(call: Call, file_id: str, name: str, mapping: Any, dry_run: bool) -> None:
    view = call.body["view"]
    try:
        with _download(call, file_id) as raw:
            text = io.TextIOWrapper(raw, encoding=mapping.encoding, newline="")
            report = import_usage(
                call.db,
                text,
                mapping=mapping,
                actor=call.user_id,
                clock=call.deps.clock,
                dry_run=dry_run,
                file_name=name,
            )
    except (RebillError, UnicodeDecodeError) as exc:
        message = (
            exc.user_message if isinstance(exc, RebillError) else f"The file isn't {mapping.encoding} text."
        )
        call.client.views_update(view_id=view["id"], view=views.result_view(name, [message], ok=False))
        return
    call.client.views_update(
        view_id=view["id"], view=views.result_view(name, summary_lines(report), ok=report.ok)
    )


def _download(call: Call, file_id: str) -> Any:
    """The file's bytes in a spooled temporary file (memory up to SPOOL, then disk)."""
    try:
        info = call.client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        raise DownloadError(
            f"Slack couldn't find that file ({exc.response.get('error')}); upload it again."
        ) from None
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise DownloadError("Slack gave no download link for that file; upload it again.")
    if int(info.get("size") or 0) > MAX_BYTES:
        raise DownloadError(
            f"That file is over {MAX_BYTES // 1024 // 1024} MB: import it with the CLI instead."
        )
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 - returned to a with block
    headers = {"Authorization": f"Bearer {call.client.token}"}
    try:
        with httpx.stream("GET", url, headers=headers, follow_redirects=True, timeout=60) as response:
            if response.status_code != 200 or "text/html" in response.headers.get("content-type", ""):
                raise DownloadError("Slack didn't hand over the file (is the files:read scope granted?).")
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise DownloadError("That file is too large: import it with the CLI instead.")
                out.write(chunk)
    except httpx.HTTPError as exc:
        out.close()
        raise DownloadError(
            f"Couldn't download the file from Slack ({type(exc).__name__}); try again."
        ) from None
    except DownloadError:
        out.close()
        raise
    out.seek(0)
    return out


@subcommand("margins", usage="margins [YYYY-MM]", summary="revenue, cost and margin of a month's invoices")
def margins_command(call: Call, args: str) -> None:
    text = args.strip()
    try:
        period = Period.parse(text) if text else Period.of(call.today)
    except ValueError:
        call.ack(
            response_type="ephemeral",
            text=md("`{}` is not a month: use YYYY-MM, e.g. `/rebill margins 2026-12`.", text),
        )
        return
    # Reading a month of invoice lines can outlast Slack's 3 s: ack first, then answer.
    call.ack(
        response_type="ephemeral", text=f":hourglass_flowing_sand: Working out the margins for {period}…"
    )

    def answer(later: Call) -> None:
        found = margins.rows(later.db, period=period)
        low = margins.below_floor(later.db, period=period)
        later.respond(
            replace_original=True,
            text=f"Margins for {period}",
            blocks=views.margins_blocks(
                str(period), found, low, currency=billing_settings.currency(later.db)
            ),
        )

    call.later(answer, writes=False)


def register(app: App) -> None:
    app.view(views.Ids.FORM)(listener(import_submitted))
