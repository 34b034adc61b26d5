"""Preparing Twilio's API description for the mock: list-valued form fields are repeated keys."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.twilio_spec import SOURCE, SpecUnavailable, declare_form_arrays, prepare

FORM = "application/x-www-form-urlencoded"
REPEATED = {"style": "form", "explode": True}


def _form_body(properties: dict[str, Any], **media: Any) -> dict[str, Any]:
    return {"content": {FORM: {"schema": {"type": "object", "properties": properties}, **media}}}


def _spec() -> dict[str, Any]:
    """A small description with the shapes Twilio's uses: inline and referenced schemas, JSON bodies."""
    return {
        "openapi": "3.0.1",
        "paths": {
            "/Calls.json": {
                "parameters": [{"name": "AccountSid", "in": "path"}],
                "post": {
                    "requestBody": _form_body(
                        {
                            "To": {"type": "string"},
                            "StatusCallbackEvent": {"type": "array", "items": {"type": "string"}},
                            "Timeout": {"type": "integer"},
                        }
                    )
                },
                "get": {"responses": {}},
            },
            "/Messages.json": {
                "post": {
                    "requestBody": _form_body(
                        {
                            "Body": {"type": "string"},
                            "MediaUrl": {"$ref": "#/components/schemas/url_list"},
                        },
                        encoding={"MediaUrl": {"contentType": "text/plain"}},
                    )
                }
            },
            "/Referenced.json": {"post": {"requestBody": {"$ref": "#/components/requestBodies/referenced"}}},
            "/Json.json": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"properties": {"Tags": {"type": "array", "items": {"type": "string"}}}}
                            }
                        }
                    }
                }
            },
        },
        "components": {
            "schemas": {
                "url_list": {"type": "array", "items": {"type": "string", "format": "uri"}},
                "referenced_form": {
                    "type": "object",
                    "properties": {"Events": {"type": "array", "items": {"type": "string"}}},
                },
            },
            "requestBodies": {
                "referenced": {"content": {FORM: {"schema": {"$ref": "#/components/schemas/referenced_form"}}}}
            },
        },
    }


def _form_media(spec: dict[str, Any], path: str) -> dict[str, Any]:
    body = spec["paths"][path]["post"]["requestBody"]
    if "$ref" in body:
        body = spec["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[1]]
    return body["content"][FORM]


def test_every_array_field_of_a_form_body_is_declared_as_repeated_keys():
    spec = _spec()

    declared = declare_form_arrays(spec)

    assert declared == [
        ("POST", "/Calls.json", "StatusCallbackEvent"),
        ("POST", "/Messages.json", "MediaUrl"),
        ("POST", "/Referenced.json", "Events"),
    ]
    assert _form_media(spec, "/Calls.json")["encoding"] == {"StatusCallbackEvent": REPEATED}
    assert _form_media(spec, "/Referenced.json")["encoding"] == {"Events": REPEATED}


def test_an_existing_encoding_entry_keeps_what_it_said():
    spec = _spec()

    declare_form_arrays(spec)

    assert _form_media(spec, "/Messages.json")["encoding"] == {"MediaUrl": {"contentType": "text/plain", **REPEATED}}


def test_scalar_fields_and_json_bodies_are_left_alone():
    spec = _spec()
    json_body_before = copy.deepcopy(spec["paths"]["/Json.json"])

    declare_form_arrays(spec)

    assert "To" not in _form_media(spec, "/Calls.json")["encoding"]
    assert "Timeout" not in _form_media(spec, "/Calls.json")["encoding"]
    assert spec["paths"]["/Json.json"] == json_body_before
    assert spec["components"]["schemas"] == _spec()["components"]["schemas"]


def test_declaring_twice_changes_nothing_more():
    spec = _spec()
    declare_form_arrays(spec)
    once = copy.deepcopy(spec)

    declare_form_arrays(spec)

    assert spec == once


def test_a_reference_outside_the_document_is_refused():
    spec = _spec()
    spec["paths"]["/Calls.json"]["post"]["requestBody"] = {"$ref": "other.json#/requestBodies/x"}

    with pytest.raises(SpecUnavailable, match=re.escape("other.json")):
        declare_form_arrays(spec)


def test_prepare_writes_the_declared_copy_and_leaves_the_source(tmp_path: Path):
    source = tmp_path / "api.json"
    source.write_text(json.dumps(_spec()))
    target = tmp_path / "prepared" / "api.mock.json"

    assert prepare(source, target) == target

    prepared = json.loads(target.read_text())
    assert _form_media(prepared, "/Calls.json")["encoding"] == {"StatusCallbackEvent": REPEATED}
    assert json.loads(source.read_text()) == _spec()
    assert [path.name for path in target.parent.iterdir()] == ["api.mock.json"]


def test_prepare_says_how_to_install_a_missing_description(tmp_path: Path):
    with pytest.raises(SpecUnavailable, match=re.escape("npm install --prefix .prism @twilio-alpha/mcp@")):
        prepare(tmp_path / "absent.json", tmp_path / "api.mock.json")


def test_prepare_refuses_a_description_without_form_arrays(tmp_path: Path):
    source = tmp_path / "api.json"
    source.write_text(json.dumps({"openapi": "3.0.1", "paths": {}}))

    with pytest.raises(SpecUnavailable, match="no array fields"):
        prepare(source, tmp_path / "api.mock.json")


def test_the_installed_description_gets_the_fields_hotline_sends_as_lists():
    spec = json.loads(SOURCE.read_text(encoding="utf-8"))

    declared = {(path.rsplit("/", 1)[1], field) for _, path, field in declare_form_arrays(spec)}

    assert ("Calls.json", "StatusCallbackEvent") in declared
    assert ("Messages.json", "MediaUrl") in declared
