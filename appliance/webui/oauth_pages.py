"""The browser half of the OAuth 2.0 API: the authorization page (sign in, then allow or deny
an app), the device-link page (RFC 8628: type or scan the code a TV or a CLI shows), and the
account management URL (`account_management_uri`) that sends each action to its /me page, and
the page where a person approves replacing their cross-signing keys (UIA's `m.oauth` stage).

Signing in is the web UI's own sign-in (/login, with its brute-force limits); an app gets a code
only after the signed-in person presses Allow on a page carrying the session's CSRF token.
"""
from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from quart import Blueprint, Response, g, request

from ..core.protocol.errors import LimitExceeded, MatrixError
from ..core.protocol.oauth import OAuthError
from ..core.services.accounts.uia import CROSS_SIGNING_RESET, cross_signing_request_key
from ..core.services.login_throttle import wait_in_words
from ..core.services.oauth import AuthorizationRequest, RedirectableError, normalise_user_code
from .layout import error_page
from . import session as web_session
from .forms import form_fields, parse_form
from .pages import current_viewer, flash, hearth, render, safe_next, see_other, signed_in
from .passwords import MIN_PASSWORD_LENGTH
from .security import client_ip

bp = Blueprint("webui_oauth", __name__, template_folder="templates")


def _form_action_source(redirect_uri: str) -> str:
    """The CSP source that lets the consent form's redirect reach the app."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


async def _request_or_page() -> AuthorizationRequest | Response:
    try:
        return await hearth().accounts.oauth.check_authorization_request(dict(request.args.items()))
    except RedirectableError as exc:
        return see_other(exc.url)
    except OAuthError as exc:
        return await error_page(400, "This app's sign-in link is not valid",
                                f"Go back to the app and try again. ({exc.error}: {exc.description})")


@bp.get("/oauth2/authorize")
async def authorize_page() -> Response:
    checked = await _request_or_page()
    if isinstance(checked, Response):
        return checked
    if await current_viewer() is None:
        here = quote(request.full_path.rstrip("?"), safe="/")
        if checked.prompt == "create":
            return see_other("/oauth2/create?next=" + here)
        return see_other("/login?next=" + here)
    g.csp_form_action = _form_action_source(checked.redirect_uri)
    return await render("oauth_consent.html", request_=checked, client_host=urlsplit(checked.client["client_uri"]).hostname,
                        action=request.full_path.rstrip("?"))


@bp.post("/oauth2/authorize")
@signed_in()
async def authorize_decide() -> Response:
    checked = await _request_or_page()
    if isinstance(checked, Response):
        return checked
    viewer = await current_viewer()
    form = await request.form
    oauth = hearth().accounts.oauth
    if form.get("decision") != "allow":
        return see_other(oauth.deny_url(checked))
    return see_other(await oauth.grant_code(checked, viewer.user_id))


@bp.get("/oauth2/link")
@signed_in()
async def link_page() -> Response:
    code = request.args.get("code", "").strip()
    if not code:
        return await render("oauth_link.html", code="", client=None, message="")
    return await _link_form(code)


async def _link_form(code: str, message: str = "") -> Response:
    code = normalise_user_code(code)
    h = hearth()
    h.core.login_ratelimiter.check(f"ip:{request.remote_addr}")  # a code is a secret: no guessing
    found = await h.accounts.oauth.pending_device_grant(code)
    if found is None:
        return await render("oauth_link.html", status=404, code=code, client=None,
                            message="That code is not valid any more. Check it, or start again on the other device.")
    client, scope = found
    return await render("oauth_link.html", code=code, client=client, device_id=scope.device_id, message=message,
                        client_name=client.get("client_name") or client["client_uri"])


@bp.post("/oauth2/link")
@signed_in()
async def link_decide() -> Response:
    form = await request.form
    code = (form.get("code") or "").strip()
    if form.get("decision") not in ("allow", "deny"):
        return await _link_form(code)  # the code was typed in: show what it is for first
    viewer = await current_viewer()
    allow = form.get("decision") == "allow"
    if not await hearth().accounts.oauth.decide_device_grant(code, viewer.user_id if allow else None):
        return await _link_form(code)
    await flash("Done: go back to the other device." if allow else "Declined: nothing was signed in.")
    return see_other("/me/devices" if allow else "/me")


ACTION_PAGES = {
    "org.matrix.profile": "/me",
    "org.matrix.devices_list": "/me/devices", "org.matrix.sessions_list": "/me/devices",
    "org.matrix.device_view": "/me/devices", "org.matrix.session_view": "/me/devices",
    "org.matrix.device_delete": "/me/devices", "org.matrix.session_end": "/me/devices",
}


@bp.get("/me/account")
@signed_in()
async def account_management() -> Response:
    """The account management URL: `?action=…&device_id=…` leads to the page for it."""
    action = request.args.get("action", "")
    if action == CROSS_SIGNING_RESET:
        return see_other("/me/cross-signing-reset?" + urlencode({"session": request.args.get("session", "")}))
    return see_other(ACTION_PAGES.get(action, "/me"))


# -- approving a cross-signing reset (UIA's m.oauth stage) ----------------------------------------

@bp.get("/me/cross-signing-reset")
@signed_in()
async def cross_signing_reset_page() -> Response:
    return await render("me_cross_signing_reset.html", session_id=request.args.get("session", ""), done=False, message="")


@bp.post("/me/cross-signing-reset")
@signed_in()
async def cross_signing_reset() -> Response:
    """Completes the m.oauth stage of the session the app was given: only the signed-in person's
    own session (it is bound to their cross-signing upload), while it lasts."""
    form = await request.form
    session_id = form.get("session", "")
    viewer = await current_viewer()
    uia = hearth().accounts.uia
    if not session_id or not await uia.approve_oauth(session_id, cross_signing_request_key(viewer.user_id),
                                                     viewer.user_id):
        return await render("me_cross_signing_reset.html", status=400, session_id="", done=False,
                            message="This request is not valid any more. Start again in your app.")
    return await render("me_cross_signing_reset.html", session_id="", done=True, message="")


# -- create an account (prompt=create) ----------------------------------------------------------

class SignUpForm(BaseModel):
    username: str = Field(title="Choose a user name", min_length=1, max_length=64,
                          description="Lower-case letters, digits and . _ = - / (it becomes part of your address).",
                          json_schema_extra={"autocomplete": "username", "autocapitalize": "none",
                                             "spellcheck": "false", "placeholder": "e.g. alex"})
    password: SecretStr = Field(title="Choose a password",
                                description=f"At least {MIN_PASSWORD_LENGTH} characters. A few unrelated words "
                                            "make a strong password that is easy to remember.",
                                json_schema_extra={"autocomplete": "new-password", "meter": True})
    invite_code: str | None = Field(None, title="Invite code", max_length=64,
                                    description="The code from the invite you were given.",
                                    json_schema_extra={"autocomplete": "one-time-code", "autocapitalize": "characters",
                                                       "spellcheck": "false"})

    @field_validator("username")
    @classmethod
    def _name(cls, v: str) -> str:
        return v.strip().lower()


def _sign_up_fields(values: dict, errors: dict) -> list:
    fields = form_fields(SignUpForm, values, errors)
    if hearth().settings.registration != "token":
        fields = [f for f in fields if f.name != "invite_code"]
    return fields


async def _sign_up_page(values: dict, errors: dict, message: str = "", status: int = 200) -> Response:
    if hearth().settings.registration == "closed":
        return await error_page(403, "New accounts are not open here",
                                "Ask the person who looks after this server to create an account for you, "
                                "then sign in.")
    return await render("oauth_create.html", status=status, fields=_sign_up_fields(values, errors), message=message,
                        next=safe_next(request.args.get("next"), ""),
                        needs_code=hearth().settings.registration == "token")


@bp.get("/oauth2/create")
async def create_account_page() -> Response:
    if await current_viewer() is not None:
        return see_other(safe_next(request.args.get("next"), "/me"))
    return await _sign_up_page({"invite_code": request.args.get("code", "")}, {})


@bp.post("/oauth2/create")
async def create_account() -> Response:
    form = await request.form
    model, errors = parse_form(SignUpForm, form)
    values = {"username": form.get("username", ""), "invite_code": form.get("invite_code", "")}
    if model is None:
        return await _sign_up_page(values, errors, status=400)
    h = hearth()
    try:
        # The same limits as signing in: an invite code is a secret that must not be guessable.
        h.core.login_ratelimiter.check(f"ip:{client_ip()}")
        h.core.registration_ratelimiter.check(f"ip:{client_ip()}")
        from ..core.services.auth import ClientInfo

        user_id = await h.accounts.registration.sign_up(model.username, model.password.get_secret_value(),
                                                        model.invite_code, ClientInfo(client_ip(), request.headers.get("User-Agent", "")))
    except LimitExceeded as exc:
        return await _sign_up_page(values, {}, f"Too many tries. Wait {wait_in_words(exc.retry_after_ms)}, then try again.",
                                   status=429)
    except MatrixError as exc:
        field = {"M_USER_IN_USE": "username", "M_INVALID_USERNAME": "username", "M_EXCLUSIVE": "username",
                 "M_WEAK_PASSWORD": "password"}.get(exc.errcode, "invite_code")
        message = {"username": "That user name is taken or not allowed.", "password": str(exc),
                   "invite_code": "That invite code is not valid. Check it, or ask for a new one."}[field]
        return await _sign_up_page(values, {field: message}, status=400)
    await web_session.sign_in(user_id)
    await flash("Welcome! Your account is ready.")
    return see_other(safe_next(form.get("next"), "/me"))
