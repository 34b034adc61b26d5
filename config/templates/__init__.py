"""Message and voice-prompt templates, one TOML file per language.

Stations can change wording without touching code: each file maps a template
name to a ``str.format`` pattern. Chinese (``zh``) is the default language.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


class TemplateError(KeyError):
    """A template is missing, or a placeholder it uses was not supplied."""


def available_languages() -> list[str]:
    """Languages that have a template file, e.g. ``["en", "zh"]``."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files(__package__).iterdir()
        if entry.name.endswith(".toml")
    )


@cache
def load_templates(language: str) -> dict[str, str]:
    """Read the templates of one language.

    Raises:
        TemplateError: There is no file for ``language``.
    """
    path = resources.files(__package__) / f"{language}.toml"
    if not path.is_file():
        raise TemplateError(f"no templates for language {language!r}")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def render(language: str, name: str, **values: Any) -> str:
    """Fill the template ``name`` of ``language`` with ``values``.

    Raises:
        TemplateError: The template does not exist, or needs a value that was
            not given.
    """
    templates = load_templates(language)
    try:
        pattern = templates[name]
    except KeyError:
        raise TemplateError(f"template {name!r} is missing for language {language!r}") from None
    try:
        return pattern.format(**values)
    except KeyError as exc:
        raise TemplateError(f"template {name!r} needs a value for {exc.args[0]!r}") from None


def as_sentence(text: str) -> str:
    """``text`` stripped and ending in a full stop (or its own ! or ?), so that what follows it reads apart."""
    text = text.strip()
    return text if not text or text[-1] in "。！？.!?" else text + "。"
