"""The setup wizard: claims a fresh server with the one-time setup code, then goes for good.

`install_setup_wizard(app)` (before the web foundation, so that its checks run first) installs
two app-wide rules that hold while
setup is pending: the Matrix API registers nobody (unless the operator chose a registration
policy in the environment), and every web page leads to the wizard.
"""
from __future__ import annotations

from quart import Quart, current_app, redirect, request

from ..core.api.routing import CLIENT_PREFIXES, error_response
from ..core.protocol.errors import Forbidden
from ..webui.security import is_local_client, is_web_path

REGISTER_PATHS = frozenset(f"{prefix}/register" for prefix in CLIENT_PREFIXES)
NOT_SET_UP = "This server is not set up yet"


def install_setup_wizard(app: Quart) -> None:
    """Its pages (/setup, setup_wizard/routes.py and restore.py) are in the route table
    (appliance/routes.py) and load on their first request."""
    from ..webui.restore_upload import install_restore_upload

    install_restore_upload(app, "/setup/restore", _may_restore)

    @app.before_request
    async def setup_gate():
        path = request.path
        hearth = current_app.config.get("HEARTH")
        if hearth is None:
            return None
        if path == "/setup" or path.startswith("/setup/"):
            from .routes import wizard_exists

            return await wizard_exists()
        if request.method == "POST" and path in REGISTER_PATHS:
            if not await hearth.web.setup.registration_allowed():
                return error_response(Forbidden(NOT_SET_UP))
            return None
        if (request.method == "GET" and is_web_path(path) and not path.startswith(("/setup", "/static/"))
                and path != "/favicon.ico" and is_local_client() and await hearth.web.setup.pending()):
            return redirect("/setup", code=303)
        return None


async def _may_restore():
    """A restore upload to the wizard: only while it exists, from the browser that claimed it."""
    from ..webui.layout import error_page
    from .routes import claimed, wizard_exists

    gone = await wizard_exists()
    if gone is not None:
        return gone
    if not await claimed():
        return await error_page(403, "Setup code needed", "Type the setup code first.")
    return None
