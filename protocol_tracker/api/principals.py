"""Who is calling: a person (a Django user) or an instrument.

An instrument authenticates with its own token. DRF then sets ``request.user`` to an
:class:`InstrumentPrincipal` (authenticated, never staff, no memberships) and ``request.auth`` to
the :class:`labs.models.Instrument`. Code that scopes or acts must go through :func:`actor_of`
and :func:`instrument_of` rather than use ``request.user`` directly, so that an instrument is
never mistaken for a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs.models import Instrument


@dataclass(frozen=True, eq=False)
class InstrumentPrincipal:
    instrument: Instrument

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    is_instrument = True
    pk = None
    id = None

    def get_username(self) -> str:
        return f"instrument:{self.instrument.name}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return self.get_username()


def instrument_of(request) -> Instrument | None:
    user = getattr(request, "user", None)
    return user.instrument if isinstance(user, InstrumentPrincipal) else None


def actor_of(request):
    """The actor to pass to services: the ``Instrument`` or the user."""
    instrument = instrument_of(request)
    return instrument if instrument is not None else request.user


def is_person(request) -> bool:
    user = getattr(request, "user", None)
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and not isinstance(user, InstrumentPrincipal)
    )


def scope(queryset, request):
    """``queryset`` restricted to what the caller may see: the user's labs or the instrument's."""
    instrument = instrument_of(request)
    if instrument is not None:
        return queryset.for_instrument(instrument)
    return queryset.for_user(request.user)
