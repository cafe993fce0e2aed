"""Username/password checking for the embedded amqtt broker.

amqtt's own FileAuthPlugin wants a file of Argon2 hashes; a lesson only needs
a few users held in memory, so this plugin takes them straight from the config.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session


class PasswordAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """Accept a client only when its username and password match a configured user."""

    @dataclass
    class Config:
        """``users`` maps username to password."""

        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool:
        expected = self.config.users.get(session.username or "")
        if expected is None:
            return False
        return hmac.compare_digest(expected.encode(), (session.password or "").encode())
