"""The OAuth 2.0 API (spec v1.15), built into Hearth: client registration (RFC 7591), the
authorization code grant with PKCE (RFC 7636), the device authorization grant (RFC 8628),
refresh tokens and revocation (RFC 7009).

A token issued here is an ordinary access token with a refresh token (AuthService), for a device
made the same way as a password login makes one (Login.sign_in): the admin pages, /devices and
whoami see no difference. What OAuth adds is remembered beside it: the registered clients, the
short-lived codes and device grants, and which client each device was made for (oauth_sessions),
so that revocation can check the token belongs to the client asking.

The rules themselves (PKCE, scopes, redirect URIs, metadata) are pure: protocol/oauth.py.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from ..protocol import oauth as rules
from ..protocol.errors import MatrixError
from ..protocol.oauth import OAuthError, Scope
from ..storage.stores.accounts import AccountStore
from ..storage.stores.oauth import AuthCode, OAuthStore
from .accounts.devices import Devices
from .accounts.login import Login
from .auth import ClientInfo, IssuedTokens, hash_token

CODE_LIFETIME_MS = 10 * 60 * 1000
DEVICE_GRANT_LIFETIME_S = 15 * 60
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels (no words), no look-alikes

# account_management_actions_supported: the stable names (spec) and the ones MSC4191 used first.
ACCOUNT_ACTIONS = ("org.matrix.profile", "org.matrix.devices_list", "org.matrix.device_view",
                   "org.matrix.device_delete", "org.matrix.sessions_list", "org.matrix.session_view",
                   "org.matrix.session_end", "org.matrix.cross_signing_reset")


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked authorization request: what the consent page shows and what a code is made of."""
    client_id: str
    client: dict               # the registered metadata
    redirect_uri: str
    scope: Scope
    state: str | None
    response_mode: str
    code_challenge: str
    prompt: str | None

    @property
    def client_name(self) -> str:
        return self.client.get("client_name") or self.client["client_uri"]


