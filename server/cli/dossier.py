"""``flask --app server dossier TICKET -o FILE.pdf|.xlsx`` and ``dossier verify FILE``: the regulator dossier.

The command line is the administrator's door, so numbers print in full unless
``--masked`` asks for the copy a non-administrator would get. ``verify`` reads
the digest, the ticket key and the masking back from a dossier (PDF text or
sheet cells), or takes them as options, rebuilds the content from the database
and says whether it still matches.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import click
from flask.cli import with_appcontext
from openpyxl import load_workbook

from server import clock
from server.services import dossier as dossiers
from server.services.errors import ServiceError
from server.storage.db import get_db
from server.xlsx.dossier import RenderError, pdf_bytes, workbook_bytes

FOOTER = {
    "digest": re.compile(r"SHA-256:\s*([0-9a-f]{64})"),
    "key": re.compile(r"Ticket key:\s*(\S+)"),
    "masked": re.compile(r"Phones masked:\s*(yes|no)"),
}


class _TicketOrCommand(click.Group):
    """``dossier TICKET …`` makes a dossier; ``dossier verify …`` checks one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["make", *args]
        return super().parse_args(ctx, args)


@click.group("dossier", cls=_TicketOrCommand)
def dossier() -> None:
    """The regulator dossier of a ticket (投诉处理卷宗): make it as PDF or sheet, or verify one."""


@dossier.command("make")
@click.argument("ticket")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--masked", is_flag=True, help="mask phone numbers, as every role but admin sees them")
@with_appcontext
def make(ticket: str, output: Path, masked: bool) -> None:
    """Write the dossier of TICKET (number or sync key) to OUTPUT (.pdf or .xlsx)."""
    suffix = output.suffix.lower()
    if suffix not in (".pdf", ".xlsx"):
        raise click.ClickException(f"输出须为 .pdf 或 .xlsx / output must end in .pdf or .xlsx: {output}")
    try:
        with get_db().read() as session:
            made = dossiers.make(session, ticket, masked, clock.now())
        output.write_bytes(pdf_bytes(made) if suffix == ".pdf" else workbook_bytes(made))
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    except RenderError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"dossier of {made.dossier.ticket_id} written to {output}; SHA-256 {made.digest}")


@dossier.command("verify")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--digest", help="the SHA-256 printed on a dossier (instead of reading FILE)")
@click.option("--ticket", help="with --digest: the ticket's number or key")
@click.option("--masked", is_flag=True, help="with --digest: the dossier had phone numbers masked")
@with_appcontext
def verify(file: Path | None, digest: str | None, ticket: str | None, masked: bool) -> None:
    """Recompute a dossier's SHA-256 from the database and compare it with the one it carries."""
    if file is not None:
        found = {name: pattern.search(_text(file)) for name, pattern in FOOTER.items()}
        missing = [name for name, m in found.items() if m is None]
        if missing:
            raise click.ClickException(
                f"{file}: 不是卷宗（缺少 {', '.join(missing)}）/ not a dossier: no {missing}"
            )
        digest, ticket = found["digest"].group(1), found["key"].group(1)  # type: ignore[union-attr]
        masked = found["masked"].group(1) == "yes"  # type: ignore[union-attr]
    elif not (digest and ticket):
        raise click.ClickException(
            "给出卷宗文件，或 --digest 与 --ticket / give a FILE, or --digest with --ticket"
        )
    try:
        with get_db().read() as session:
            now = dossiers.build(session, ticket, masked).digest()
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    if now != digest.strip().lower():
        raise click.ClickException(
            f"不符：记录已改变 / MISMATCH: the dossier says {digest}, the database now gives {now}"
        )
    click.echo(f"一致 OK: SHA-256 {now} matches the record of {ticket} in the database")


def _text(file: Path) -> str:
    """The text of a dossier: a PDF's extracted text, or every cell of a sheet."""
    if file.suffix.lower() == ".pdf":
        done = subprocess.run(["pdftotext", str(file), "-"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise click.ClickException(f"{file}: 无法读取 PDF / cannot read the PDF: {done.stderr.strip()}")
        return done.stdout
    try:
        wb = load_workbook(file, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise click.ClickException(f"{file}: 无法读取工作簿 / cannot read the workbook: {exc}") from exc
    return "\n".join(
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )
