"""Plain factory functions for tests: real domain objects with sensible defaults."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from complaints.enums import Category, Channel, Grade
from complaints.model import Ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*parts: int) -> datetime:
    """An aware Shanghai datetime: ``local(2026, 9, 30, 9, 10)``."""
    return datetime(*parts, tzinfo=SHANGHAI)


def make_ticket(**fields: object) -> Ticket:
    """A complete, well-described ticket received Monday 2 March 2026 09:10 in Shanghai."""
    defaults: dict[str, object] = {
        "ticket_id": "SZ01-20260302-0001",
        "branch": "SZ01",
        "received_at": local(2026, 3, 2, 9, 10),
        "channel": Channel.HOTLINE,
        "customer_name": "张先生",
        "contact": "13800138000",
        "category": Category.NETWORK_FAULT,
        "place": "阳光花园小区3栋",
        "problem_time": "每晚20:00-23:00",
        "service": "家庭宽带",
        "description": "每晚八点到十一点宽带断线，重启光猫后十分钟又断",
        "expectation": "一周内恢复稳定上网",
        "grade": Grade.MODERATE,
    }
    defaults.update(fields)
    return Ticket(**defaults)  # type: ignore[arg-type]
