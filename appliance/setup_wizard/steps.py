"""The wizard's steps: each a pydantic model (rendered as a form by webui.forms), a check that
may need the server, and what is stored in the progress.

The step machine: `STEPS` in order; the progress (saved after every step) holds the furthest
step reached and each step's stored values. Welcome (the setup code) is not a step of the
progress: it claims the browser's session. The bridges step is built from the installed plugins
(entry-point group `appliance.bridges`), each with its own settings model.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator

from ..core.protocol import ids
from ..webui.passwords import MIN_PASSWORD_LENGTH, password_problem
from ..webui.reach_forms import ReachForm
from ..webui.server_forms import FeaturesStep, JoinStep

log = logging.getLogger(__name__)


class WelcomeStep(BaseModel):
    setup_code: str = Field(
        title="Setup code", min_length=1, max_length=64,
        description="Twelve letters and digits. Small letters and spaces are fine.",
        json_schema_extra={"say_limit": False, "autocomplete": "one-time-code", "placeholder": "XXXX-XXXX-XXXX",
                           "autocapitalize": "characters"})


class ModeStep(BaseModel):
    mode: Literal["new", "restore"] = Field(
        "new", title="How would you like to start?",
        json_schema_extra={"choices": {
            "new": ("Set up a new server", "Start fresh: pick a name, create your account, invite your family."),
            "restore": ("Restore from a backup", "Bring back a Hearth server, with everyone's accounts and "
                                                 "messages, from a backup file."),
        }})


class ServerNameStep(BaseModel):
    server_name: str = Field(
        title="Server name", min_length=1, max_length=230,
        description="Use hearth.local if your family will only chat at home, or a domain you own "
                    "(like chat.smith-family.org) to reach it from anywhere.",
        json_schema_extra={"placeholder": "hearth.local", "autocomplete": "off", "inputmode": "url",
                           "autocapitalize": "none", "spellcheck": "false"})

    @field_validator("server_name")
    @classmethod
    def _valid(cls, v: str) -> str:
        v = v.strip().lower().rstrip(".")
        for scheme in ("https://", "http://"):
            v = v.removeprefix(scheme)
        v = v.rstrip("/")
        if not ids.is_valid_server_name(v):
            raise ValueError("A server name looks like hearth.local or chat.example.org "
                             "(letters, digits, dots and dashes)")
        return v


class AdminStep(BaseModel):
    username: str = Field(
        title="Your user name", min_length=1, max_length=64,
        description="Small letters, digits and . _ - only. Your family will see you as @name:server.",
        json_schema_extra={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false",
                           "placeholder": "e.g. alex"})
    password: SecretStr = Field(
        title="Password", description=f"At least {MIN_PASSWORD_LENGTH} characters. A few unrelated words "
                                      "make a strong password that is easy to remember.",
        json_schema_extra={"autocomplete": "new-password", "meter": True})
    password_confirm: SecretStr = Field(title="Password again", json_schema_extra={"autocomplete": "new-password"})

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        v = v.strip().removeprefix("@").split(":")[0].lower()
        if not ids.is_valid_user_localpart(v):
            raise ValueError("Use small letters, digits and . _ - only")
        return v

    @field_validator("password")
    @classmethod
    def _password(cls, v: SecretStr) -> SecretStr:
        problem = password_problem(v.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _confirmed(self) -> "AdminStep":
        def on(field: str, message: str) -> ValidationError:  # shown beside that field
            return ValidationError.from_exception_data("AdminStep", [{
                "type": "value_error", "loc": (field,), "input": "", "ctx": {"error": ValueError(message)}}])

        if self.password.get_secret_value().lower() == self.username:
            raise on("password", "The password must not be your user name")
        if self.password.get_secret_value() != self.password_confirm.get_secret_value():
            raise on("password_confirm", "The two passwords are not the same")
        return self


# -- bridges ----------------------------------------------------------------------------------

@dataclass
class BridgePlugin:
    id: str
    name: str
    description: str = ""
    settings_model: type[BaseModel] | None = None
    error: str = ""             # the plugin could not be loaded


def installed_bridges() -> list[BridgePlugin]:
    """Every plugin of the entry-point group `appliance.bridges` (a broken one is listed, marked)."""
    found = []
    for ep in sorted(entry_points(group="appliance.bridges"), key=lambda e: e.name):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break setup
            log.warning("bridge plugin %s failed to load: %s", ep.name, exc)
            found.append(BridgePlugin(ep.name, ep.name, error=f"could not be loaded ({type(exc).__name__})"))
            continue
        info = getattr(cls, "info", None)
        model = getattr(cls, "settings_model", None)
        found.append(BridgePlugin(
            id=getattr(info, "id", ep.name), name=getattr(info, "name", ep.name),
            description=getattr(info, "description", "") or (cls.__doc__ or "").strip().split("\n")[0],
            settings_model=model if isinstance(model, type) and issubclass(model, BaseModel) else None))
    return found


# -- the machine ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    id: str
    title: str                  # short, for the step indicator and the summary
    heading: str
    intro: str
    model: type[BaseModel] | None = None
    button: str = "Continue"
    icon: str = "home"
    notes: tuple[str, ...] = field(default=())


STEPS: tuple[Step, ...] = (
    Step("mode", "Start", "Welcome to Hearth",
         "Hearth is your family's own chat server. Messages, photos and calls stay in your home.",
         ModeStep, icon="home"),
    Step("server_name", "Server name", "Name your server",
         "Every account ends with this name, like @alex:hearth.local.",
         ServerNameStep, icon="tag",
         notes=("The name can never be changed later: every account and every conversation carries it.",)),
    Step("admin", "Your account", "Create your account",
         "This is your own account, and it can manage the server: invite people, reset passwords.",
         AdminStep, icon="user"),
    Step("join", "Who may join", "Who may join, and where?",
         "Who may create an account, and the address their apps use. You can change both later in the "
         "admin pages.", JoinStep, icon="users"),
    Step("features", "Features", "A few choices", "Sensible defaults are filled in; change them any time.",
         FeaturesStep, icon="sliders"),
    Step("reach", "Outside access", "Reach Hearth from outside the home",
         "At home, phones reach Hearth on the Wi-Fi. To chat from anywhere, Hearth needs a name on the internet "
         "and a certificate phones accept; it gets one from Let's Encrypt for free.", ReachForm, icon="globe"),
    Step("bridges", "Bridges", "Bridges to other chat apps",
         "Bridges connect Hearth to other networks. You can add them later too.", None, icon="link"),
    Step("summary", "Summary", "Ready to set up", "Check your choices. Nothing is saved until you confirm.",
         None, button="Set up Hearth", icon="check"),
)
STEP_IDS = tuple(s.id for s in STEPS)
OPTIONAL = ("reach", "bridges", "summary")  # setup can be applied without them (their defaults apply)


def step(step_id: str) -> Step | None:
    return next((s for s in STEPS if s.id == step_id), None)


def index_of(step_id: str | None) -> int:
    return STEP_IDS.index(step_id) if step_id in STEP_IDS else 0


def next_step(step_id: str) -> str:
    i = index_of(step_id)
    return STEP_IDS[min(i + 1, len(STEPS) - 1)]
