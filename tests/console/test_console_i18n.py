"""Language: Chinese by default, English on ?lang=en; the catalogue is complete and compiled."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from hotline.console.i18n import clock
from tests.support.console import login

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "hotline" / "translations"
PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.mo"


def _catalog():
    with PO.open("rb") as handle:
        return read_po(handle)


def test_console_is_chinese_by_default_and_english_on_request(console, world):
    assert "派出所管理台登录" in console.get("/login").get_data(as_text=True)
    login(console, "a_staff")
    chinese = console.get("/board").get_data(as_text=True)
    assert '<html lang="zh-CN">' in chinese and "值班看板" in chinese
    english = console.get("/board?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Live board" in english
    # The choice is kept in the session for later pages.
    assert "Incidents" in console.get("/incidents").get_data(as_text=True)
    assert "警情" in console.get("/incidents?lang=zh").get_data(as_text=True)


def test_language_choice_survives_signing_in(console, world):
    console.get("/login?lang=en")
    login(console, "a_staff")
    assert "Live board" in console.get("/board").get_data(as_text=True)


def test_unknown_language_is_ignored(console, world):
    login(console, "a_staff")
    assert "值班看板" in console.get("/board?lang=xx").get_data(as_text=True)


def test_every_message_in_the_code_has_a_chinese_translation():
    catalog = _catalog()
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    method_map = [("hotline/console/**.py", "python"), ("hotline/console/templates/**.html", "jinja2")]
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    assert found, "no messages extracted"
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert not missing, f"untranslated: {missing}"


def test_compiled_catalogue_matches_the_po_file():
    with MO.open("rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    source = {m.id: m.string for m in _catalog() if m.id and m.string and not m.fuzzy}
    assert compiled == source, "run: pybabel compile -d hotline/translations"


def test_translations_keep_their_placeholders_and_no_stray_percent_signs():
    for message in _catalog():
        if not message.id:
            continue
        wanted = sorted(re.findall(r"%\(\w+\)[sd]", message.id))
        assert sorted(re.findall(r"%\(\w+\)[sd]", message.string)) == wanted, message.id
        # Jinja formats every translated string, so a bare % would break the page.
        assert not re.search(r"%(?!\(\w+\)[sd])", message.string), message.id


def test_package_data_ships_templates_static_files_and_translations():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["hotline"]
    package = ROOT / "hotline"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    needed = [
        *package.glob("console/templates/console/*.html"),
        *package.glob("static/*"),
        MO,
    ]
    assert needed and all(path in shipped for path in needed)


def test_clock_format():
    assert [clock(s) for s in (None, 0, 5, 65, 3600, 3725.4)] == ["", "0:00", "0:05", "1:05", "1:00:00", "1:02:05"]
