"""The overview page: tiles, counts by status and level, unfinished and overdue work, KPI tables, charts.

Every figure is a `complaints.figures.Figure` of the analysis (`figures.cached_overview`),
shown with the figure's own label; every number of tickets links to the ticket
list of exactly those tickets (`TicketFilter.of_figure`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app, flash, render_template, request, url_for

from complaints import figures as f
from complaints.enums import Fishbone, Level, MeasureStatus, Status
from complaints.figures import Figure, Kind
from complaints.kpis import Kpis
from complaints.periods import Period
from complaints.selections import Selection
from complaints.wire import COLUMNS
from server.dashboard import charts
from server.dashboard.blueprint import bp
from server.dashboard.figures import Overview, cached_overview
from server.dashboard.forms import default_period, filter_message, read_branches, read_period
from server.dashboard.i18n import current_lang, t
from server.dashboard.queries import FilterError, TicketFilter, branch_codes
from server.dashboard.signin import current_user, signed_in
from server.services.present import masked, percent
from server.storage.db import get_db

CATEGORY_CSS = "bar-category"
LEVEL_CSS = {Level.BLUE: "bar-blue", Level.YELLOW: "bar-yellow", Level.RED: "bar-red"}
TILES: tuple[Figure, ...] = (
    f.RECEIVED,
    f.CANCELLED,
    f.RESOLUTION,
    f.SATISFACTION,
    f.CLOSED_LOOP,
    f.MEDIAN_CLOSE,
    f.IMPROVEMENT,
    f.UNFINISHED,
    f.OVERDUE,
    f.REVISIT_DUE,
    f.RED,
    f.YELLOW,
    f.REPEAT_TICKETS,
    f.REPEAT_CUSTOMERS,
    f.GROUP_TICKETS,
    f.GROUP_INCIDENTS,
    f.GROUP_REVISIT,
    f.MAJOR,
    f.MAJOR_PLAN,
)
TILE_CSS = {"red": "tile-red", "yellow": "tile-yellow", "overdue": "tile-red"}

Group = tuple[str, Kpis, Sequence[str], str | None]
"""A row of a table: its name, its KPIs, its branches (none: all) and its department (None: any)."""


def list_url(selection: Selection, period: Period, branches: Sequence[str]) -> str:
    """The ticket list of the tickets received in ``period`` in ``branches`` that ``selection`` admits."""
    query = urlencode(TicketFilter.of_figure(selection, period, branches).args())
    return f"{url_for('dashboard.tickets')}?{query}"


def shown(figure: Figure, k: Kpis) -> str:
    """The value of ``figure`` as text."""
    value = figure.value(k)
    if figure.kind is Kind.RATE:
        return percent(value)  # type: ignore[arg-type]
    if figure.kind is Kind.DAYS:
        return t("n_a") if value is None else f"{value:g}"
    return str(value)


@dataclass(frozen=True, slots=True)
class Cell:
    """A figure as the page shows it; ``url`` is the list of its tickets ("" for other figures)."""

    key: str
    label: str
    text: str
    url: str
    detail: str
    css: str


def figure_cell(
    figure: Figure, k: Kpis, period: Period, branches: Sequence[str], department: str | None = None
) -> Cell:
    """A figure's label and text; for a number of tickets also the list of them."""
    url = ""
    if figure.selection is not None:
        selection = figure.selection
        if department is not None:
            selection = dataclasses.replace(selection, department=department)
        url = list_url(selection, period, branches)
    share = figure.share(k) if figure.share is not None else None
    return Cell(
        figure.key,
        figure.label(current_lang()),
        shown(figure, k),
        url,
        "" if share is None else t("rate_detail", hits=share.hits, total=share.total),
        TILE_CSS.get(figure.key, ""),
    )


def table_rows(groups: list[Group], period: Period) -> list[dict[str, Any]]:
    """One row per group: the figures of `figures.TABLE`."""
    return [
        {"name": name, "cells": [figure_cell(fig, k, period, codes, dept) for fig in f.TABLE]}
        for name, k, codes, dept in groups
    ]


def work_rows(groups: list[Group], period: Period) -> list[dict[str, Any]]:
    """Unfinished and overdue tickets per group, most overdue first; groups with neither are left out."""
    found = [
        (
            (-k.overdue, -k.unfinished, name),
            {
                "name": name,
                "unfinished": figure_cell(f.UNFINISHED, k, period, codes, dept),
                "overdue": figure_cell(f.OVERDUE, k, period, codes, dept),
            },
        )
        for name, k, codes, dept in groups
        if k.unfinished or k.overdue
    ]
    return [row for _, row in sorted(found, key=lambda item: item[0])]


