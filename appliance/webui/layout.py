"""The web foundation: base layout and stylesheet, security headers, CSRF, session cookies.

    install_web_foundation(app)      # once, in create_app
    return await render_page("my_page.html", title="People", ...)

Pages extend `base.html` (blocks: `title`, `header_extra`, `content`, `scripts`) and import
macros from `_forms.html` (`render_fields`, `csrf_field`, `form_errors`). `render_page`
makes sure the browser has a session, so `csrf_field()` can put the token in the form.
"""
from __future__ import annotations

from quart import Blueprint, Quart, Response, current_app, g, render_template, request

from ..lan_discovery import hearth_version
from . import session as web_session
from .security import (CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, add_security_headers, csp_nonce, csrf_matches,
                       host_is_ours, is_web_path, same_origin)

bp = Blueprint("webui_layout", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/web")


def csrf_token() -> str:
    """The session's CSRF token (render through `render_page`, which makes the session)."""
    session = g.get("web_session")
    if session is None:
        raise RuntimeError("csrf_token() needs a session: render the page with render_page()")
    return session.csrf_token


async def render_page(template: str, status: int = 200, **context) -> Response:
    await web_session.ensure_session()
    body = await render_template(template, **context)
    return Response(body, status=status, mimetype="text/html")


async def error_page(status: int, title: str, message: str) -> Response:
    body = await render_template("error.html", status=status, title=title, message=message)
    return Response(body, status=status, mimetype="text/html")


async def check_host() -> Response | None:
    """A page (or the wizard) asked for under a name that is not ours is refused: a hostile
    domain made to resolve to this box (DNS rebinding) gets no page and no cookie."""
    if not is_web_path(request.path) or host_is_ours():
        return None
    return await error_page(400, "Unknown address",
                            "This server does not answer to that name. Use the address it showed you, "
                            "such as http://hearth.local.")


async def check_csrf() -> Response | None:
    """Every unsafe request to a web page carries the session's CSRF token and our Origin."""
    if request.method not in UNSAFE_METHODS or not is_web_path(request.path):
        return None
    if not same_origin():
        return await error_page(403, "Request refused", "This form was sent from another site.")
    session = await web_session.current_session()
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form
        given = form.get(CSRF_FIELD)
    if session is None or not csrf_matches(session.csrf_token, given):
        return await error_page(403, "Please try again",
                                "This page had expired. Go back, reload it and send the form again.")
    return None


def install_host_check(app: Quart) -> None:
    """Before every other check of the pages and the wizard (install it first)."""
    app.before_request(check_host)


def install_web_foundation(app: Quart) -> None:
    """App-wide: template globals, the CSRF check, security headers and the session cookie. The
    blueprints (this module's static files, join.py) are in the route table (appliance/routes.py)."""
    app.jinja_env.globals.update(csrf_token=csrf_token, csp_nonce=csp_nonce, hearth_version=hearth_version())
    app.before_request(check_csrf)

    @app.after_request
    async def web_headers(response: Response) -> Response:
        response = await web_session.apply_session_cookie(response)
        return add_security_headers(response)
