"""The desktop add-in: the .xlam built on Linux carries our ribbon and VBA, and opens."""

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from python_calamine import CalamineWorkbook

from addin import build_xlam
from addin.steps import STEP_MACROS

with warnings.catch_warnings():
    # oletools 0.60.2 calls pyparsing APIs that pyparsing 3.3 deprecates, at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser

MACROS = (
    "new_ticket",
    "route",
    "escalate",
    "deescalate",
    "check_deadlines",
    "sync",
    "revisit_list",
    "monthly_summary",
    "pull_consolidated",
    "acknowledge",
    "plan",
    "extension",
    "resolve",
    "feedback",
    "close",
    "revisit",
    "objection",
    "cancel",
    "check_wording",
    "dossier",
    "group",
)
HEAD_OFFICE_MACROS = {"pull_consolidated"}
RIBBON_SUB = re.compile(
    r"^\s*(?:Public\s+)?Sub\s+(\w+)\s*\(\s*control\s+As\s+IRibbonControl\s*\)", re.IGNORECASE | re.MULTILINE
)
CJK = re.compile(r"[\u4e00-\u9fff]")
UI_NS = {"ui": "http://schemas.microsoft.com/office/2006/01/customui"}
OUR_MODULES = {path.stem: path for path in build_xlam.VBA_DIR.glob("*.bas")}

REQUIRE_LIBREOFFICE = bool(os.environ.get("REQUIRE_LIBREOFFICE"))
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None and not REQUIRE_LIBREOFFICE,
    reason="LibreOffice (soffice) is not installed and REQUIRE_LIBREOFFICE is unset",
)


@pytest.fixture(scope="module")
def xlam(tmp_path_factory):
    return build_xlam.build(tmp_path_factory.mktemp("addin") / "complaint-desk.xlam")


@pytest.fixture(scope="module")
def extracted(xlam):
    """{module name: source} as olevba reads it from the built file."""
    parser = VBA_Parser(str(xlam))
    try:
        return {Path(name).stem: code for _, _, name, code in parser.extract_all_macros()}
    finally:
        parser.close()


def ribbon():
    return ElementTree.parse(build_xlam.CUSTOM_UI).getroot()


def buttons():
    return ribbon().findall(".//ui:button", UI_NS)


def crlf(path: Path) -> str:
    return path.read_text(encoding="ascii").replace("\r\n", "\n").replace("\n", "\r\n")


def test_there_is_a_vba_module_to_ship():
    assert "ComplaintDesk" in OUR_MODULES


@pytest.mark.parametrize("name", sorted(OUR_MODULES))
def test_olevba_extracts_our_module_with_its_source_unchanged(extracted, name):
    # Our .bas files are what the VBA editor exports, Attribute VB_Name line
    # included (`xlwings vba import` needs it to name the module), so the stored
    # source must equal the file exactly; only line ends are normalised to CRLF.
    assert extracted[name] == crlf(OUR_MODULES[name])


def test_the_quickstart_demo_callback_is_gone_and_xlwings_stays(extracted):
    assert "RibbonMyAddin" not in extracted
    assert "Public Function RunPython(" in extracted["xlwings"]


def test_xlwings_module_survives_the_rewrite_except_for_its_project_name(extracted):
    # The module is 45 kB: a VBA writer that mangles long sources would show here.
    parser = VBA_Parser(str(build_xlam.TEMPLATE))
    try:
        template = {Path(name).stem: code for _, _, name, code in parser.extract_all_macros()}
    finally:
        parser.close()
    expected = template["xlwings"].replace(
        'PROJECT_NAME As String = "myaddin"', 'PROJECT_NAME As String = "complaint-desk"', 1
    )
    assert expected != template["xlwings"]
    assert extracted["xlwings"] == expected


def test_xlwings_module_reads_the_complaint_desk_conf_sheet(xlam, extracted):
    assert 'Public Const PROJECT_NAME As String = "complaint-desk"' in extracted["xlwings"]
    # xlwings looks the sheet up as PROJECT_NAME & ".conf"; a leading "_" would disable it.
    assert 'wb.Sheets(PROJECT_NAME & ".conf")' in extracted["xlwings"]
    book = CalamineWorkbook.from_path(str(xlam))
    assert book.sheet_names == ["complaint-desk.conf"]
    rows = book.get_sheet_by_name("complaint-desk.conf").to_python()
    assert dict(rows) == build_xlam.DEFAULT_CONF


