"""``flask --app server dossier TICKET -o FILE.pdf|.xlsx`` and ``dossier verify FILE``: the regulator dossier.

The command line is the administrator's door, so numbers print in full unless
``--masked`` asks for the copy a non-administrator would get. ``verify`` reads
the digest, the ticket key (or the group complaint's id) and the masking back
from a dossier (PDF text or sheet cells), or takes them as options, rebuilds the
content from the database and says whether it still matches.
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
from server.xlsx.dossier import (
    RenderError,
    group_pdf_bytes,
    group_workbook_bytes,
    pdf_bytes,
    workbook_bytes,
)

FOOTER = {
    "digest": re.compile(r"SHA-256:\s*([0-9a-f]{64})"),
    "subject": re.compile(r"(Ticket key|Group complaint):\s*(\S+)"),
    "masked": re.compile(r"Phones masked:\s*(yes|no)"),
}
"""The integrity lines of a dossier: its digest, what it is of (a ticket or a group), the masking."""
GROUP = "Group complaint"


class _TicketOrCommand(click.Group):
    """``dossier TICKET …`` and ``dossier --group G …`` make dossiers; ``dossier verify …`` checks one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] != "--help":
            args = ["make", *args]
        return super().parse_args(ctx, args)


@click.group("dossier", cls=_TicketOrCommand)
def dossier() -> None:
    """The regulator dossier of a ticket (投诉处理卷宗): make it as PDF or sheet, or verify one."""


@dossier.command("make")
@click.argument("ticket", required=False)
@click.option(
    "--group",
    "group",
    help="the group complaint (群体事件编号): a summary, every member's dossier, one digest",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--masked", is_flag=True, help="mask phone numbers, as every role but admin sees them")
@click.option("--form", is_flag=True, help="the one-page complaint form (投诉处理单) instead of the dossier")
@with_appcontext
def make(ticket: str | None, group: str | None, output: Path, masked: bool, form: bool) -> None:
    """Write the dossier (or --form) of TICKET (number or sync key) or of a --group to OUTPUT (.pdf/.xlsx).

    A group's dossier is one file with one digest: the group's summary and
    members, then each member's whole dossier. With --form, each member's form.
    """
    suffix = output.suffix.lower()
    if suffix not in (".pdf", ".xlsx"):
        raise click.ClickException(f"输出须为 .pdf 或 .xlsx / output must end in .pdf or .xlsx: {output}")
    if bool(ticket) == bool(group):
        raise click.ClickException("给出一个工单或 --group / give one TICKET or --group")
    try:
        with get_db().read() as session:
            if group:
                whole = dossiers.make_group(session, group, masked, clock.now())
                made = whole.members
            else:
                whole, made = None, [dossiers.make(session, ticket or "", masked, clock.now())]
        if whole is not None and not form:
            output.write_bytes((group_pdf_bytes if suffix == ".pdf" else group_workbook_bytes)(whole))
        else:
            output.write_bytes((pdf_bytes if suffix == ".pdf" else workbook_bytes)(*made, form=form))
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    except RenderError as exc:
        raise click.ClickException(str(exc)) from exc
    if whole is not None and not form:
        click.echo(
            f"dossier of group {whole.group.group_id} ({len(made)} tickets) written to {output}; "
            f"SHA-256 {whole.digest}"
        )
        return
    for one in made:
        what = "complaint form" if form else "dossier"
        click.echo(f"{what} of {one.dossier.ticket_id} written to {output}; SHA-256 {one.digest}")


@dossier.command("verify")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--digest", help="the SHA-256 printed on a dossier (instead of reading FILE)")
@click.option("--ticket", help="with --digest: the ticket's number or key")
@click.option("--group", "group", help="with --digest: the group complaint's id")
@click.option("--masked", is_flag=True, help="with --digest: the dossier had phone numbers masked")
@with_appcontext
def verify(
    file: Path | None, digest: str | None, ticket: str | None, group: str | None, masked: bool
) -> None:
    """Recompute a dossier's SHA-256 from the database and compare it with the one it carries."""
    if file is not None:
        text = _text(file)
        digests = [m[1] for m in FOOTER["digest"].finditer(text)]
        subjects = [(m[1] == GROUP, m[2]) for m in FOOTER["subject"].finditer(text)]
        masks = [m[1] == "yes" for m in FOOTER["masked"].finditer(text)]
        if not digests or not len(digests) == len(subjects) == len(masks):
            raise click.ClickException(
                f"{file}: 不是完整的卷宗 / not a whole dossier: its SHA-256 lines are missing"
            )
        found = [(d, *s, m) for d, s, m in zip(digests, subjects, masks, strict=True)]
    elif digest and bool(ticket) != bool(group):
        found = [(digest.strip().lower(), bool(group), group or ticket or "", masked)]
    else:
        raise click.ClickException(
            "给出卷宗文件，或 --digest 与 --ticket 或 --group / "
            "give a FILE, or --digest and --ticket or --group"
        )
    bad = []
    with get_db().read() as session:
        for said, is_group, key, was_masked in found:
            try:
                if is_group:
                    now = dossiers.build_group(session, key, was_masked).digest()
                else:
                    now = dossiers.build(session, key, was_masked).digest()
            except ServiceError as exc:
                raise click.ClickException(exc.message) from exc
            if now == said:
                what = f"group {key}" if is_group else key
                click.echo(f"一致 OK: SHA-256 {now} matches the record of {what} in the database")
            else:
                bad.append(f"{key}: the dossier says {said}, the database now gives {now}")
    if bad:
        raise click.ClickException("不符：记录已改变 / MISMATCH: " + "; ".join(bad))


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
