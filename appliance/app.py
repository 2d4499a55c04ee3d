"""create_app(settings) -> Quart: build Hearth in the lifespan, register blueprints."""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from quart import Quart, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound as WerkzeugNotFound

from .core.api.routing import HearthQuart, error_response, json_response
from .core.api.upload_limit import install_upload_limit
from .core.protocol.errors import MatrixError
from .core.services.request_log import RequestLog, error_log
from .groups.on_first_use import OnFirstUse
from .groups.web import Process, backup_jobs
from .hearth import Hearth, build_hearth
from .routes import install_routes
from .settings import Settings

log = logging.getLogger("hearth.request")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization",
}


class Serving:
    """The Hearth this app serves and its background work: built in the lifespan, closed at the
    end, and built again when the server restarts in this process (`restart`). The pages reach
    it as `hearth.web.process.control` (groups/web.py `ServerControl`)."""

    def __init__(self, app: Quart, settings: Settings, restart_process: Callable[[], None] | None,
                 on_setup_completed: Callable[[], Awaitable[None]] | None) -> None:
        self.app = app
        self.settings = settings
        self._restart_process = restart_process
        self._on_setup_completed = on_setup_completed
        self.process = Process(RequestLog(), error_log(), OnFirstUse(backup_jobs), self)
        self._tasks: list[asyncio.Task] = []

    async def build(self) -> Hearth:
        from .core.services.restore_staging import apply_staged_restore

        apply_staged_restore(self.settings.data_dir)  # a restore staged from the pages: before the database opens
        hearth = self.app.config["HEARTH"] = await build_hearth(self.settings, self.process)
        return hearth

    def start_background(self) -> None:
        """Hearth's background work (push evaluation, pushers, …): started after the build,
        cancelled before the database closes."""
        self._tasks = [asyncio.create_task(run(), name=getattr(run, "__qualname__", "background"))
                       for run in self.app.config["HEARTH"].background]

    async def stop_background(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        h = self.app.config.pop("HEARTH", None)
        if h is not None:
            await h.close()

    # -- ServerControl ------------------------------------------------------------------------

    @property
    def restarts_process(self) -> bool:
        return self._restart_process is not None

    def restart_process(self) -> None:
        if self._restart_process is None:
            raise RuntimeError("this app cannot restart its process (it runs without `hearth run`)")
        self._restart_process()

    async def restart(self) -> None:
        if self._restart_process is not None:  # let the current answer go out first
            asyncio.get_running_loop().call_later(1.0, self._restart_process)
            return
        logging.getLogger("hearth").info("restarting the services in this process")
        await self.stop_background()
        await self.close()
        await self.build()
        self.start_background()

    async def setup_completed(self) -> None:
        if self._on_setup_completed is not None:
            await self._on_setup_completed()


def create_app(settings: Settings | None = None, *, lazy_routes: bool = True,
               restart_process: Callable[[], None] | None = None,
               on_setup_completed: Callable[[], Awaitable[None]] | None = None) -> Quart:
    """The app. Its URL rules come from the route table, each handler module imported on its
    first request (appliance/routes.py); lazy_routes=False registers the real blueprints.
    `hearth run` gives `restart_process` (stop serving, run again) and `on_setup_completed`
    (the LAN advertisement)."""
    settings = settings or Settings()
    app = HearthQuart("appliance")  # r0 paths routed as v3 (one rule each), url_for builders lazy
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes * 2
    serving = Serving(app, settings, restart_process, on_setup_completed)
    request_log = serving.process.request_log
    request_metrics = serving.process.request_metrics

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
        await serving.build()  # the start-up's freed memory goes back to the system a little later, after
        # the collector's first run (`hearth run`: core/interpreter.py freeze_startup_objects)

    @app.while_serving
    async def background():
        serving.start_background()
        yield
        await serving.stop_background()

    @app.after_serving
    async def stop() -> None:
        await serving.close()

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
        rule = request.url_rule
        request_metrics.record(request.method, rule.rule if rule is not None else "(no route)",
                               response.status_code, elapsed / 1000)
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
            h.core.db.health.mark_full()
            return error_response(h.core.db.health.error())
        log.exception("internal error on %s %s", request.method, request.path)
        return json_response({"errcode": "M_UNKNOWN", "error": "Internal server error"}, 500)

    return app
