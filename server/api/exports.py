"""GET /api/consolidated: the head-office consolidated workbook, streamed while it is built.

The workbook is built by `server.services.consolidated` on a background thread
into a bounded queue that the response drains, so the first bytes leave within
a second or two and memory stays bounded however many tickets there are. If
the client goes away, the build stops. Phone numbers are shown in full only to
administrators.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import date
from typing import Any
from urllib.parse import quote

from flask import Response, current_app
from marshmallow import Schema, fields, validate

from complaints.periods import FIRST_DAY, LAST_DAY, Period
from server import clock
from server.api.blueprint import ApiBlueprint
from server.auth import ADMIN, HEAD_OFFICE, current, require
from server.errors import ApiError
from server.privacy import sees_phones
from server.services.analysis import UnknownBranchError, branch_zones
from server.services.consolidated import ConsolidateOptions, build_consolidated, parse_branches
from server.storage.db import Database, get_db

logger = logging.getLogger(__name__)

blp = ApiBlueprint("exports", __name__, url_prefix="/api", description="Head-office consolidated workbooks")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PIECE = 256 * 1024
_QUEUED_PIECES = 32
_END = object()
_DATES = validate.Range(
    min=FIRST_DAY, max=LAST_DAY, error="must be between {min} and {max} / 日期须在 {min} 至 {max} 之间"
)


class ConsolidatedQuery(Schema):
    branches = fields.String(
        load_default="", metadata={"description": "branch codes separated by commas; empty for all branches"}
    )
    start = fields.Date(
        required=True, validate=_DATES, metadata={"description": "first day of the period (local date)"}
    )
    end = fields.Date(
        required=True, validate=_DATES, metadata={"description": "day after the period (exclusive)"}
    )
    lang = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]))


class _Closed(Exception):
    """The client went away: the build stops."""


class _QueueWriter:
    """A write-only byte stream into a bounded queue, in pieces of about 256 KB."""

    def __init__(self, pieces: queue.Queue[Any], cancelled: threading.Event) -> None:
        self.pieces = pieces
        self.cancelled = cancelled
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= _PIECE:
            self._put(bytes(self.buffer))
            self.buffer.clear()
        return len(data)

    def _put(self, item: Any) -> None:
        while not self.cancelled.is_set():
            try:
                self.pieces.put(item, timeout=1)
                return
            except queue.Full:
                continue
        raise _Closed

    def finish(self, outcome: Any) -> None:
        if self.buffer:
            self._put(bytes(self.buffer))
            self.buffer.clear()
        self._put(outcome)


@blp.route("/consolidated", methods=["GET"])
@blp.arguments(ConsolidatedQuery, location="query")
@blp.response(200, content_type=XLSX, description="the consolidated workbook (.xlsx), streamed")
@blp.doc(security=[{"bearer": []}])
@require(HEAD_OFFICE, ADMIN)
def consolidated(query: dict[str, Any]) -> Any:
    """The consolidated workbook of the chosen branches for ``[start, end)``: tickets, KPIs, analysis."""
    start: date = query["start"]
    end: date = query["end"]
    if not start < end:
        raise ApiError(
            422, "bad_period", f"start {start} must be before end {end} (end is exclusive)", {"field": "end"}
        )
    branches = parse_branches(query["branches"])
    db = get_db()
    config = current_app.config
    try:
        with db.read() as session:
            branch_zones(session, branches)
    except UnknownBranchError as exc:
        raise ApiError(
            422,
            "unknown_branch",
            f"unknown branch code(s): {', '.join(exc.codes)}",
            {"branches": list(exc.codes)},
        ) from exc
    options = ConsolidateOptions(
        branches=branches,
        period=Period.chosen(start, end),
        lang=query["lang"],
        show_phones=sees_phones(current().role),
        generated_at=clock.now(),
        timezone=config["TIMEZONE"],
        calendar_path=config.get("CALENDAR_FILE"),
        workers=config.get("CONSOLIDATE_WORKERS"),
    )
    name = f"consolidated-{'-'.join(branches) if branches else 'all'}-{start}-{end}.xlsx"
    return stream_consolidated(db, options, name)


class ConsolidatedBuildError(RuntimeError):
    """The workbook being streamed could not be finished; the log holds the cause."""


def stream_consolidated(db: Database, options: ConsolidateOptions, download_name: str) -> Response:
    """A response that streams the workbook of ``options`` as an attachment while a thread builds it.

    Shared by ``GET /api/consolidated`` and the dashboard's download. Call
    inside an application context; the branches must have been checked (a
    branch removed meanwhile fails the download, and the log says why).
    """
    pieces: queue.Queue[Any] = queue.Queue(maxsize=_QUEUED_PIECES)
    cancelled = threading.Event()
    writer = _QueueWriter(pieces, cancelled)
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def build() -> None:
        outcome: Any = _END
        try:
            with app.app_context():
                build_consolidated(db, writer, options)  # type: ignore[arg-type]
        except _Closed:
            logger.info("consolidated workbook: the client went away")
            return
        except Exception as exc:
            logger.exception("consolidated workbook failed")
            outcome = exc
        try:
            writer.finish(outcome)
        except _Closed:
            pass

    def stream() -> Any:
        try:
            while True:
                piece = pieces.get()
                if piece is _END:
                    return
                if isinstance(piece, BaseException):
                    # Raising (not returning) makes the server drop the connection without the last
                    # chunk, so the client sees a failed download, never a complete-looking short one.
                    raise ConsolidatedBuildError(
                        "the consolidated workbook failed while it was sent"
                    ) from piece
                yield piece
        finally:
            cancelled.set()

    threading.Thread(target=build, name="consolidated-workbook", daemon=True).start()
    fallback = download_name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(
        stream(),
        mimetype=XLSX,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(download_name)}"
            ),
            "Cache-Control": "no-store",
        },
    )