def test_every_ribbon_callback_has_a_ribbon_sub_in_the_addin(extracted):
    callbacks = {
        value
        for element in ribbon().iter()
        for attribute, value in element.attrib.items()
        if attribute.startswith(("on", "get")) and attribute != "onLoad"
    }
    subs = {name for code in extracted.values() for name in RIBBON_SUB.findall(code)}
    assert callbacks == {"OnAction"}
    assert callbacks <= subs


def test_dispatcher_runs_the_macro_named_by_the_button_tag(extracted):
    body = extracted["ComplaintDesk"].split("Public Sub OnAction(control As IRibbonControl)")[1]
    body = body.split("End Sub")[0].strip()
    assert body == """RunPython "import addin.macros as m; m.run_caller('" & control.Tag & "')\""""


def test_every_macro_has_exactly_one_button_and_every_tag_is_a_macro():
    tags = [button.get("tag") for button in buttons()]
    assert sorted(tags) == sorted(MACROS)


@pytest.mark.parametrize("button", buttons(), ids=lambda b: b.get("tag"))
def test_button_shows_chinese_label_and_english_tip(button):
    assert button.get("onAction") == "OnAction"
    assert CJK.search(button.get("label"))
    assert re.fullmatch(r"[A-Za-z][A-Za-z -]+", button.get("screentip"))
    supertip = button.get("supertip")
    assert CJK.search(supertip) and re.search(r"[A-Za-z]{4,}", supertip)
    assert button.get("imageMso")


def test_tab_and_groups_are_labelled_in_both_languages():
    tab = ribbon().find(".//ui:tab", UI_NS)
    assert tab.get("label") == "投诉管理 / Complaints"
    for group in tab.findall("ui:group", UI_NS):
        assert CJK.search(group.get("label")) and re.search(r"[A-Za-z]", group.get("label"))


def test_the_steps_of_the_process_and_check_wording_sit_in_a_group_of_their_own():
    groups = {
        group.get("label"): [button.get("tag") for button in group.findall("ui:button", UI_NS)]
        for group in ribbon().iterfind(".//ui:group", UI_NS)
    }
    assert groups["处理流程 / Process"] == list(STEP_MACROS)


def test_build_refuses_a_ribbon_button_without_a_macro_and_a_macro_without_a_button():
    ui = build_xlam.CUSTOM_UI.read_bytes()
    with pytest.raises(build_xlam.BuildError, match=r"no macro: \['typo'\]; no button: \['acknowledge'\]"):
        build_xlam.check_buttons(ui.replace(b'tag="acknowledge"', b'tag="typo"'), set(MACROS))


def test_head_office_button_sits_in_its_own_group():
    groups = {
        group.get("id"): {button.get("tag") for button in group.findall("ui:button", UI_NS)}
        for group in ribbon().iterfind(".//ui:group", UI_NS)
    }
    head_office = [tags for tags in groups.values() if tags & HEAD_OFFICE_MACROS]
    assert head_office == [HEAD_OFFICE_MACROS]


def test_ribbon_part_replaces_the_templates_and_keeps_its_relationship(xlam):
    with zipfile.ZipFile(build_xlam.TEMPLATE) as template, zipfile.ZipFile(xlam) as built:
        assert built.read("_rels/.rels") == template.read("_rels/.rels")
        assert built.read("customUI/customUI.xml") == build_xlam.CUSTOM_UI.read_bytes()
        template_ns = ElementTree.fromstring(template.read("customUI/customUI.xml")).tag
        assert ElementTree.fromstring(built.read("customUI/customUI.xml")).tag == template_ns
        assert sorted(built.namelist()) == sorted(template.namelist())


def test_addin_title_names_complaint_desk(xlam):
    with zipfile.ZipFile(xlam) as built:
        assert "<dc:title>Complaint Desk 投诉管理</dc:title>" in built.read("docProps/core.xml").decode()


