"""What the directory import says, in the language of whoever reads it.

Messages are made where a problem is found, before anyone knows who will read
them: a console page in Chinese or English, the command line, a test. So a
message is kept as a :class:`Text`, an English message id with its values,
and put into words only when shown. The Chinese lives in its own catalogue
domain, ``hotline/translations/zh/LC_MESSAGES/directory.po`` (compiled to the
``.mo`` beside it); see ``hotline/translations/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

from babel.support import Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "directory"
DEFAULT_LANGUAGE = "zh"


@lru_cache(maxsize=4)
def _translator(language: str) -> NullTranslations:
    # English, or a language without a catalogue, shows the English ids.
    return Translations.load(str(TRANSLATIONS_DIR), [language], domain=DOMAIN)


@dataclass(frozen=True)
class Text:
    """A message id (English, with ``%(name)s`` placeholders) and its values.

    Values may be Texts themselves (a role's name, a hint), translated with it.
    """

    id: str
    params: tuple[tuple[str, object], ...] = ()

    def render(self, language: str) -> str:
        """The message in ``language`` (``zh`` or ``en``); English when untranslated."""
        template = _translator(language).gettext(self.id)
        if not self.params:
            return template
        values = {name: _render(value, language) for name, value in self.params}
        return template % values

    def __str__(self) -> str:
        return self.render("en")


class TextError(ValueError):
    """A refusal whose ``text`` says why and what to do, put into words when shown.

    ``str()`` gives the English text; :meth:`render` the reader's language.
    """

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text

    def render(self, language: str) -> str:
        return self.text.render(language)


@dataclass(frozen=True)
class Localised:
    """A value that has its own words in each language (a city's name), English as the fallback."""

    words: dict[str, str]

    def render(self, language: str) -> str:
        return self.words.get(language) or self.words.get("en", "")

    def __str__(self) -> str:
        return self.render("en")


def _l(message_id: str, /, **params: object) -> Text:  # the name pybabel extracts as a lazy message
    """A message to be translated when shown."""
    return Text(message_id, tuple(params.items()))


def _render(value: object, language: str) -> object:
    if isinstance(value, Text | Localised):
        return value.render(language)
    if isinstance(value, list | tuple):
        return join([_render(item, language) for item in value], language)
    return value


def join(items: Iterable[object], language: str) -> str:
    """Items listed as each language lists them: ``a, b`` or ``a、b``."""
    return ("、" if language == "zh" else ", ").join(str(item) for item in items)


def quoted(value: str) -> Text:
    """A cell's text as a message shows it: ``'12345'`` in English, ``“12345”`` in Chinese."""
    return _l("'%(value)s'", value=value)


def render(message: Text | str, language: str) -> str:
    """``message`` in ``language``; plain strings are shown as they are."""
    return message.render(language) if isinstance(message, Text) else message
