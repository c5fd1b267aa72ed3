"""Throttling per token: each personal token, each instrument credential and each session user
has its own budget; anonymous calls (only the token endpoint) are limited per address.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read at request time, so
``override_settings`` works in tests.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from protocol_tracker.api.principals import instrument_of


class PrincipalRateThrottle(SimpleRateThrottle):
    """``person`` rate for people (per token, else per user), ``instrument`` for instruments."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        self.scope = "instrument" if instrument_of(request) is not None else "person"
        if not request.user or not request.user.is_authenticated:
            self.scope = "anon"
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        auth = request.auth
        instrument = instrument_of(request)
        if instrument is not None:
            ident = f"instrument:{instrument.pk}"
        elif request.user and request.user.is_authenticated:
            prefix = getattr(auth, "prefix", None)
            ident = f"token:{prefix}" if prefix else f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"


class TokenIssueThrottle(SimpleRateThrottle):
    """``POST /auth/token/``: password guesses are limited per address (and by django-axes)."""

    scope = "token_issue"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        return f"throttle:{self.scope}:{self.get_ident(request)}"
