"""Group matching through POST /api/sync (SQLite and PostgreSQL): places typed differently are one estate,
and the building words dropped are the server's setting (``LEVEL_RULES = {"place_suffixes": [...]}``)."""

from __future__ import annotations

import pytest

from server import create_app
from server.storage.db import get_db
from tests.server.api.conftest import NOW, add_branch
from tests.server.api.test_sync_api import key, new_fields, sync


def pushed(app, places: tuple[str, ...]) -> list[str]:
    """The group ids of tickets typed at ``places`` on the same morning, as the pull returns them."""
    token = add_branch(app, "SZ01")
    items = [
        {"sync_key": key(), "fields": new_fields(f"SZ01-20261125-000{n}", place=place)}
        for n, place in enumerate(places, 1)
    ]
    out = sync(app.test_client(), token, {"tickets": items})
    assert not out["pushed"]["rejected"]["tickets"]
    return [t["group_id"] for t in sorted(out["pulled"]["tickets"], key=lambda t: t["ticket_id"])]


@pytest.mark.parametrize(
    ("setting", "places", "grouped"),
    [
        (None, ("翠湖小区", "翠湖小区3栋", "翠湖小区３号楼2单元501室"), True),
        (None, ("翠湖小区", "翠湖小区3栋", "碧水花园3栋"), False),
        ({"place_suffixes": ["栋"]}, ("翠湖小区", "翠湖小区3单元", "翠湖小区4单元"), False),
        ({"place_suffixes": ["单元"]}, ("翠湖小区", "翠湖小区3单元", "翠湖小区4单元"), True),
    ],
)
def test_places_typed_differently_form_one_group_as_configured(database_url, setting, places, grouped):
    config = {"TESTING": True, "DATABASE_URL": database_url, "CLOCK": lambda: NOW}
    if setting is not None:
        config["LEVEL_RULES"] = setting
    app = create_app(config)
    with app.app_context():
        get_db().upgrade()
    try:
        groups = pushed(app, places)
    finally:
        with app.app_context():
            get_db().dispose()
    assert groups == (["SZ01-20261125-0001"] * 3 if grouped else ["", "", ""])


def test_a_bad_place_suffix_setting_stops_the_start_naming_it(tmp_path):
    with pytest.raises(ValueError, match="place_suffixes"):
        create_app(
            {
                "TESTING": True,
                "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                "LEVEL_RULES": {"place_suffixes": "栋"},
            }
        )
