"""Files written to disk hold customer data: the merged /branch download and saved workbooks are 0600."""

from __future__ import annotations

import os
import re
import stat

from server.xlsx.writer import write_workbook
from tests.server.api.test_branch_portal import (
    portal,  # noqa: F401 (fixture)
    ticket,
    upload,
    workbook_bytes,
)


def mode(path) -> int:  # noqa: ANN001
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_merged_branch_download_is_readable_by_the_service_only(app, portal, tmp_path):  # noqa: F811
    old = os.umask(0o022)  # the usual umask, under which a plain write is world-readable
    try:
        client, _ = portal
        page = upload(client, workbook_bytes([ticket(1)])).get_data(as_text=True)
    finally:
        os.umask(old)
    name = re.search(r'href="/branch/download/([^"]+)"', page).group(1)
    assert mode(tmp_path / "downloads" / name) == 0o600


def test_a_workbook_written_to_a_path_is_readable_by_its_owner_only(tmp_path):
    source = tmp_path / "SZ01.xlsx"
    source.write_bytes(workbook_bytes([]))
    target = tmp_path / "merged.xlsx"
    target.write_bytes(b"")
    target.chmod(0o644)  # even a file that was there, world-readable, before
    old = os.umask(0o022)
    try:
        write_workbook(source, target, tickets=[ticket(1)])
    finally:
        os.umask(old)
    assert mode(target) == 0o600
