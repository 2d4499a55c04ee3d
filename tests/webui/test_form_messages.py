"""Every form's error messages are written for a person, never pydantic's wording (issue 12),
and a length limit is said and enforced on the server, not cut by the browser."""
from __future__ import annotations

import importlib
import inspect

import pytest
from pydantic import BaseModel

from appliance.webui.forms import form_data, form_fields, parse_form

FORM_MODULES = ("appliance.setup_wizard.steps", "appliance.webui.server_forms", "appliance.webui.account_pages",
                "appliance.webui.admin_pages", "appliance.webui.admin_backups")


def every_form() -> list[type[BaseModel]]:
    found = {}
    for name in FORM_MODULES:
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseModel) and obj is not BaseModel and obj.__module__ == name:
                found[obj.__qualname__] = obj
    return list(found.values())


FORMS = every_form()
# pydantic's own phrases: none of them may reach a page.
PYDANTIC_WORDING = ("should", "Input", "String", "valid integer", "Field required", "Value error",
                    "Assertion failed", "validation error", "parse", "type=")
ATTEMPTS = ("", " ", "x" * 5000, "abc", "-5", "0", "1e309", "99999999999999999999", "@@@", "é" * 300)


def test_the_forms_are_found():
    names = {f.__name__ for f in FORMS}
    assert {"ServerNameStep", "AdminStep", "FeaturesStep", "NewPersonForm", "InviteForm", "SettingsForm",
            "ScheduleForm", "PasswordForm"} <= names


@pytest.mark.parametrize("model", FORMS, ids=lambda m: m.__name__)
def test_every_error_of_every_form_is_a_sentence_for_a_person(model):
    fields = list(model.model_fields)
    for name in fields:
        for attempt in ATTEMPTS:
            form = {f: "" for f in fields}
            form[name] = attempt
            _, errors = parse_form(model, form)
            assert "" not in errors, (model.__name__, attempt, errors)  # a message no field shows
            for field, message in errors.items():
                assert not any(w in message for w in PYDANTIC_WORDING), (model.__name__, field, attempt, message)
                assert message[:1].isupper() and message.endswith((".", "!", "?")), message


def test_the_mapped_wordings():
    from appliance.setup_wizard.steps import FeaturesStep, ServerNameStep
    from appliance.webui.admin_pages import InviteForm

    assert parse_form(ServerNameStep, {"server_name": ""})[1] == {"server_name": "Please fill this in."}
    assert parse_form(InviteForm, {"uses": "0", "days": "7"})[1] == {"uses": "Use a number of at least 1."}
    assert parse_form(InviteForm, {"uses": "500", "days": "7"})[1] == {"uses": "Use a number of at most 100."}
    assert parse_form(InviteForm, {"uses": "two", "days": "7"})[1] == {
        "uses": "Use a whole number, in digits (like 20)."}
    assert parse_form(FeaturesStep, {"max_upload_mb": "5000"})[1] == {
        "max_upload_mb": "Use a number of at most 4,096."}


def test_a_name_over_the_limit_is_refused_with_the_limit_said():
    from appliance.setup_wizard.steps import ServerNameStep

    field = form_fields(ServerNameStep)[0]
    assert "maxlength" not in field.attrs       # a browser would cut a pasted name without a word
    assert "Up to 230 characters." in field.help
    model, errors = parse_form(ServerNameStep, {"server_name": "x" * 260})
    assert model is None
    assert errors == {"server_name": "This is too long: use at most 230 characters (this is 260)."}


def test_a_whole_form_check_lands_on_a_field():
    from appliance.setup_wizard.steps import AdminStep

    _, errors = parse_form(AdminStep, {"username": "longpassword", "password": "longpassword",
                                       "password_confirm": "longpassword"})
    assert errors == {"password": "The password must not be your user name."}
