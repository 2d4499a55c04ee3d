"""Render a pydantic model as an HTML form, and read a submitted form back into the model.

    fields = form_fields(ServerNameStep, values={"server_name": "hearth.local"}, errors=errors)
    {% from "_forms.html" import render_fields %}{{ render_fields(fields) }}

    model, errors = parse_form(ServerNameStep, await request.form)

Widgets follow the annotation: bool → a switch, Literal/Enum → radio cards (select when long),
int/float → number (bounds from ge/le), SecretStr → password, list[str] → one item per line,
anything else → text. `Field(json_schema_extra=...)` fine-tunes: `widget` ("password",
"textarea", "email", "url"), `choices` ({value: (label, help)}), `disabled_choices`
({value: reason}), `autocomplete`, `placeholder`, `inputmode`, `meter` (password strength),
`unit` (shown after a number), `say_limit` (False: leave the length limit out of the help).
Field title/description are the label and help text.

A length limit is said in the help text and enforced here, on the server: the input has no
`maxlength`, because a browser cuts a pasted text to it without a word. Validation errors are
sentences for a person (`validation_errors`), never pydantic's own wording.
"""
from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

RADIO_MAX = 5


@dataclass
class Choice:
    value: str
    label: str
    help: str = ""
    disabled: str = ""          # non-empty: why it cannot be chosen


@dataclass
class FormField:
    name: str                   # the input's name (with prefix)
    id: str
    label: str
    kind: str                   # text|password|email|url|number|checkbox|radio|select|textarea
    value: Any = None
    help: str = ""
    required: bool = False
    error: str = ""
    readonly: bool = False
    choices: list[Choice] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)   # min, max, step, minlength, autocomplete...
    unit: str = ""
    meter: bool = False


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def _label(name: str, info: FieldInfo) -> str:
    return info.title or name.replace("_", " ").capitalize()


def _choices(annotation: Any, extra: dict[str, Any]) -> list[Choice] | None:
    if typing.get_origin(annotation) is Literal:
        values = [str(v) for v in typing.get_args(annotation)]
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [str(m.value) for m in annotation]
    else:
        return None
    described = extra.get("choices", {})
    disabled = extra.get("disabled_choices", {})
    out = []
    for v in values:
        label, help_text = described.get(v, (v.replace("_", " ").capitalize(), ""))
        out.append(Choice(v, label, help_text, disabled.get(v, "")))
    return out


def _bounds(info: FieldInfo) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for m in info.metadata:
        if isinstance(m, Ge):
            attrs["min"] = m.ge
        elif isinstance(m, Gt):
            attrs["min"] = m.gt
        elif isinstance(m, Le):
            attrs["max"] = m.le
        elif isinstance(m, Lt):
            attrs["max"] = m.lt
        elif isinstance(m, MinLen):
            attrs["minlength"] = m.min_length
    return attrs


def _max_length(info: FieldInfo) -> int | None:
    return next((m.max_length for m in info.metadata if isinstance(m, MaxLen)), None)


