"""The federation listener: TLS on HEARTH_FEDERATION_BIND beside the plain client listener."""
from __future__ import annotations

import socket
import ssl

from hypercorn.config import Config

from appliance.__main__ import configure_listeners
from appliance.settings import Settings
from tests.tls_ca import TestCA


def _sockets(settings: Settings):
    config = Config()
    configure_listeners(config, settings)
    return config, config.create_sockets()


def test_without_federation_one_plain_listener():
    for s in (Settings(bind="127.0.0.1:0"), Settings(bind="127.0.0.1:0", federation_enabled=True)):
        config, sockets = _sockets(s)
        try:
            assert not config.ssl_enabled
            assert len(sockets.insecure_sockets) == 1 and sockets.secure_sockets == []
        finally:
            for sock in sockets.insecure_sockets:
                sock.close()


def test_federation_listener_speaks_tls_with_the_configured_certificate(tmp_path):
    ca = TestCA(tmp_path)
    cert, key = ca.issue("localhost", "127.0.0.1")
    settings = Settings(bind="127.0.0.1:0", federation_enabled=True, federation_bind="127.0.0.1:0",
                        federation_tls_cert=cert, federation_tls_key=key)
    config, sockets = _sockets(settings)
    try:
        assert config.ssl_enabled
        assert len(sockets.insecure_sockets) == 1 and len(sockets.secure_sockets) == 1
        # The secure socket is a plain listening socket; TLS is hypercorn's: check its context.
        context = config.create_ssl_context()
        assert context is not None
        server = sockets.secure_sockets[0]
        server.listen(1)
        port = server.getsockname()[1]
        client_ctx = ssl.create_default_context(cafile=str(ca.ca_path))
        with socket.create_connection(("127.0.0.1", port)) as raw:
            conn, _ = server.accept()
            wrapped_server = context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            wrapped_server.setblocking(False)
            tls = client_ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
            tls.setblocking(False)
            for _ in range(200):  # drive both handshakes without threads
                done = 0
                for side in (tls, wrapped_server):
                    try:
                        side.do_handshake()
                        done += 1
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        pass
                if done == 2:
                    break
            assert done == 2
            assert tls.getpeercert()["subject"] == ((("commonName", "localhost"),),)
            tls.close()
            wrapped_server.close()
    finally:
        for sock in (*sockets.insecure_sockets, *sockets.secure_sockets):
            sock.close()
