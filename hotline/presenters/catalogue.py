"""The translation catalogue outside a request: labels in a language named by the caller.

The console's Chinese lives in ``hotline/translations/zh/LC_MESSAGES/messages.po``
(compiled to the ``.mo`` beside it), with English message ids. Presenters
translate with it directly rather than through Flask-Babel, so the same text
comes out of a console page, the browser phone's JSON and a test without an
app.
"""

from __future__ import annotations

from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

from babel.support import Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
LANGUAGES = ("zh", "en")  # English is the message ids themselves


def N_(message: str) -> str:  # the name pybabel extracts by default
    """Mark ``message`` for extraction into the catalogue; it is translated later."""
    return message


@lru_cache(maxsize=len(LANGUAGES))
def translator(language: str) -> NullTranslations:
    """The compiled catalogue of ``language``.

    English, or a language without a catalogue, gets a translator that returns
    every message id unchanged, so a missing translation shows English rather
    than failing.
    """
    return Translations.load(str(TRANSLATIONS_DIR), [language])
