"""Token authentication for people and instruments, both sent as ``Authorization: Token <token>``.

The token text says whose it is: ``ptp_…`` is a person's personal token, ``pti_…`` an
instrument's (``labs.services.TOKEN_PREFIX``). Each class handles its own kind and leaves the
other alone; a ``Token`` header that neither recognises is refused (401), never ignored.
Browsers use the session (with CSRF) instead.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from labs.services import instrument_authenticate
from protocol_tracker.api.principals import InstrumentPrincipal
from protocol_tracker.api.services import personal_token_authenticate

# The token kinds, by prefix (labs.services.TOKEN_PREFIX and api.services.TOKEN_PREFIX).
INSTRUMENT_TOKEN_PREFIX = "pti"  # noqa: S105 - a prefix, not a secret
PERSONAL_TOKEN_PREFIX = "ptp"  # noqa: S105

KEYWORD = "Token"
_MAX_TOKEN_LENGTH = 200


def _token_from_header(request) -> str | None:
    header = authentication.get_authorization_header(request).split()
    if not header or header[0].lower() != KEYWORD.lower().encode():
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed(
            _("Invalid token header: expected 'Authorization: Token <token>'.")
        )
    try:
        token = header[1].decode("ascii")
    except UnicodeError:
        raise exceptions.AuthenticationFailed(_("Invalid token: not ASCII.")) from None
    if len(token) > _MAX_TOKEN_LENGTH:
        raise exceptions.AuthenticationFailed(_("Invalid token."))
    return token


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    """A person's revocable token from ``POST /api/v1/auth/token/``."""

    def authenticate(self, request):
        token = _token_from_header(request)
        if token is None or token.startswith(f"{INSTRUMENT_TOKEN_PREFIX}_"):
            return None

        record = personal_token_authenticate(token)
        if record is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        return record.user, record

    def authenticate_header(self, request) -> str:
        return KEYWORD


class InstrumentTokenAuthentication(authentication.BaseAuthentication):
    """An instrument's token from ``manage.py create_instrument_token``.

    ``request.user`` becomes an :class:`InstrumentPrincipal`, ``request.auth`` the Instrument.
    """

    def authenticate(self, request):
        token = _token_from_header(request)
        if token is None or token.startswith(f"{PERSONAL_TOKEN_PREFIX}_"):
            return None

        instrument = instrument_authenticate(token)
        if instrument is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked instrument token."))
        return InstrumentPrincipal(instrument), instrument

    def authenticate_header(self, request) -> str:
        return KEYWORD