class RedirectableError(Exception):
    """An authorization error after the redirect URI was checked: the browser goes back to the
    client with it (RFC 6749 section 4.1.2.1)."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


class OAuthService:
    def __init__(self, store: OAuthStore, accounts: AccountStore, login: Login, devices: Devices,
                 base_url, device_interval_s: int = 5):
        self.store = store
        self.accounts = accounts
        self.login = login
        self.devices = devices
        self._base_url = base_url  # () -> the public base URL, without a trailing slash
        self.device_interval_s = device_interval_s

    # -- discovery ------------------------------------------------------------------------------

    def metadata(self) -> dict:
        """GET /_matrix/client/v1/auth_metadata (oauth_server_metadata.yaml)."""
        base = self._base_url()
        api = f"{base}{API_PATH}"
        return {
            "issuer": f"{base}/",
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{api}/token",
            "registration_endpoint": f"{api}/registration",
            "revocation_endpoint": f"{api}/revoke",
            "device_authorization_endpoint": f"{api}/device",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment"],
            "grant_types_supported": list(rules.GRANT_TYPES),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": [rules.API_SCOPE, rules.DEVICE_SCOPE_PREFIX + "*",
                                 rules.UNSTABLE_API_SCOPE, rules.UNSTABLE_DEVICE_SCOPE_PREFIX + "*"],
            "prompt_values_supported": ["create"],
            "account_management_uri": f"{base}/me/account",
            "account_management_actions_supported": list(ACCOUNT_ACTIONS),
        }

    # -- RFC 7591 -------------------------------------------------------------------------------

    async def register_client(self, body: object) -> dict:
        metadata = rules.validate_client_metadata(body)
        client_id = secrets.token_urlsafe(12)
        await self.store.add_client(client_id, metadata, _now_ms())
        return {"client_id": client_id, "client_id_issued_at": _now_ms() // 1000, **metadata}

    async def _client(self, client_id: str | None) -> dict:
        client = await self.store.get_client(client_id) if client_id else None
        if client is None:
            raise OAuthError("invalid_client", "Unknown client_id", status=401)
        return client

    # -- authorization code grant ---------------------------------------------------------------

    async def check_authorization_request(self, params: dict[str, str]) -> AuthorizationRequest:
        """Raises OAuthError (show it on a page: the client or redirect URI cannot be trusted) or
        RedirectableError (send the browser back to the client with the error)."""
        client_id = params.get("client_id")
        client = await self._client(client_id)
        redirect_uri = params.get("redirect_uri") or ""
        if not rules.redirect_uri_matches(client["redirect_uris"], redirect_uri):
            raise OAuthError("invalid_request", "redirect_uri is not one this client registered")
        state = params.get("state")
        response_mode = params.get("response_mode") or "query"

        def back(error: str, description: str) -> RedirectableError:
            payload = {"error": error, "error_description": description}
            if state is not None:
                payload["state"] = state
            mode = response_mode if response_mode in ("query", "fragment") else "query"
            return RedirectableError(rules.callback_uri(redirect_uri, payload, mode))

        if response_mode not in ("query", "fragment"):
            raise back("invalid_request", "response_mode must be query or fragment")
        if params.get("response_type") != "code":
            raise back("unsupported_response_type", "Only response_type=code is supported")
        if rules.AUTHORIZATION_CODE not in client["grant_types"]:
            raise back("unauthorized_client", "This client did not register the authorization_code grant")
        try:
            challenge = rules.check_code_challenge(params.get("code_challenge"), params.get("code_challenge_method"))
            scope = rules.parse_scope(params.get("scope"))
        except OAuthError as exc:
            raise back(exc.error, exc.description) from None
        prompt = params.get("prompt")
        if prompt not in (None, "", "create", "login", "consent"):
            raise back("invalid_request", "Unsupported prompt value")
        return AuthorizationRequest(client_id or "", client, redirect_uri, scope, state, response_mode,
                                    challenge, prompt or None)

    async def grant_code(self, request: AuthorizationRequest, user_id: str) -> str:
        """The person allowed the client: a one-time code; returns the callback URL."""
        code = secrets.token_urlsafe(32)
        now = _now_ms()
        await self.store.add_code(hash_token(code), AuthCode(
            request.client_id, user_id, request.scope.device_id, request.scope.text, request.redirect_uri,
            request.code_challenge, now + CODE_LIFETIME_MS, None), now)
        params = {"code": code}
        if request.state is not None:
            params["state"] = request.state
        return rules.callback_uri(request.redirect_uri, params, request.response_mode)

    def deny_url(self, request: AuthorizationRequest) -> str:
        params = {"error": "access_denied", "error_description": "The person declined to sign in"}
        if request.state is not None:
            params["state"] = request.state
        return rules.callback_uri(request.redirect_uri, params, request.response_mode)

    # -- the token endpoint ---------------------------------------------------------------------

    async def token(self, form: dict[str, str], client: ClientInfo) -> dict:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type not in rules.GRANT_TYPES:
            raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")
        client_id = form.get("client_id")
        registered = await self._client(client_id)
        if grant_type not in registered["grant_types"]:
            raise OAuthError("unauthorized_client", f"This client did not register {grant_type}")
        if grant_type == rules.AUTHORIZATION_CODE:
            return await self._exchange_code(form, client_id or "", registered, client)
        if grant_type == rules.REFRESH_TOKEN:
            return await self._refresh(form, client_id or "")
        return await self._poll_device(form, client_id or "", registered, client)

    async def _exchange_code(self, form: dict[str, str], client_id: str, registered: dict,
                             client: ClientInfo) -> dict:
        code = form.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is required")
        now = _now_ms()
        stored = await self.store.spend_code(hash_token(code), now)
        if stored is None or stored.client_id != client_id:
            raise OAuthError("invalid_grant", "Unknown authorization code")
        if stored.used_ts is not None:
            # RFC 6749 4.1.2: a code used twice was stolen or replayed: end what it made.
            await self.end_session(stored.user_id, stored.device_id)
            raise OAuthError("invalid_grant", "This authorization code was already used")
        if stored.expires_ts <= now:
            raise OAuthError("invalid_grant", "This authorization code has expired")
        if form.get("redirect_uri") != stored.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        rules.verify_pkce(form.get("code_verifier"), stored.code_challenge)
        issued = await self._sign_in(stored.user_id, stored.device_id, client_id, stored.scope, registered, client)
        return _token_response(issued, stored.scope)

    async def _sign_in(self, user_id: str, device_id: str, client_id: str, scope: str, registered: dict,
                       client: ClientInfo) -> IssuedTokens:
        user = await self.accounts.get_user(user_id)
        if user is None or user.deactivated:
            raise OAuthError("invalid_grant", "This account can no longer sign in")
        issued = await self.login.sign_in(user_id, device_id, registered.get("client_name"), True, client)
        await self.store.add_session(user_id, device_id, client_id, scope, _now_ms())
        return issued

    async def _refresh(self, form: dict[str, str], client_id: str) -> dict:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is required")
        owner = await self.accounts.get_refresh_token(hash_token(token))
        if owner is None:
            raise OAuthError("invalid_grant", "Unknown or revoked refresh token")
        session_client = await self.store.session_client(*owner)
        if session_client != client_id:
            raise OAuthError("invalid_grant", "This refresh token was not issued to this client")
        try:
            issued = await self.login.auth.refresh(token)
        except MatrixError:
            raise OAuthError("invalid_grant", "Unknown or revoked refresh token") from None
        scope = await self.store.session_scope(*owner) or ""
        return _token_response(issued, scope)

    # -- RFC 7009 -------------------------------------------------------------------------------

    async def revoke(self, form: dict[str, str]) -> None:
        """Revoking either token ends the session (the device), as signing out does. An unknown
        token is not an error (RFC 7009 section 2.2)."""
        token = form.get("token")
        if not token:
            raise OAuthError("invalid_request", "token is required")
        client_id = form.get("client_id")
        await self._client(client_id)
        token_hash = hash_token(token)
        hint = form.get("token_type_hint")
        owner = None
        if hint != "refresh_token":
            info = await self.accounts.get_access_token(token_hash)
            owner = (info.user_id, info.device_id) if info else None
        if owner is None:
            owner = await self.accounts.get_refresh_token(token_hash)
        if owner is None and hint == "refresh_token":
            info = await self.accounts.get_access_token(token_hash)
            owner = (info.user_id, info.device_id) if info else None
        if owner is None:
            return
        if await self.store.session_client(*owner) != client_id:
            raise OAuthError("unauthorized_client", "This token was not issued to this client")
        await self.end_session(*owner)

    async def is_oauth_session(self, user_id: str, device_id: str | None) -> bool:
        """Whether the device was signed in through the OAuth 2.0 API (UIA offers it m.oauth)."""
        return device_id is not None and await self.store.session_client(user_id, device_id) is not None

    async def end_session(self, user_id: str, device_id: str) -> None:
        await self.devices.delete(user_id, [device_id])  # devices_deleted forgets the session

    async def devices_deleted(self, user_id: str, device_ids: list[str]) -> None:
        """Listener: a device deleted by any path (logout, /devices, admin) ends its OAuth session."""
        await self.store.forget_sessions(user_id, device_ids)

    # -- RFC 8628 -------------------------------------------------------------------------------

    async def device_authorization(self, form: dict[str, str]) -> dict:
        client_id = form.get("client_id")
        registered = await self._client(client_id)
        if rules.DEVICE_CODE not in registered["grant_types"]:
            raise OAuthError("unauthorized_client", "This client did not register the device_code grant")
        scope = rules.parse_scope(form.get("scope"))
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
        user_code = f"{user_code[:4]}-{user_code[4:]}"
        now = _now_ms()
        await self.store.add_device_grant(hash_token(device_code), user_code, client_id or "", scope.device_id,
                                          scope.text, now + DEVICE_GRANT_LIFETIME_S * 1000, now)
        page = f"{self._base_url()}/oauth2/link"
        return {"device_code": device_code, "user_code": user_code, "verification_uri": page,
                "verification_uri_complete": f"{page}?code={user_code}", "expires_in": DEVICE_GRANT_LIFETIME_S,
                "interval": self.device_interval_s}

    async def pending_device_grant(self, user_code: str) -> tuple[dict, Scope] | None:
        """(the client's metadata, the scope) of a grant still waiting for a person, or None."""
        grant = await self.store.device_grant_by_user_code(normalise_user_code(user_code))
        if grant is None or grant.status != "pending" or grant.expires_ts <= _now_ms():
            return None
        client = await self.store.get_client(grant.client_id)
        return (client, rules.parse_scope(grant.scope)) if client is not None else None

    async def decide_device_grant(self, user_code: str, user_id: str | None) -> bool:
        return await self.store.decide_device_grant(normalise_user_code(user_code), user_id, _now_ms())

    async def _poll_device(self, form: dict[str, str], client_id: str, registered: dict, client: ClientInfo) -> dict:
        device_code = form.get("device_code")
        if not device_code:
            raise OAuthError("invalid_request", "device_code is required")
        now = _now_ms()
        grant = await self.store.poll_device_grant(hash_token(device_code), now)
        if grant is None or grant.client_id != client_id:
            raise OAuthError("invalid_grant", "Unknown device_code")
        if grant.expires_ts <= now:
            raise OAuthError("expired_token", "The device code has expired")
        if grant.status == "denied":
            raise OAuthError("access_denied", "The person declined to sign in")
        if grant.status == "pending":
            if grant.last_poll_ts and now - grant.last_poll_ts < self.device_interval_s * 1000:
                raise OAuthError("slow_down", "Polling too often")
            raise OAuthError("authorization_pending", "Waiting for the person to approve")
        issued = await self._sign_in(grant.user_id or "", grant.device_id, client_id, grant.scope, registered, client)
        return _token_response(issued, grant.scope)

    # -- account management ---------------------------------------------------------------------

    async def client_name_of(self, user_id: str, device_id: str) -> str | None:
        client_id = await self.store.session_client(user_id, device_id)
        client = await self.store.get_client(client_id) if client_id else None
        return (client.get("client_name") or client["client_uri"]) if client else None


API_PATH = "/_matrix/client/unstable/org.hearth.oauth2"


def normalise_user_code(code: str) -> str:
    letters = "".join(ch for ch in code.upper() if ch.isalpha())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else code.strip().upper()


def _token_response(issued: IssuedTokens, scope: str) -> dict:
    return {"access_token": issued.access_token, "token_type": "Bearer",
            "expires_in": (issued.expires_in_ms or 0) // 1000, "refresh_token": issued.refresh_token,
            "scope": scope}


def build_oauth(store: OAuthStore, accounts: AccountStore, login: Login, devices: Devices, base_url) -> OAuthService:
    """The one constructor the app's wiring calls (accounts group)."""
    return OAuthService(store, accounts, login, devices, base_url)
