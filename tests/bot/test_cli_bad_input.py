"""Every command, given bad input or a database that was never migrated, prints one line on stderr
and exits non-zero: never a traceback (issue 11).

The commands are found by walking the click group, so a new command is covered without editing
this file: it gets the generic bad input (an option no command has), and on the empty database it
runs with no arguments; a command that needs arguments fails here, naming itself, until PLAUSIBLE
gives it some. Most run in-process through click's CliRunner; those in REAL_PROCESS run as
`python -m bot`, proving no traceback reaches a real process's stderr.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from alembic import command as alembic
from click.testing import CliRunner

from bot.cli import main
from bot.cli.errors import ERROR_LOG, NO_TABLES, RebillGroup
from bot.migrate import alembic_config, head_revision
from core.clock import DEFAULT_TIMEZONE
from core.db import make_engine
from tests.conftest import ADMIN, BOT_TOKEN, SIGNING_SECRET, create_schema
from tests.harness.databases import POSTGRES_SKIP, fresh_postgres_database, postgres_url
from tests.harness.smtp import free_port

GENERIC_BAD = ["--no-such-option"]
# Bad input a person could type, per command ({tmp} is the test's folder); others get GENERIC_BAD.
BAD: dict[str, list[str]] = {
    "serve": ["--port", "not-a-port"],
    "settings set": ["not-a-pair"],
    "customers import": ["--csv", "{tmp}/not-utf8.csv"],
    "charges list": ["²"],
    "charges add": ["²", "--description", "Backup", "--unit-price", "abc"],
    "charges preview": ["1", "--period", "2026-13"],
    "billrun": ["--period", "december"],
    "close": ["--period", "2026-13"],
    "invoice list": ["--status", "owing"],
    "invoice show": ["²"],
    "invoice pdf": ["²", "-o", "{tmp}/out.pdf"],
    "invoice export": ["--csv", "{tmp}/out.csv", "--period", "12-2026"],
    "invoice credit": ["INV-00001", "--lines", "one,two"],
    "invoice send": ["²"],
    "usage import": ["--csv", "{tmp}/missing.csv"],
    "usage licences": ["--csv", "{tmp}/not-utf8.csv"],
    "report margins": ["--period", "²"],
    "xero connect": ["--timeout", "soon"],
    "xero settings": ["--status", "MAYBE"],
    "xero push": ["--period", "2026-13"],
    "psa search": [],
    "jobs run": ["no_such_job"],
    "demo": ["--customers", "0"],
}
# Plausible arguments for the never-migrated database ({tmp} as above).
PLAUSIBLE: dict[str, list[str]] = {
    "settings set": ["business_name=Acme IT"],
    "customers export": ["--csv", "{tmp}/customers-out.csv"],
    "customers import": ["--csv", "{tmp}/customers.csv"],
    "charges list": ["Acme"],
    "charges add": ["Acme", "--description", "Backup", "--unit-price", "10"],
    "charges preview": ["Acme", "--period", "2026-12"],
    "billrun": ["--period", "2026-12"],
    "close": ["--period", "2026-12"],
    "invoice show": ["INV-00001"],
    "invoice pdf": ["INV-00001", "-o", "{tmp}/out.pdf"],
    "invoice export": ["--csv", "{tmp}/out.csv"],
    "invoice credit": ["INV-00001"],
    "invoice send": ["INV-00001"],
    "usage import": ["--csv", "{tmp}/usage.csv"],
    "usage licences": ["--csv", "{tmp}/licences.csv"],
    "report margins": ["--period", "2026-12"],
    "psa search": ["Acme"],
    "jobs run": ["overdue_alert"],
}
# Not run against the empty database, and why.
NOT_ON_EMPTY_DATABASE = {
    "serve": "migrates the database itself, then serves until stopped",
    "scheduler": "migrates the database itself, then runs until stopped",
    "db upgrade": "making an empty database usable is its job (exit 0)",
    "demo": "builds a database of its own in --dir; DATABASE_URL is not used",
    "xero connect": "opens a browser and waits for Xero's sign-in before it touches the database",
    "check": "a report, one line per part by design: test_check_on_an_empty_database_says_to_upgrade",
}
REAL_PROCESS = {"serve", "scheduler", "jobs list", "jobs run", "charges list", "billrun"}


def leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            found |= leaf_commands(command, path)
        else:
            found[path] = command
    return found


COMMANDS = sorted(leaf_commands(main))


def closed_url() -> str:
    """A local address nothing listens on: Slack, the PSA, Xero and SMTP all refuse at once."""
    return f"http://127.0.0.1:{free_port()}"


def environment(db_url: str) -> dict[str, str]:
    """Every integration configured (so each command gets as far as it can) but unreachable."""
    refused = closed_url()
    return {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{refused}/api/",
        "REBILL_ADMINS": ADMIN,
        "REBILL_TIMEZONE": DEFAULT_TIMEZONE,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(free_port()),
        "REBILL_FROM_EMAIL": "accounts@msp.example",
        "REBILL_PSA": "halopsa",
        "HALOPSA_URL": refused,
        "HALOPSA_CLIENT_ID": "client",
        "HALOPSA_CLIENT_SECRET": "secret",
        "PSA_TIMEOUT": "5",
        "XERO_CLIENT_ID": "client",
        "XERO_CLIENT_SECRET": "secret",
        "XERO_IDENTITY_URL": refused,
        "XERO_AUTHORIZE_URL": f"{refused}/authorize",
        "XERO_API_URL": f"{refused}/api.xro/2.0",
        "XERO_CONNECTIONS_URL": f"{refused}/connections",
        "XERO_TIMEOUT": "5",
    }


def files(folder: Path) -> None:
    (folder / "not-utf8.csv").write_bytes(b"company_name\n\xff\xfe\xfa\n")
    (folder / "customers.csv").write_text("company_name,email\nAcme,ap@acme.example\n")
    (folder / "usage.csv").write_text(
        "usage_id,customer_id,customer,psa_reference,service_reference,date,period,description,quantity,unit_cost,unit_price,taxable\n"
        "U-1,,Acme,,,2026-12-01,,Calls,1,0.5,1,yes\n"
    )
    (folder / "licences.csv").write_text("feed,date,quantity\nm365,2026-12-01,5\n")


def run(command: str, args: list[str], env: dict[str, str], folder: Path) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `rebill-bot COMMAND ARGS`, in a real process or through click."""
    argv = [*command.split(), *(a.replace("{tmp}", str(folder)) for a in args)]
    if command in REAL_PROCESS:
        keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}}
        done = subprocess.run(
            [sys.executable, "-m", "bot", *argv],
            env=keep | env,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout, done.stderr
    result = CliRunner().invoke(main, argv, env=env)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"{command} raised {result.exception!r} (a traceback for a user)"
    return result.exit_code, result.stdout, result.stderr


def assert_one_line(command: str, code: int, out: str, err: str) -> None:
    shown = f"rebill-bot {command}: exit {code}\nstdout: {out!r}\nstderr: {err!r}"
    assert code != 0, shown
    assert "Traceback" not in out + err, shown
    assert out == "", shown
    assert len(err.splitlines()) == 1, shown


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    files(tmp_path)
    return tmp_path


def test_the_walk_finds_every_command_and_the_tables_name_only_real_ones() -> None:
    assert {"charges add", "invoice send", "jobs run", "serve", "xero pull-payments"} <= set(COMMANDS)
    named = set(BAD) | set(PLAUSIBLE) | set(NOT_ON_EMPTY_DATABASE) | REAL_PROCESS
    assert named <= set(COMMANDS), f"not commands: {named - set(COMMANDS)}"


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_input_is_one_line_and_a_non_zero_exit(command: str, folder: Path) -> None:
    """On a migrated database, so the bad input itself is what the command meets."""
    url = f"sqlite:///{folder / 'migrated.db'}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    code, out, err = run(command, BAD.get(command, GENERIC_BAD), environment(url), folder)
    assert_one_line(command, code, out, err)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in NOT_ON_EMPTY_DATABASE])
