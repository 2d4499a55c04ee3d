"""Accounts through a real Hearth process with matrix-nio: register, login, whoami, profile,
devices, and registration with an invite token made by the `hearth` command line."""
from __future__ import annotations

import pytest
from nio import (
    AsyncClient,
    DeleteDevicesAuthResponse,
    DeleteDevicesResponse,
    DevicesResponse,
    LoginError,
    LoginResponse,
    LogoutResponse,
    ProfileGetDisplayNameResponse,
    ProfileSetDisplayNameResponse,
    RegisterResponse,
    WhoamiError,
    WhoamiResponse,
)
from nio.responses import RegisterErrorResponse

from tests.conftest import start_server

pytestmark = pytest.mark.timeout(120)

PASSWORD = "correct horse battery staple"


async def test_register_login_whoami_profile_devices(server):
    phone = AsyncClient(server.base_url, "anna")
    laptop = AsyncClient(server.base_url, "anna")
    try:
        reg = await phone.register("anna", PASSWORD, device_name="Anna's phone")
        assert isinstance(reg, RegisterResponse), reg
        assert phone.user_id == "@anna:hearth.test"

        who = await phone.whoami()
        assert isinstance(who, WhoamiResponse), who
        assert (who.user_id, who.device_id) == ("@anna:hearth.test", phone.device_id)

        bad = await laptop.login("wrong password", device_name="Anna's laptop")
        assert isinstance(bad, LoginError) and bad.status_code == "M_FORBIDDEN"
        logged_in = await laptop.login(PASSWORD, device_name="Anna's laptop")
        assert isinstance(logged_in, LoginResponse), logged_in
        assert laptop.device_id != phone.device_id

        set_name = await phone.set_displayname("Anna")
        assert isinstance(set_name, ProfileSetDisplayNameResponse), set_name
        name = await laptop.get_displayname("@anna:hearth.test")
        assert isinstance(name, ProfileGetDisplayNameResponse) and name.displayname == "Anna"

        devices = await phone.devices()
        assert isinstance(devices, DevicesResponse), devices
        names = {d.id: d.display_name for d in devices.devices}
        assert names == {phone.device_id: "Anna's phone", laptop.device_id: "Anna's laptop"}

        # Deleting the laptop from the phone: UIA with the password, then the laptop is signed out.
        first = await phone.delete_devices([laptop.device_id])
        assert isinstance(first, DeleteDevicesAuthResponse), first
        auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "anna"},
                "password": PASSWORD, "session": first.session}
        done = await phone.delete_devices([laptop.device_id], auth)
        assert isinstance(done, DeleteDevicesResponse), done
        gone = await laptop.whoami()
        assert isinstance(gone, WhoamiError) and gone.status_code == "M_UNKNOWN_TOKEN"

        assert isinstance(await phone.logout(), LogoutResponse)
        assert isinstance(await phone.whoami(), WhoamiError)
    finally:
        await phone.close()
        await laptop.close()


async def test_registration_with_a_token_from_the_cli(tmp_path):
    srv = start_server(tmp_path / "data", HEARTH_REGISTRATION="token")
    client = AsyncClient(srv.base_url, "ben")
    other = AsyncClient(srv.base_url, "cleo")
    try:
        token = srv.hearth_cli("registration-token", "create", "--uses", "1")
        assert token and " " not in token
        refused = await client.register("ben", PASSWORD)  # no token: open registration is off
        assert isinstance(refused, RegisterErrorResponse), refused
        reg = await client.register_with_token("ben", PASSWORD, token, device_name="Ben's phone")
        assert isinstance(reg, RegisterResponse), reg
        assert client.user_id == "@ben:hearth.test"
        assert isinstance(await client.whoami(), WhoamiResponse)
        used_up = await other.register_with_token("cleo", PASSWORD, token)
        assert isinstance(used_up, RegisterErrorResponse), used_up

        # An account made with `hearth create-user` can log in.
        assert srv.hearth_cli("create-user", "dana", "--password", PASSWORD, "--admin") == "@dana:hearth.test"
        dana = AsyncClient(srv.base_url, "dana")
        try:
            assert isinstance(await dana.login(PASSWORD), LoginResponse)
        finally:
            await dana.close()
    finally:
        await client.close()
        await other.close()
        srv.stop()
