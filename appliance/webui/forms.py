"""Render a pydantic model as an HTML form, and read a submitted form back into the model.

    fields = form_fields(ServerNameStep, values={"server_name": "hearth.local"}, errors=errors)
    {% from "_forms.html" import render_fields %}{{ render_fields(fields) }}

    model, errors = parse_form(ServerNameStep, await request.form)

Widgets follow the annotation: bool → a switch, Literal/Enum → radio cards (select when long),
int/float → number (bounds from ge/le), SecretStr → password, list[str] → one item per line,
anything else → text. `Field(json_schema_extra=...)` fine-tunes: `widget` ("password",
"textarea", "email", "url"), `choices` ({value: (label, help)}), `disabled_choices`
({value: reason}), `autocomplete`, `placeholder`, `inputmode`, `meter` (password strength),
`unit` (shown after a number). Field title/description are the label and help text.
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
        elif isinstance(m, MaxLen):
            attrs["maxlength"] = m.max_length
    return attrs


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
        ff = FormField(name=prefix + name, id=(prefix + name).replace(".", "-"), label=_label(name, info),
                       kind="text", value=_display(value), help=info.description or "",
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


def validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = err.get("loc") or ("",)
        msg = str(err.get("msg", "Invalid value"))
        for noise in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(noise)
        errors.setdefault(str(loc[0]), msg[:1].upper() + msg[1:])
    return errors


def parse_form(model: type[BaseModel], form: Mapping[str, Any], *, prefix: str = ""
               ) -> tuple[BaseModel | None, dict[str, str]]:
    """(the validated model, {}) or (None, {field: message})."""
    try:
        return model.model_validate(form_data(model, form, prefix=prefix)), {}
    except ValidationError as exc:
        return None, validation_errors(exc)
