"""Accounts, one service per job: `registration.Registration`, `login.Login` (login, refresh,
logout, passwords), `devices.Devices`, `profiles.Profiles`, `deactivation.Deactivation`; and what
they share: `names` (user IDs of this server), `passwords` (checking one), `uia` (user-interactive auth)."""