@bp.route("/", endpoint="overview")
@signed_in
def overview_page() -> Any:
    with get_db().read() as session:
        branches = branch_codes(session)
        codes = [code for code, _ in branches]
        try:
            period = read_period(request.args)
            chosen = read_branches(request.args, codes)
        except FilterError as exc:
            flash(filter_message(exc), "error")
            period, chosen = default_period(), []
        cache = current_app.extensions["dashboard_figures"]
        fig = cached_overview(cache, session, period, chosen, current_app.config.get("CALENDAR_FILE"))
    mask = not current_user().sees_phone_numbers
    key = (current_lang(), request.script_root, mask)
    view = fig.views.get(key)
    if view is None:  # built once per cached overview, language and masking: some hundred links
        view = fig.views[key] = page_view(fig, mask)
    return render_template("dashboard/overview.html", fig=fig, branches=branches, chosen=chosen, **view)


def page_view(fig: Overview, mask: bool = False) -> dict[str, Any]:
    """Everything the overview template shows of ``fig``, in the request's language.

    With ``mask``, phone numbers typed into department names, root causes and
    measures are masked (the links still filter by the department as stored).
    """
    lang = current_lang()
    period, chosen = fig.period, list(fig.branches)
    kpis, trends = fig.analysis.kpis, fig.analysis.trends
    k = kpis.overall
    months = [m.month for m in trends]
    by_branch: list[Group] = [(code, own, [code], None) for code, own in kpis.by_branch.items()]
    by_department: list[Group] = [
        (masked("department", name, mask) or t("unrouted"), own, chosen, name)
        for name, own in kpis.by_department.items()
    ]
    # a department named with a number the viewer may not see links nowhere: its link would carry the number
    unlinked = {shown for name in kpis.by_department if (shown := masked("department", name, mask)) != name}
    return dict(
        k=k,
        root_causes=[
            dataclasses.replace(
                rc,
                cause=masked("cause", rc.cause, mask),
                measures=tuple((masked("measures", m, mask), n) for m, n in rc.measures),
            )
            for rc in fig.analysis.root_causes
        ],
        several_zones=len(set(fig.analysis.zones.values())) > 1,
        tiles=[figure_cell(figure, k, period, chosen) for figure in TILES],
        statuses=[figure_cell(f.by_status(s), k, period, chosen) for s in Status],
        table_headers=[figure.label(lang) for figure in f.TABLE],
        kpi_rows=table_rows([(t("overall"), k, chosen, None), *by_branch], period),
        department_rows=_without_links(table_rows(by_department, period), unlinked),
        work_by_branch=work_rows(by_branch, period),
        work_by_department=_without_links(work_rows(by_department, period), unlinked),
        department_label=COLUMNS["department"].header(lang),
        unfinished_label=f.UNFINISHED.label(lang),
        overdue_label=f.OVERDUE.label(lang),
        improvement_label=f.IMPROVEMENT.label(lang),
        fishbone_rows=[_number(f.by_fishbone(b), b.label(lang), k) for b in Fishbone],
        fishbone_chart=charts.bars(
            [(b.label(lang), k.fishbone[b], CATEGORY_CSS) for b in Fishbone], t("fishbone")
        ),
        measure_rows=[
            *(_number(f.by_measure(m), m.label(lang), k) for m in MeasureStatus),
            _number(f.MEASURES_OVERDUE, f.MEASURES_OVERDUE.label(lang), k),
            _number(f.MEASURES_WATCHED, f.MEASURES_WATCHED.label(lang), k),
            {"key": "measures_effective", "label": t("measures_effective"), "value": k.improvement.hits},
        ],
        type_chart=charts.bars(
            [(c.label(lang), n, CATEGORY_CSS) for c, n in k.by_category.items()],
            t("type_distribution"),
        ),
        level_chart=charts.bars(
            [(lv.label(lang), k.by_level[lv], LEVEL_CSS[lv]) for lv in Level],
            t("by_level"),
            width=420,
            label_width=60,
        ),
        volume_chart=charts.lines(
            months,
            [
                (figure.label(lang), [figure.value(m.kpis) for m in trends], css)
                for figure, css in (
                    (f.RECEIVED, "line-received"),
                    (f.RED, "line-red"),
                    (f.YELLOW, "line-yellow"),
                )
            ],
            t("trend_volume"),
        ),
        rate_chart=charts.lines(
            months,
            [
                (figure.label(lang), [_pct(figure.value(m.kpis)) for m in trends], css)
                for figure, css in (
                    (f.RESOLUTION, "line-received"),
                    (f.SATISFACTION, "line-closed"),
                    (f.CLOSED_LOOP, "line-yellow"),
                )
            ],
            t("trend_rates"),
            peak=100,
            unit="%",
        ),
    )


def _number(figure: Figure, label: str, k: Kpis) -> dict[str, Any]:
    """A count of the fishbone or measures table: the figure's key (for tests and links), label, value."""
    return {"key": figure.key, "label": label, "value": figure.value(k)}


def _without_links(rows: list[dict[str, Any]], names: set[str]) -> list[dict[str, Any]]:
    """``rows`` with the cells of the rows named in ``names`` made plain text."""
    for row in rows:
        if row["name"] in names:
            for key, value in row.items():
                if isinstance(value, Cell):
                    row[key] = dataclasses.replace(value, url="")
                elif key == "cells":
                    row[key] = [dataclasses.replace(cell, url="") for cell in value]
    return rows


def _pct(rate: float | None) -> float | None:
    return None if rate is None else rate * 100