def _display(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return ""  # never echo a secret back into a page
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    return value


def form_fields(model: type[BaseModel], values: Mapping[str, Any] | BaseModel | None = None,
                errors: Mapping[str, str] | None = None, *, prefix: str = "",
                readonly: tuple[str, ...] = ()) -> list[FormField]:
    """One FormField per model field, in declaration order, with current values and errors."""
    if isinstance(values, BaseModel):
        values = {k: getattr(values, k) for k in type(values).model_fields}
    values = values or {}
    errors = errors or {}
    out = []
    for name, info in model.model_fields.items():
        extra = _extra(info)
        if extra.get("hidden"):
            continue
        annotation, optional = _unwrap_optional(info.annotation)
        if name in values:
            value = values[name]
        elif info.is_required():
            value = None
        else:
            value = info.get_default(call_default_factory=True)
        help_text = info.description or ""
        limit = _max_length(info)
        if limit is not None and extra.get("say_limit", True):
            help_text = f"{help_text} Up to {limit} characters.".strip()
        ff = FormField(name=prefix + name, id=(prefix + name).replace(".", "-"), label=_label(name, info),
                       kind="text", value=_display(value), help=help_text,
                       required=info.is_required() and not optional, error=errors.get(name, ""),
                       readonly=name in readonly, attrs=_bounds(info), unit=extra.get("unit", ""),
                       meter=bool(extra.get("meter")))
        for key in ("autocomplete", "placeholder", "inputmode", "step", "autocapitalize", "spellcheck"):
            if key in extra:
                ff.attrs[key] = extra[key]
        choices = _choices(annotation, extra)
        if annotation is bool:
            ff.kind, ff.required = "checkbox", False
            ff.value = bool(value)
        elif choices is not None:
            ff.kind = "radio" if len(choices) <= RADIO_MAX else "select"
            ff.choices = choices
        elif annotation in (int, float):
            ff.kind = "number"
            ff.attrs.setdefault("step", 1 if annotation is int else "any")
        elif annotation is SecretStr:
            ff.kind = "password"
        elif typing.get_origin(annotation) in (list, tuple, set):
            ff.kind = "textarea"
        if extra.get("widget"):
            ff.kind = extra["widget"]
        if ff.kind == "password":
            ff.value = ""
        out.append(ff)
    return out


def form_data(model: type[BaseModel], form: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """The submitted values for `model`'s fields, shaped for validation (checkboxes, lists...)."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = prefix + name
        annotation, optional = _unwrap_optional(info.annotation)
        if annotation is bool:
            data[name] = form.get(key) in ("on", "true", "1", "yes")
            continue
        if key not in form:
            continue
        raw = form.get(key)
        if isinstance(raw, str) and typing.get_origin(annotation) in (list, tuple, set):
            data[name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif isinstance(raw, str) and annotation is not SecretStr and not _extra(info).get("keep_spaces"):
            raw = raw.strip()
            if raw == "" and (optional or not info.is_required()):
                continue  # empty optional field: its default
            data[name] = raw
        else:
            data[name] = raw
    return data


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _characters(n: int) -> str:
    return "1 character" if n == 1 else f"{n:,} characters"


def error_message(err: Mapping[str, Any]) -> str:
    """One of pydantic's errors (`ValidationError.errors()` item) as a sentence for a person.

    The checks written for a form (`raise ValueError("...")` in a validator) already speak to a
    person and are kept; pydantic's built-in ones are mapped by their type; anything else gets a
    plain sentence rather than pydantic's wording.
    """
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind in ("value_error", "assertion_error"):
        msg = str(ctx.get("error") or err.get("msg") or "")
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ").strip()
        if not msg:
            return "Check this and try again."
        return msg[:1].upper() + msg[1:] + ("" if msg.endswith((".", "!", "?")) else ".")
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "Please fill this in."
    if kind == "string_too_short":
        return f"Use at least {_characters(ctx['min_length'])}."
    if kind == "string_too_long":
        typed = f" (this is {len(given):,})" if isinstance(given, str) else ""
        return f"This is too long: use at most {_characters(ctx['max_length'])}{typed}."
    if kind in ("too_short",):
        return f"Give at least {_number(ctx.get('min_length'))}."
    if kind in ("too_long",):
        return f"Give at most {_number(ctx.get('max_length'))}."
    if kind == "greater_than_equal":
        return f"Use a number of at least {_number(ctx.get('ge'))}."
    if kind == "greater_than":
        return f"Use a number bigger than {_number(ctx.get('gt'))}."
    if kind == "less_than_equal":
        return f"Use a number of at most {_number(ctx.get('le'))}."
    if kind == "less_than":
        return f"Use a number smaller than {_number(ctx.get('lt'))}."
    if kind in ("int_parsing", "int_type", "int_from_float", "int_parsing_size"):
        return "Use a whole number, in digits (like 20)."
    if kind in ("float_parsing", "float_type", "finite_number", "decimal_parsing"):
        return "Use a number, in digits (like 2.5)."
    if kind in ("literal_error", "enum"):
        return "Choose one of the options."
    if kind in ("bool_parsing", "bool_type"):
        return "Choose on or off."
    if kind.startswith("url_") or kind == "url_parsing":
        return "Use a web address, like http://hearth.local:8008."
    if kind == "string_pattern_mismatch":
        return "Use only the characters this field allows."
    return "This does not look right. Check it and try again."


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """{field name: a sentence for a person}; a whole-form check (no field) under ""."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = err.get("loc") or ("",)
        errors.setdefault(str(loc[0]), error_message(err))
    return errors


def parse_form(model: type[BaseModel], form: Mapping[str, Any], *, prefix: str = ""
               ) -> tuple[BaseModel | None, dict[str, str]]:
    """(the validated model, {}) or (None, {field: message})."""
    try:
        return model.model_validate(form_data(model, form, prefix=prefix)), {}
    except ValidationError as exc:
        return None, validation_errors(exc)
