"""Twilio's 2010 API description, made fit for a mock server to validate against.

The description comes from the npm package ``@twilio-alpha/mcp``, which ships
a copy of twilio-oai (``./tests/run`` installs it into ``.prism/``). It
declares list-valued form fields (``StatusCallbackEvent``, ``MediaUrl``, ...)
as arrays without saying how they are encoded. twilio-python sends a list as
the same key repeated (``StatusCallbackEvent=initiated&StatusCallbackEvent=ringing``),
and a mock that is not told so reads one string where it wants an array and
refuses the request with 422 "must be array". :func:`declare_form_arrays`
states the repeated-key encoding for every such field.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
PRISM_DIR = REPO_ROOT / ".prism"
PACKAGE = "@twilio-alpha/mcp"
PACKAGE_VERSION = "0.7.0"
SOURCE = PRISM_DIR / "node_modules" / PACKAGE / "twilio-oai" / "spec" / "json" / "twilio_api_v2010.json"
PREPARED = PRISM_DIR / "twilio_api_v2010.mock.json"

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# OpenAPI's name for "one key=value pair per list item, all under the field's name".
REPEATED_KEYS = {"style": "form", "explode": True}
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


class SpecUnavailable(RuntimeError):
    """The API description is not installed, or is not shaped as expected."""


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref`` pointers (``#/components/...``) until a real schema.

    Raises:
        SpecUnavailable: A reference leaves the document or names nothing in it,
            so the description is not one this module understands.
    """
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise SpecUnavailable(f"cannot follow schema reference {ref!r}")
        seen.add(ref)
        target: Any = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise SpecUnavailable(f"schema reference {ref!r} names nothing in the description")
            target = target[part]
        node = target
    return node


def declare_form_arrays(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Declare every array field of every form-encoded request body as repeated keys.

    Adds ``{"style": "form", "explode": True}`` under the body's ``encoding``
    for each array property, keeping whatever else an encoding entry already
    says. The description is changed in place; running it twice changes
    nothing more.

    Args:
        spec: An OpenAPI 3 description, as parsed from JSON.

    Returns:
        ``(METHOD, path, field)`` for each field declared, in document order.

    Raises:
        SpecUnavailable: A schema reference cannot be followed.
    """
    declared: list[tuple[str, str, str]] = []
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS or "requestBody" not in operation:
                continue
            body = _resolve(spec, operation["requestBody"])
            media = body.get("content", {}).get(FORM_MEDIA_TYPE)
            if media is None or "schema" not in media:
                continue
            schema = _resolve(spec, media["schema"])
            for field, prop in schema.get("properties", {}).items():
                if _resolve(spec, prop).get("type") != "array":
                    continue
                media.setdefault("encoding", {}).setdefault(field, {}).update(REPEATED_KEYS)
                declared.append((method.upper(), path, field))
    return declared


def _is_current(target: Path, *sources: Path) -> bool:
    if not target.is_file():
        return False
    built = target.stat().st_mtime
    return all(source.stat().st_mtime <= built for source in sources)


def prepare(source: Path = SOURCE, target: Path = PREPARED) -> Path:
    """Write the mock-ready copy of ``source`` to ``target``, unless it is current.

    The copy is rebuilt when it is older than the installed description or
    than this module, and written under a temporary name first, so a reader
    never sees half a file.

    Returns:
        ``target``.

    Raises:
        SpecUnavailable: ``source`` is not installed (the message says how to
            install it), or it has no form array fields to declare, which means
            its layout changed and the mock would refuse the project's requests.
    """
    if not source.is_file():
        raise SpecUnavailable(
            f"Twilio's API description is not at {source}. In {REPO_ROOT} run:\n"
            f"    npm install --prefix .prism {PACKAGE}@{PACKAGE_VERSION}"
        )
    if _is_current(target, source, Path(__file__)):
        return target
    spec = json.loads(source.read_text(encoding="utf-8"))
    if not declare_form_arrays(spec):
        raise SpecUnavailable(f"{source} declares no array fields in form bodies; its layout is not the expected one")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(spec, out, ensure_ascii=False)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