def test_a_never_migrated_database_is_one_line_and_a_non_zero_exit(command: str, folder: Path) -> None:
    url = f"sqlite:///{folder / 'empty.db'}"
    code, out, err = run(command, PLAUSIBLE.get(command, []), environment(url), folder)
    assert_one_line(command, code, out, err)
    assert "Try `" not in err, f"{command} needs plausible arguments in PLAUSIBLE: {err}"


def test_the_empty_database_is_named_with_what_to_run(folder: Path) -> None:
    env = environment(f"sqlite:///{folder / 'empty.db'}")
    for command in ("customers list", "charges list", "billrun", "invoice list", "settings show"):
        code, _, err = run(command, PLAUSIBLE.get(command, []), env, folder)
        assert (code, err.strip()) == (1, NO_TABLES), command


def test_a_never_migrated_postgresql_database_is_named_too(folder: Path) -> None:
    server = postgres_url()
    if server is None:
        pytest.skip(POSTGRES_SKIP)
    with fresh_postgres_database(server) as url:
        env = environment(url)
        for command in ("customers list", "invoice list", "billrun"):
            code, out, err = run(command, PLAUSIBLE.get(command, []), env, folder)
            assert (code, out, err.strip()) == (1, "", NO_TABLES), command


def test_check_on_an_empty_database_says_to_upgrade(folder: Path) -> None:
    code, out, err = run("check", [], environment(f"sqlite:///{folder / 'empty.db'}"), folder)
    assert code == 1 and "Traceback" not in out + err
    assert "✗ database" in out and "run `rebill-bot db upgrade`" in out


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DATABASE_URL", "mysql://db.example/rebill", "DATABASE_URL only SQLite and PostgreSQL"),
        (
            "DATABASE_URL",
            "postgresql+psycopg://u@db.example:port/rebill",
            "DATABASE_URL is not a database URL",
        ),
        ("REBILL_TIMEZONE", "Mars/Base", "REBILL_TIMEZONE 'Mars/Base' is not a time zone"),
        ("REBILL_NOW", "yesterday", "REBILL_NOW"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(
    folder: Path, variable: str, value: str, named: str
) -> None:
    env = environment(f"sqlite:///{folder / 'r.db'}") | {variable: value}
    code, out, err = run("billrun", ["--period", "2026-12"], env, folder)
    assert_one_line("billrun", code, out, err)
    assert code == 2 and err.startswith(named), err


def test_missing_slack_settings_are_one_line_naming_each(folder: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{folder / 'r.db'}", "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
    code, out, err = run("jobs list", [], env, folder)
    assert_one_line("jobs list", code, out, err)
    assert code == 2
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "REBILL_ADMINS"):
        assert name in err


def test_a_bug_is_one_line_with_an_error_id_and_the_traceback_only_in_the_log(tmp_path: Path) -> None:
    """A real process with no logging configured: the traceback goes to ERROR_LOG (in TMPDIR)."""
    script = (
        "import click\n"
        "from bot.cli.errors import RebillGroup\n"
        "group = RebillGroup('rebill-bot')\n"
        "@group.command()\n"
        "def boom():\n"
        "    raise RuntimeError('kaput')\n"
        "group()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "boom"],
        env={"PATH": os.environ.get("PATH", ""), "TMPDIR": str(tmp_path)},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_one_line("boom", done.returncode, done.stdout, done.stderr)
    found = re.search(r"error id ([0-9a-f]{8})", done.stderr)
    assert found, done.stderr
    log = (tmp_path / ERROR_LOG.name).read_text()
    assert f"unexpected error {found[1]}" in log and "Traceback" in log and "RuntimeError: kaput" in log


def test_in_process_a_bug_goes_to_the_configured_log(caplog: pytest.LogCaptureFixture) -> None:
    group = RebillGroup("rebill-bot")

    @group.command()
    def boom() -> None:
        raise RuntimeError("kaput")

    result = CliRunner().invoke(group, ["boom"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    found = re.search(r"error id ([0-9a-f]{8})\); the details are in the log", result.stderr)
    assert found, result.stderr
    [record] = [r for r in caplog.records if r.name == "rebill.cli"]
    assert record.getMessage() == f"unexpected error {found[1]}" and record.exc_info is not None


def test_a_database_an_older_version_migrated_names_both_revisions(folder: Path) -> None:
    """0018 added invoice.held_catch_up: a database left at 0016 lacks the column, not the tables."""
    url = f"sqlite:///{folder / 'old.db'}"
    engine = make_engine(url)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        alembic.upgrade(config, "0016")
    head = head_revision(engine)
    engine.dispose()
    code, out, err = run("invoice list", [], environment(url), folder)
    assert_one_line("invoice list", code, out, err)
    assert (
        err.strip()
        == f"the database is at revision 0016, this rebill-bot needs {head}: run `rebill-bot db upgrade`"
    )
