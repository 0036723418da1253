"""The overview page: counts, KPIs by branch and department, overdue now, charts."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, render_template, request

from complaints.enums import Level
from complaints.kpis import Kpis, Milestone
from complaints.wire import COLUMNS
from server.dashboard import charts
from server.dashboard.blueprint import bp
from server.dashboard.figures import cached_overview
from server.dashboard.forms import default_days, filter_message, read_branches, read_days
from server.dashboard.i18n import current_lang, t
from server.dashboard.present import percent
from server.dashboard.queries import FilterError, branch_codes
from server.dashboard.signin import signed_in
from server.storage.db import get_db

CATEGORY_CSS = "bar-category"
LEVEL_CSS = {Level.BLUE: "bar-blue", Level.YELLOW: "bar-yellow", Level.RED: "bar-red"}


@bp.route("/", endpoint="overview")
@signed_in
def overview_page() -> Any:
    lang = current_lang()
    with get_db().read() as session:
        branches = branch_codes(session)
        codes = [code for code, _ in branches]
        try:
            days = read_days(request.args)
            chosen = read_branches(request.args, codes)
        except FilterError as exc:
            flash(filter_message(exc), "error")
            days, chosen = default_days(), []
        cache = current_app.extensions["dashboard_figures"]
        fig = cached_overview(cache, session, days, chosen, current_app.config.get("CALENDAR_FILE"))
    kpis, trends = fig.analysis.kpis, fig.analysis.trends
    months = [m.month for m in trends]
    return render_template(
        "dashboard/overview.html",
        fig=fig,
        k=kpis.overall,
        branches=branches,
        chosen=chosen,
        kpi_headers=kpi_headers(),
        kpi_rows=kpi_rows([(t("overall"), kpis.overall), *kpis.by_branch.items()]),
        department_rows=kpi_rows([(name or t("unrouted"), k) for name, k in kpis.by_department.items()]),
        department_label=COLUMNS["department"].header(lang),
        type_chart=charts.bars(
            [(c.label(lang), n, CATEGORY_CSS) for c, n in fig.analysis.types.items()],
            t("type_distribution"),
        ),
        level_chart=charts.bars(
            [(lv.label(lang), fig.by_level[lv], LEVEL_CSS[lv]) for lv in Level],
            t("by_level"),
            width=420,
            label_width=60,
        ),
        volume_chart=charts.lines(
            months,
            [
                (t("received"), [m.kpis.received for m in trends], "line-received"),
                (t("red"), [m.kpis.red for m in trends], "line-red"),
                (t("yellow"), [m.kpis.yellow for m in trends], "line-yellow"),
            ],
            t("trend_volume"),
        ),
        rate_chart=charts.lines(
            months,
            [
                (t("resolution_rate"), [_pct(m.kpis.resolution.rate) for m in trends], "line-received"),
                (t("satisfaction"), [_pct(m.kpis.satisfaction.rate) for m in trends], "line-closed"),
                (t("closed_loop"), [_pct(m.kpis.closed_loop.rate) for m in trends], "line-yellow"),
            ],
            t("trend_rates"),
            peak=100,
            unit="%",
        ),
    )


def _pct(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def kpi_rows(groups: list[tuple[str, Kpis]]) -> list[dict[str, Any]]:
    """One row per group: its name and its KPI figures as text, in the order of `kpi_headers`."""
    return [{"name": name, "cells": kpi_cells(k)} for name, k in groups]


def kpi_cells(k: Kpis) -> list[str]:
    median = "—" if k.median_workdays_to_close is None else f"{k.median_workdays_to_close:g}"
    return [
        str(k.received),
        percent(k.resolution.rate),
        percent(k.satisfaction.rate),
        percent(k.closed_loop.rate),
        median,
        *(percent(k.on_time[m].rate) for m in Milestone),
        percent(k.improvement.rate),
        str(k.red),
        str(k.yellow),
        str(k.repeat_tickets),
        str(k.group_tickets),
    ]


def kpi_headers() -> list[str]:
    lang = current_lang()
    return [
        t("received"),
        t("resolution_rate"),
        t("satisfaction"),
        t("closed_loop"),
        t("median_close"),
        *(f"{t('on_time')}·{m.label(lang)}" for m in Milestone),
        t("improvement_rate"),
        t("red"),
        t("yellow"),
        t("repeat"),
        t("group"),
    ]
