"""Users and passwords of the czar's MySQL front end, from the cluster configuration."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from mysql_mimic import IdentityProvider, NativePasswordAuthPlugin, User


class ConfiguredUsers(IdentityProvider):
    """``mysql_native_password`` accounts.

    An unknown user meets a password nobody knows, so it gets MariaDB's "Access denied" (1045)
    like a wrong password, and the error does not reveal which user names exist.
    """

    def __init__(self, users: Mapping[str, str]) -> None:
        self._auth = {
            name: NativePasswordAuthPlugin.create_auth_string(password) if password else None
            for name, password in users.items()
        }
        self._nobody = NativePasswordAuthPlugin.create_auth_string(secrets.token_hex(32))

    async def get_user(self, username: str) -> User | None:
        return User(
            name=username,
            auth_string=self._auth.get(username, self._nobody),
            auth_plugin=NativePasswordAuthPlugin.name,
        )
