""""Reach Hearth from outside the home": the form shared by the setup wizard's step and the admin's
Outside access page (webui/admin_reach.py). At home only is the default; a domain of the family's
own or a free dynamic-DNS name gets a certificate from Let's Encrypt, checked through port 80
(HTTP-01) or a DNS record set with the provider's token (DNS-01). Never a self-signed certificate:
phones' apps refuse them.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator

from ..core.protocol import ids
from ..core.services.reach.dns_providers import PROVIDERS

DYNDNS = {p.id: p.suffix for p in PROVIDERS.values() if p.dynamic_dns and p.suffix}


class ReachForm(BaseModel):
    reach_mode: Literal["lan", "domain", "dyndns"] = Field(
        "lan", title="How will your family reach Hearth?",
        json_schema_extra={"choices": {
            "lan": ("At home only (recommended to start)",
                    "Apps connect while on the home Wi-Fi. Nothing to set up on the router."),
            "domain": ("From anywhere, with your own domain",
                       "Like chat.smith-family.org. Hearth gets a free certificate from Let's Encrypt that every "
                       "phone accepts, and renews it by itself."),
            "dyndns": ("From anywhere, with a free name",
                       "A free name such as smiths.dedyn.io (deSEC) or smiths.duckdns.org (DuckDNS) that follows "
                       "your home's internet address."),
        }})
    reach_domain: str | None = Field(
        None, title="The name", max_length=200,
        description="For your own domain: the full name (chat.smith-family.org). For a free name: the one you "
                    "registered at the provider (smiths.dedyn.io).",
        json_schema_extra={"placeholder": "chat.smith-family.org", "inputmode": "url", "autocomplete": "off",
                           "autocapitalize": "none", "spellcheck": "false", "say_limit": False})
    acme_challenge: Literal["http-01", "dns-01"] = Field(
        "http-01", title="How Let's Encrypt checks that the name is yours",
        json_schema_extra={"choices": {
            "http-01": ("Through port 80", "Your router forwards port 80 to this box; Hearth answers the check."),
            "dns-01": ("Through your DNS provider",
                       "Hearth sets a DNS record with the provider's token. Port 80 can stay closed."),
        }})
    reach_dns_provider: Literal["none", "desec", "duckdns", "cloudflare"] = Field(
        "none", title="DNS provider",
        description="Needed for a free name, and for the check through DNS.",
        json_schema_extra={"choices": {
            "none": ("None", ""),
            "desec": ("deSEC", "Free names under dedyn.io, and domains hosted at desec.io."),
            "duckdns": ("DuckDNS", "Free names under duckdns.org."),
            "cloudflare": ("Cloudflare", "Domains whose DNS is at Cloudflare."),
        }})
    federation_enabled: bool = Field(
        False, title="Talk with other Matrix servers",
        description="Relatives on matrix.org or on a server of their own can join your family's rooms, and you "
                    "theirs. Needs Hearth reachable from outside, under a server name from the internet's DNS. "
                    "Forward port 8448 too.")
    dns_token: SecretStr | None = Field(
        None, title="The provider's token", max_length=400,
        description="deSEC: a token from Token management. DuckDNS: the token at the top of your page. "
                    "Cloudflare: an API token allowed to edit the zone's DNS. Leave empty to keep the stored one.",
        json_schema_extra={"autocomplete": "off", "say_limit": False})

    @field_validator("reach_domain")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        v = (v or "").strip().lower().rstrip(".")
        for scheme in ("https://", "http://"):
            v = v.removeprefix(scheme)
        v = v.split("/")[0]
        if not v:
            return None
        if ":" in v or not ids.is_valid_server_name(v) or "." not in v or v.replace(".", "").isdigit():
            raise ValueError("A name looks like chat.smith-family.org (letters, digits, dots and dashes; no port)")
        if v.endswith(".local") or v == "localhost":
            raise ValueError("A .local name works at home only; give a name from the internet's DNS")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ReachForm:
        def on(name: str, message: str) -> ValidationError:
            return ValidationError.from_exception_data("ReachForm", [{
                "type": "value_error", "loc": (name,), "input": "", "ctx": {"error": ValueError(message)}}])

        if self.reach_mode == "lan":
            if self.federation_enabled:
                raise on("federation_enabled", "Other servers reach Hearth from the internet: choose your own "
                                               "domain or a free name above first")
            return self
        if self.reach_mode == "dyndns":
            if self.reach_dns_provider not in DYNDNS:
                raise on("reach_dns_provider", "Choose deSEC or DuckDNS for a free name")
            suffix = DYNDNS[self.reach_dns_provider]
            if self.reach_domain and not self.reach_domain.endswith(suffix):
                raise on("reach_domain", f"A {PROVIDERS[self.reach_dns_provider].name} name ends in {suffix}, "
                                         f"like smiths{suffix}")
            self.acme_challenge = "dns-01"  # the provider's token is there: no port 80 needed
        if not self.reach_domain:
            raise on("reach_domain", "Give the name your family will use from outside")
        if self.acme_challenge == "dns-01" and self.reach_dns_provider == "none":
            raise on("reach_dns_provider", "Choose the DNS provider that holds the name")
        return self

    def settings_values(self) -> dict[str, Any]:
        """What is stored as settings (the token is stored apart, never shown again)."""
        return {"reach_mode": self.reach_mode,
                "reach_domain": self.reach_domain if self.reach_mode != "lan" else None,
                "acme_challenge": self.acme_challenge,
                "reach_dns_provider": None if self.reach_dns_provider == "none" else self.reach_dns_provider,
                "federation_enabled": self.federation_enabled}

    def token(self) -> str | None:
        return (self.dns_token.get_secret_value().strip() or None) if self.dns_token else None


FIELDS = ("reach_mode", "reach_domain", "acme_challenge", "reach_dns_provider", "federation_enabled")


def current_values(settings) -> dict[str, Any]:
    provider = settings.reach_dns_provider
    return {"reach_mode": settings.reach_mode, "reach_domain": settings.reach_domain or "",
            "acme_challenge": settings.acme_challenge,
            "reach_dns_provider": provider if provider in ("desec", "duckdns", "cloudflare") else "none",
            "federation_enabled": settings.federation_enabled}


def token_problem(form: ReachForm, stored_token: str | None) -> str | None:
    """A provider needs a token: typed now, or stored before."""
    if form.reach_mode == "lan" or form.reach_dns_provider == "none":
        return None
    if form.reach_mode == "domain" and form.acme_challenge == "http-01":
        return None
    if form.token() or stored_token:
        return None
    return f"Give the {PROVIDERS[form.reach_dns_provider].name} token: Hearth needs it to set the DNS records"


class FederationForm(BaseModel):
    """Admin → Outside access, "Other Matrix servers": which servers, and presence."""

    federation_peers: Literal["all", "allow", "deny"] = Field(
        "all", title="Which servers may talk with Hearth?",
        json_schema_extra={"choices": {
            "all": ("Any server", "Anyone your family shares a room with, wherever their account is."),
            "allow": ("Only the servers listed", "Everything else is refused."),
            "deny": ("Any server except the ones listed", ""),
        }})
    federation_servers: list[str] = Field(
        default_factory=list, title="Servers",
        description="One server name per line, like matrix.org; * stands for any part of a name (*.example.org).",
        json_schema_extra={"placeholder": "matrix.org", "autocomplete": "off", "autocapitalize": "none",
                           "spellcheck": "false"})
    federation_presence: bool = Field(
        False, title="Tell other servers who is online",
        description="People on other servers see whether yours are online, and you theirs. Off keeps it at home.")

    @field_validator("federation_servers")
    @classmethod
    def _servers(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for line in v:
            name = line.strip().lower()
            if not name:
                continue
            if not ids.is_valid_server_name(name.replace("*", "x")):
                raise ValueError(f"{line.strip()!r} is not a server name (like matrix.org or *.example.org)")
            out.append(name)
        if len(out) > 200:
            raise ValueError("List at most 200 servers")
        return list(dict.fromkeys(out))

    @model_validator(mode="after")
    def _listed(self) -> FederationForm:
        if self.federation_peers != "all" and not self.federation_servers:
            raise ValidationError.from_exception_data("FederationForm", [{
                "type": "value_error", "loc": ("federation_servers",), "input": "",
                "ctx": {"error": ValueError("List at least one server")}}])
        return self

    def settings_values(self) -> dict[str, Any]:
        return {"federation_allowed_servers": self.federation_servers if self.federation_peers == "allow" else [],
                "federation_denied_servers": self.federation_servers if self.federation_peers == "deny" else [],
                "federation_presence": self.federation_presence}


def current_federation_values(settings) -> dict[str, Any]:
    allowed, denied = list(settings.federation_allowed_servers), list(settings.federation_denied_servers)
    peers = "allow" if allowed else ("deny" if denied else "all")
    return {"federation_peers": peers, "federation_servers": allowed or denied,
            "federation_presence": settings.federation_presence}
