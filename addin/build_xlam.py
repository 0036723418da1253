"""Build the desktop Excel add-in (complaint-desk.xlam) on any OS.

    python -m addin.build_xlam -o complaint-desk.xlam [--conf KEY=VALUE ...]

The add-in starts from the Excel-authored quickstart ribbon add-in that ships in
the xlwings package (so the file carries the same xlwings VBA module as the
installed xlwings); then, at zip level, the ribbon is swapped for
``addin/ribbon/customUI.xml``, the config sheet is renamed to
``complaint-desk.conf`` and filled; finally pyOpenVBA writes the VBA: our
modules from ``addin/vba/*.bas`` go in, the quickstart's demo callback goes out,
and the xlwings module's PROJECT_NAME becomes ``complaint-desk`` because that
constant is what names the config sheet and config files xlwings reads.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import xlwings
from pyopenvba import ExcelFile

from addin.macros import MACROS

HERE = Path(__file__).resolve().parent
CUSTOM_UI = HERE / "ribbon" / "customUI.xml"
VBA_DIR = HERE / "vba"
TEMPLATE = Path(xlwings.__file__).resolve().parent / "quickstart_addin_ribbon.xlam"

PROJECT_NAME = "complaint-desk"
CONF_SHEET = f"{PROJECT_NAME}.conf"
TITLE = "Complaint Desk 投诉管理"
DESCRIPTION = "Complaint Desk ribbon: runs the Python macros of addin/macros.py through xlwings RunPython."
# The quickstart's demo callback (RibbonMyAddin.RunMain) has no button left.
OBSOLETE_MODULES = ("RibbonMyAddin",)

# Written into the add-in's config sheet. The sheet is read before the
# directory and user config files, so keys left out here stay configurable per
# PC in %USERPROFILE%\.complaint-desk\complaint-desk.conf; these two are where
# docs/addin.md installs the code and its virtual environment.
DEFAULT_CONF: dict[str, str] = {
    "Interpreter_Win": r"%LOCALAPPDATA%\ComplaintDesk\.venv\Scripts\python.exe",
    "PYTHONPATH": r"%LOCALAPPDATA%\ComplaintDesk",
}

_NS = {
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
}
_UI_REL_SUFFIX = "/relationships/ui/extensibility"
_PROJECT_NAME_LINE = re.compile(r'^(Public Const PROJECT_NAME As String = )"[^"]*"', re.MULTILINE)
_VB_NAME = re.compile(r'^Attribute VB_Name = "([^"]+)"')


class BuildError(RuntimeError):
    """The xlwings template or our sources are not what the build expects."""


def vba_sources(vba_dir: Path = VBA_DIR) -> dict[str, str]:
    """Return {module name: source with CRLF line ends} for every .bas file."""
    modules = {}
    for path in sorted(vba_dir.glob("*.bas")):
        try:
            text = path.read_bytes().decode("ascii")
        except UnicodeDecodeError as exc:
            # VBA stores source in the project's ANSI code page: Chinese would turn into "?"
            # on a PC with another system locale. Keep VBA ASCII; labels live in customUI.xml.
            raise BuildError(f"{path}: VBA source must be ASCII ({exc})") from exc
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        match = _VB_NAME.match(text)
        if not match or match.group(1) != path.stem:
            raise BuildError(f'{path}: first line must be Attribute VB_Name = "{path.stem}"')
        modules[path.stem] = text
    if not modules:
        raise BuildError(f"no .bas files in {vba_dir}")
    return modules


def build(output: Path, conf: Mapping[str, str] | None = None, template: Path = TEMPLATE) -> Path:
    """Write the add-in to `output` and return its path."""
    output = Path(output)
    settings = dict(DEFAULT_CONF if conf is None else conf)
    modules = vba_sources()
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / output.name
        _rewrite_package(template, staged, settings)
        _write_vba(staged, modules)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staged, output)
    return output


def _rewrite_package(template: Path, target: Path, settings: Mapping[str, str]) -> None:
    with zipfile.ZipFile(template) as src:
        parts = {info.filename: src.read(info) for info in src.infolist()}
        order = [info.filename for info in src.infolist()]

    ui_part = _ribbon_part(parts)
    _check_namespace(parts[ui_part])
    check_buttons(CUSTOM_UI.read_bytes(), set(MACROS))
    parts[ui_part] = CUSTOM_UI.read_bytes()

    sheet_part = _rename_conf_sheet(parts)
    parts[sheet_part] = _fill_conf_sheet(parts[sheet_part], settings)
    parts["docProps/core.xml"] = _set_core_properties(parts["docProps/core.xml"])

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in order:
            dst.writestr(name, parts[name])


def _ribbon_part(parts: Mapping[str, bytes]) -> str:
    rels = ElementTree.fromstring(parts["_rels/.rels"])
    targets = [
        rel.get("Target", "").lstrip("/")
        for rel in rels.findall("rel:Relationship", _NS)
        if rel.get("Type", "").endswith(_UI_REL_SUFFIX)
    ]
    if len(targets) != 1 or targets[0] not in parts:
        raise BuildError(f"expected one ribbon part in {TEMPLATE.name}, found {targets}")
    return targets[0]


def check_buttons(custom_ui: bytes, macros: set[str]) -> None:
    """Every ribbon button's tag names a macro of `addin.macros.MACROS`, and every macro has a button."""
    tags = [b.get("tag", "") for b in ElementTree.fromstring(custom_ui).iter() if b.tag.endswith("}button")]
    unknown = sorted(set(tags) - macros)
    missing = sorted(macros - set(tags))
    if unknown or missing or len(tags) != len(set(tags)):
        raise BuildError(
            f"{CUSTOM_UI.name}: buttons and macros differ (no macro: {unknown}; no button: {missing}; "
            f"tags: {tags})"
        )


