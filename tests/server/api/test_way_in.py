"""The way in: ``/``, the add-ins served under ``/officejs/``, and the branch portal's downloads."""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook

from addin import officejs
from complaints.enums import Category
from complaints.routing import RoutingRule
from server.storage.db import get_db
from server.storage.models import BranchRow
from server.storage.routing import set_rule
from server.xlsx import read_workbook
from tests.server.api.conftest import NOW, add_branch, add_head_office
from tests.server.api.test_branch_portal import csrf

PUBLIC = "https://desk.example.cn"


def links(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', page)


def signed_in(app, code: str = "SZ01", tz: str = "Asia/Shanghai"):
    token = add_branch(app, code, tz)
    client = app.test_client()
    page = client.get("/branch/").get_data(as_text=True)
    response = client.post("/branch/signin", data={"branch": code, "token": token, "csrf_token": csrf(page)})
    assert response.status_code == 302
    return client


# --- / ------------------------------------------------------------------------------------------


def test_the_home_page_is_bilingual_and_every_link_on_it_answers(app):
    app.config["SERVER_URL"] = PUBLIC
    client = app.test_client()
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert (
        response.status_code == 200
        and "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    )
    assert "总部看板" in page and "Head-office dashboard" in page
    assert "分支机构入口" in page and "Branch portal" in page
    hrefs = [h for h in links(page) if h.startswith("/") and h != "/"]
    assert {"/dashboard/", "/branch/", "/officejs/complaint-desk.xlam", "/api/openapi.json"} <= {
        h.split("?")[0] for h in hrefs
    }
    assert "/officejs/manifest.xml?download=1" in hrefs
    for href in hrefs:
        with client.get(href) as followed:
            assert followed.status_code in (200, 302), href


# --- /officejs/ ---------------------------------------------------------------------------------


def test_the_manifest_is_served_with_the_servers_own_https_address(app):
    app.config["SERVER_URL"] = PUBLIC + "/"
    client = app.test_client()
    response = client.get("/officejs/manifest.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    text = response.get_data(as_text=True)
    assert "localhost" not in text
    root = ElementTree.fromstring(text)
    urls = {v for e in root.iter() for v in (e.text, *e.attrib.values()) if v and "://" in v}
    assert urls and all(u.strip().startswith(PUBLIC) for u in urls)
    for url in urls:  # every page and icon the manifest names is served here
        path = url.strip().removeprefix(PUBLIC)
        if path:
            with client.get(path) as served:
                assert served.status_code == 200, path
    download = client.get("/officejs/manifest.xml?download=1")
    assert download.headers["Content-Disposition"] == "attachment; filename=complaint-desk-manifest.xml"


def test_the_manifest_of_a_plain_http_server_says_what_to_set(app):
    response = app.test_client().get("/officejs/manifest.xml", base_url="http://10.0.0.5:5000")
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "http://10.0.0.5:5000" in text and "FLASK_SERVER_URL=https://" in text and "HTTPS" in text


def test_the_settings_button_opens_the_token_pane(app):
    client = app.test_client()
    with client.get("/officejs/taskpane.html") as pane:
        assert pane.status_code == 200
        page = pane.get_data(as_text=True)
    assert 'id="token"' in page and "setToken" in page and '<script src="commands.js"></script>' in page
    assert "X-Frame-Options" not in pane.headers  # Excel shows it in a frame
    root = ElementTree.fromstring(officejs.manifest(PUBLIC))
    assert f"{PUBLIC}/officejs/taskpane.html" in [
        u.get("DefaultValue") for u in root.iter() if u.get("id") == "Url.Settings"
    ]
    with client.get("/officejs/commands.js") as script:
        assert script.status_code == 200 and "javascript" in script.mimetype


@pytest.mark.parametrize(
    "path", ["/officejs/__init__.py", "/officejs/../server/__init__.py", "/officejs/nope.js"]
)
def test_only_the_add_ins_pages_script_and_icons_are_served(app, path):
    assert app.test_client().get(path).status_code == 404


def test_the_desktop_add_in_downloads_with_its_vba(app):
    response = app.test_client().get("/officejs/complaint-desk.xlam")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=complaint-desk.xlam"
    with zipfile.ZipFile(io.BytesIO(response.data)) as xlam:
        assert "xl/vbaProject.bin" in xlam.namelist() and "customUI/customUI.xml" in xlam.namelist()


# --- the branch portal's downloads ------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_signed_in_branch_downloads_its_blank_workbook_with_its_settings_and_routing(app, tmp_path, lang):
    app.config["SERVER_URL"] = PUBLIC
    client = signed_in(app, "HK01", "Asia/Hong_Kong")
    with app.app_context(), get_db().write() as session:
        branch = session.query(BranchRow).filter_by(code="HK01").one()
        rule = RoutingRule(Category.NETWORK_FAULT, "网络维护中心", "李主任", "li@example.cn", ("小陈",))
        set_rule(session, branch.id, rule)
    page = client.get("/branch/").get_data(as_text=True)
    assert f"/branch/workbook.xlsx?headers={lang}" in links(page)
    response = client.get(f"/branch/workbook.xlsx?headers={lang}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=HK01.xlsx")
    path = tmp_path / "HK01.xlsx"
    path.write_bytes(response.data)
    book = read_workbook(path, now=NOW)
    assert (
        book.settings.branch,
        book.settings.server_url,
        book.settings.timezone,
        book.settings.language,
    ) == ("HK01", PUBLIC, "Asia/Hong_Kong", lang)
    assert "网络维护中心" in [r.department for r in book.routes]
    assert book.tickets == []
    assert load_workbook(path).sheetnames[0] == ("投诉单" if lang == "zh" else "Tickets")

    result = app.test_cli_runner().invoke(args=["workbook", "check", str(path)])
    assert result.exit_code == 0 and "no problems" in result.output


def test_the_blank_workbook_needs_a_signed_in_branch(app):
    response = app.test_client().get("/branch/workbook.xlsx")
    assert response.status_code == 302 and response.headers["Location"].endswith("/branch/")


def test_the_dashboard_and_the_portal_link_to_each_other(app):
    add_head_office(app)
    client = app.test_client()
    assert "/branch/" in links(client.get("/dashboard/signin").get_data(as_text=True))
    portal = client.get("/branch/").get_data(as_text=True)
    assert "/dashboard/" in links(portal) and "/" in links(portal)
