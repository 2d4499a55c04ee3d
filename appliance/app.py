"""create_app(settings) -> Quart: build Hearth in the lifespan, register blueprints."""
from __future__ import annotations

import logging
import random
import time

from quart import Quart, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound as WerkzeugNotFound

from .core.api.routing import HearthQuart, error_response, json_response
from .core.api.upload_limit import install_upload_limit
from .core.protocol.errors import MatrixError
from .core.services.request_log import RequestLog, error_log
from .hearth import Hearth, build_hearth
from .routes import install_routes
from .settings import Settings

log = logging.getLogger("hearth.request")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
}


def create_app(settings: Settings | None = None, hearth: Hearth | None = None, *, lazy_routes: bool = True) -> Quart:
    """The app. Its URL rules come from the route table, each handler module imported on its
    first request (appliance/routes.py); lazy_routes=False registers the real blueprints."""
    settings = settings or Settings()
    app = HearthQuart("appliance")  # r0 paths routed as v3 (one rule each), url_for builders lazy
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes * 2
    # The admin pages' request log and recent errors (in memory, bounded).
    request_log = app.config["REQUEST_LOG"] = RequestLog()
    app.config["ERROR_LOG"] = error_log()

    install_upload_limit(app)   # the media upload routes take more than a JSON body
    install_routes(app, lazy=lazy_routes)  # the APIs', the wizard's and the pages' URL rules

    from .setup_wizard import install_setup_wizard
    from .webui.layout import install_host_check, install_web_foundation

    install_host_check(app)      # pages and wizard: only under our own names (DNS rebinding)
    install_setup_wizard(app)    # no registration before setup; web pages lead to /setup
    install_web_foundation(app)  # pages: security headers, CSRF, session cookies
    from .webui.pages import install_web_ui

    install_web_ui(app)          # the pages' template filters; restore uploads

    @app.before_serving
    async def start() -> None:
        if hearth is None:  # a restore staged from the web pages: swapped in before the database opens
            from .core.services.restore_staging import apply_staged_restore

            apply_staged_restore(settings.data_dir)
        app.config["HEARTH"] = hearth or await build_hearth(settings)
        if hearth is None:  # the start-up's garbage (imports, migrations) is freed: hand it back
            from .core.memory import release_free_memory

            release_free_memory()

    @app.while_serving
    async def background():
        """Hearth's background work (push evaluation, pushers, …): started after the build,
        cancelled before the database closes."""
        import asyncio

        tasks = [asyncio.create_task(run(), name=getattr(run, "__qualname__", "background"))
                 for run in app.config["HEARTH"].background]
        yield
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @app.after_serving
    async def stop() -> None:
        h = app.config.get("HEARTH")
        if h is not None and hearth is None:
            await h.close()

    @app.before_request
    async def tag_request():
        # Not a secret, only a label: random's generator, not os.urandom (a getrandom() system call
        # that lets go of the GIL, and on a busy server waits to get it back).
        g.request_tag = f"{random.getrandbits(32):08x}"
        g.started = time.perf_counter()
        if request.method == "OPTIONS":
            return Response("", status=204)
        return None

    @app.after_request
    async def finish(response: Response) -> Response:
        for k, v in CORS_HEADERS.items():
            response.headers.setdefault(k, v)
        elapsed = (time.perf_counter() - getattr(g, "started", time.perf_counter())) * 1000
        web_session = g.get("web_session")
        user = g.get("user_id") or (web_session.user_id if web_session is not None else None)
        log.info("%s %s %s %s %s %d %.1fms", getattr(g, "request_tag", "-"), request.method, request.path,
                 user or "-", response.status_code, response.content_length or 0, elapsed)
        request_log.record(getattr(g, "request_tag", "-"), request.method, request.path, user,
                           response.status_code, response.content_length or 0, elapsed)
        return response

    @app.errorhandler(MatrixError)
    async def matrix_error(exc: MatrixError) -> Response:
        return error_response(exc)

    @app.errorhandler(WerkzeugNotFound)
    async def not_found(exc) -> Response:
        return json_response({"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}, 404)

    @app.errorhandler(MethodNotAllowed)
    async def wrong_method(exc) -> Response:
        return json_response({"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}, 405)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        errcode = "M_TOO_LARGE" if code == 413 else "M_UNKNOWN"
        return json_response({"errcode": errcode, "error": exc.description or exc.name}, code)

    @app.errorhandler(Exception)
    async def internal_error(exc: Exception) -> Response:
        from .core.storage.disk import is_disk_full

        h = app.config.get("HEARTH")
        if h is not None and is_disk_full(exc):  # a file write (media) hit a full disk: say so, not 500
            h.db.health.mark_full()
            return error_response(h.db.health.error())
        log.exception("internal error on %s %s", request.method, request.path)
        return json_response({"errcode": "M_UNKNOWN", "error": "Internal server error"}, 500)

    return app