def _check_namespace(template_ui: bytes) -> None:
    theirs = ElementTree.fromstring(template_ui).tag
    ours = ElementTree.fromstring(CUSTOM_UI.read_bytes()).tag
    if theirs != ours:
        raise BuildError(f"{CUSTOM_UI.name} uses {ours}, the xlwings template's ribbon part expects {theirs}")


def _rename_conf_sheet(parts: dict[str, bytes]) -> str:
    """Rename the template's `_myaddin.conf` sheet; return the sheet's part name."""
    workbook = ElementTree.fromstring(parts["xl/workbook.xml"])
    sheets = [
        sheet
        for sheet in workbook.iterfind("main:sheets/main:sheet", _NS)
        if sheet.get("name", "").endswith(".conf")
    ]
    if len(sheets) != 1:
        raise BuildError(f"expected one *.conf sheet in {TEMPLATE.name}")
    old_name, rel_id = sheets[0].get("name"), sheets[0].get(f"{{{_NS['r']}}}id")
    text = parts["xl/workbook.xml"].decode("utf-8")
    parts["xl/workbook.xml"] = text.replace(f'name="{old_name}"', f'name="{CONF_SHEET}"', 1).encode("utf-8")

    rels = ElementTree.fromstring(parts["xl/_rels/workbook.xml.rels"])
    for rel in rels.findall("rel:Relationship", _NS):
        if rel.get("Id") == rel_id:
            return "xl/" + rel.get("Target", "").removeprefix("/xl/")
    raise BuildError(f"no relationship {rel_id} for sheet {old_name}")


def _fill_conf_sheet(sheet_xml: bytes, settings: Mapping[str, str]) -> bytes:
    """Replace the sheet's cells with KEY | VALUE rows (inline strings)."""
    rows = []
    for number, (key, value) in enumerate(settings.items(), start=1):
        cells = "".join(
            f'<c r="{column}{number}" s="1" t="inlineStr"><is><t>{escape(text)}</t></is></c>'
            for column, text in (("A", key), ("B", value))
        )
        rows.append(f'<row r="{number}">{cells}</row>')
    text = sheet_xml.decode("utf-8")
    sheet_data = f"<sheetData>{''.join(rows)}</sheetData>"
    dimension = f'<dimension ref="A1:B{max(len(rows), 1)}" />'
    # Replacements go through lambdas: Windows paths are full of backslashes.
    text = re.sub(r"<sheetData>.*</sheetData>|<sheetData\s*/>", lambda _: sheet_data, text, flags=re.S)
    text = re.sub(r'<dimension ref="[^"]*"\s*/>', lambda _: dimension, text)
    # Column B holds paths: make it wide enough to read when someone unhides the sheet.
    text = re.sub(r'(<col min="2" max="2" width=")[^"]*"', r'\g<1>60"', text)
    return text.encode("utf-8")


def _set_core_properties(core_xml: bytes) -> bytes:
    # Excel's Add-ins dialog lists an add-in by its title and shows the description.
    text = core_xml.decode("utf-8")
    for tag, value in (("dc:title", TITLE), ("dc:description", DESCRIPTION)):
        element = f"<{tag}>{escape(value)}</{tag}>"
        pattern = rf"<{tag}\s*/>|<{tag}>.*?</{tag}>"
        text = re.sub(pattern, lambda _, element=element: element, text, count=1, flags=re.S)
    return text.encode("utf-8")


def _write_vba(path: Path, modules: Mapping[str, str]) -> None:
    with ExcelFile(str(path)) as book:
        project = book.vba_project()
        present = set(book.module_names())
        for name in OBSOLETE_MODULES:
            if name in present:
                project.delete_module(name)
        xlwings_module = book.get_module("xlwings")
        patched, count = _PROJECT_NAME_LINE.subn(rf'\g<1>"{PROJECT_NAME}"', xlwings_module)
        if count != 1:
            raise BuildError("PROJECT_NAME constant not found in the template's xlwings module")
        book.set_module("xlwings", patched)
        for name, source in modules.items():
            if name in present:
                book.set_module(name, source)
            else:
                project.add_module(name, source)
        book.save()


def _parse_conf(pairs: Sequence[str]) -> dict[str, str]:
    settings = dict(DEFAULT_CONF)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"--conf expects KEY=VALUE, got {pair!r}")
        settings.pop(key.strip(), None)
        if value:
            settings[key.strip()] = value
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the add-in file."""
    parser = argparse.ArgumentParser(prog="python -m addin.build_xlam", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-o", "--output", type=Path, default=Path(f"{PROJECT_NAME}.xlam"), help="the .xlam file to write"
    )
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"set a key of the {CONF_SHEET} sheet (e.g. PYTHONPATH=D:\\ComplaintDesk); KEY= removes it",
    )
    args = parser.parse_args(argv)
    try:
        settings = _parse_conf(args.conf)
        path = build(args.output, settings)
    except (BuildError, argparse.ArgumentTypeError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"wrote {path} ({', '.join(vba_sources())} + xlwings; ribbon from {CUSTOM_UI.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