def test_build_command_sets_and_removes_conf_keys(tmp_path):
    out = tmp_path / "site.xlam"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "addin.build_xlam",
            "-o",
            str(out),
            "--conf",
            r"PYTHONPATH=D:\apps\ComplaintDesk",
            "--conf",
            "Interpreter_Win=",
            "--conf",
            "Show Console=True",
        ],
        cwd=build_xlam.HERE.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("complaint-desk.conf").to_python()
    assert rows == [["PYTHONPATH", r"D:\apps\ComplaintDesk"], ["Show Console", "True"]]


def test_build_command_rejects_a_conf_without_equals_sign(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "addin.build_xlam", "-o", str(tmp_path / "x.xlam"), "--conf", "PYTHONPATH"],
        cwd=build_xlam.HERE.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr
    assert not (tmp_path / "x.xlam").exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Option Explicit\r\n", "Attribute VB_Name"),
        ('Attribute VB_Name = "Other"\r\n', "Attribute VB_Name"),
        ('Attribute VB_Name = "Broken"\r\n\' 投诉\r\n', "ASCII"),
    ],
)
def test_build_refuses_a_bas_file_vba_would_mangle(tmp_path, source, message):
    (tmp_path / "Broken.bas").write_bytes(source.encode("utf-8"))
    with pytest.raises(build_xlam.BuildError, match=message):
        build_xlam.vba_sources(tmp_path)


# Runs under a Python that has LibreOffice's `uno` module (Debian: python3-uno).
LO_PROBE = r"""
import json, os, subprocess, sys, time
import uno
from com.sun.star.beans import PropertyValue

def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p

path, profile = sys.argv[1], sys.argv[2]
pipe = "complaintdesk%d" % os.getpid()
office = subprocess.Popen(
    ["soffice", "--headless", "--invisible", "--norestore", "--nologo", "--nodefault",
     "-env:UserInstallation=" + uno.systemPathToFileUrl(profile), "--accept=pipe,name=%s;urp;" % pipe],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
local = uno.getComponentContext()
resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
deadline = time.time() + 60
while True:
    try:
        ctx = resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
        break
    except Exception:
        if time.time() > deadline or office.poll() is not None:
            raise
        time.sleep(0.2)
desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
out = {}
try:
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(path), "_blank", 0,
        (prop("Hidden", True), prop("FilterName", "Calc MS Excel 2007 XML")))
    out["loaded"] = doc is not None
    if doc is not None:
        out["sheets"] = list(doc.Sheets.ElementNames)
        conf = doc.Sheets.getByIndex(0).getCellRangeByName("A1:B2").DataArray
        out["conf"] = [list(row) for row in conf]
        libraries = doc.BasicLibraries
        out["modules"] = {}
        for library in libraries.ElementNames:
            libraries.loadLibrary(library)
            for module in libraries.getByName(library).ElementNames:
                out["modules"][module] = libraries.getByName(library).getByName(module)
        doc.close(True)
finally:
    try:
        desktop.terminate()
    except Exception:
        pass
    office.wait(30)
print(json.dumps(out))
"""


def uno_python() -> str:
    candidates = (os.environ.get("UNO_PYTHON"), "/usr/bin/python3", "/usr/lib/libreoffice/program/python")
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import uno"], capture_output=True, timeout=30)
            if probe.returncode == 0:
                return candidate
    pytest.fail("no Python with LibreOffice's uno module: apt-get install python3-uno (or set UNO_PYTHON)")


@needs_soffice
def test_libreoffice_opens_the_addin_and_lists_our_modules(xlam, tmp_path):
    script = tmp_path / "lo_probe.py"
    script.write_text(LO_PROBE, encoding="utf-8")
    result = subprocess.run(
        [uno_python(), str(script), str(xlam), str(tmp_path / "profile")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["loaded"]
    assert seen["sheets"] == ["complaint-desk.conf"]
    assert seen["conf"] == [list(item) for item in build_xlam.DEFAULT_CONF.items()]
    assert set(OUR_MODULES) | {"xlwings"} <= set(seen["modules"])
    assert "RibbonMyAddin" not in seen["modules"]
    # LibreOffice prefixes its own VBA-compatibility lines; our code follows unchanged.
    ours = crlf(OUR_MODULES["ComplaintDesk"]).split("\r\n", 1)[1].replace("\r\n", "\n")
    assert ours.strip() in seen["modules"]["ComplaintDesk"].replace("\r\n", "\n")
