"""The directory import's own catalogue: every message has its Chinese, compiled, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "hotline" / "translations" / "zh" / "LC_MESSAGES"


def _catalog():
    with (MESSAGES / "directory.po").open("rb") as handle:
        return read_po(handle)


def test_every_directory_message_has_a_chinese_translation_with_its_placeholders():
    catalog = _catalog()
    method_map = [
        ("hotline/directory/**.py", "python"),
        ("hotline/cli/directory.py", "python"),
        ("hotline/cli/station_show.py", "python"),
    ]
    found = {message for _f, _l, message, _c, _x in extract_from_dir(str(ROOT), method_map=method_map,
                                                                    keywords={"_l": None})}
    assert found, "no messages extracted"
    missing = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert not missing, f"untranslated: {missing}"
    for message in catalog:
        if message.id:
            wanted = sorted(re.findall(r"%\(\w+\)[sd]", message.id))
            assert sorted(re.findall(r"%\(\w+\)[sd]", message.string)) == wanted, message.id


def test_compiled_directory_catalogue_matches_the_po_file():
    with (MESSAGES / "directory.mo").open("rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    source = {m.id: m.string for m in _catalog() if m.id and m.string and not m.fuzzy}
    assert compiled == source, "run: pybabel compile -D directory -d hotline/translations"
