"""Who may see what in the web UI: the current lab, roles, lab-scoped lookups, error mapping.

Every object a view shows is read through a selector that starts from
``Model.objects.for_user(request.user)``, so another lab's object is a 404, never a 403. Roles
only decide which buttons a page shows; the services make the final decision and their refusal
is shown as an error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from labs.models import CAN_ADMINISTER, CAN_MANAGE, CAN_REVIEW, CAN_WORK, Lab
from labs.selectors import labs_for_user, role_in_lab
from protocol_tracker.core.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotPermitted,
    SignatureRefused,
)

SESSION_LAB_KEY = "web_lab_id"
CAN_DESIGN = CAN_ADMINISTER  # protocols.services: only a lab admin designs protocols


def current_lab(request: HttpRequest) -> Lab | None:
    """The lab the user works in now: the one picked in the session, else their first lab."""
    labs = getattr(request, "_web_labs", None)
    if labs is None:
        labs = list(labs_for_user(request.user))
        request._web_labs = labs
    if not labs:
        return None
    wanted = request.session.get(SESSION_LAB_KEY)
    for lab in labs:
        if lab.pk == wanted:
            return lab
    return labs[0]


class Perms:
    """What the user's role in one lab lets the page offer."""

    def __init__(self, user, lab: Lab | int | None) -> None:
        self.role = role_in_lab(user, lab) if lab is not None else None
        self.can_work = self.role in CAN_WORK
        self.can_review = self.role in CAN_REVIEW
        self.can_administer = self.role in CAN_ADMINISTER
        self.can_design = self.role in CAN_DESIGN
        self.can_manage = self.role in CAN_MANAGE


def lab_view(view: Callable) -> Callable:
    """Login required; sets ``request.lab`` (current lab) and ``request.perms``; activates the
    lab's time zone so that every date on the page is shown in it."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        lab = current_lab(request)
        request.lab = lab
        request.labs = request._web_labs
        request.perms = Perms(request.user, lab)
        if lab is not None:
            timezone.activate(lab.tz)
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapper


T = TypeVar("T")


def or_404(read: Callable[..., T], **kwargs) -> T:
    """``read(**kwargs)`` (a selector of one object the user may see), or a 404 when it finds
    none: another lab's object looks exactly like a missing one."""
    try:
        return read(**kwargs)
    except ObjectDoesNotExist:
        raise Http404("no such object") from None


def use_lab(request: HttpRequest, lab: Lab) -> None:
    """Show this page in ``lab``'s terms: its time zone and the user's role there."""
    request.perms = Perms(request.user, lab)
    request.page_lab = lab
    timezone.activate(lab.tz)


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def require_lab(request: HttpRequest) -> Lab:
    if request.lab is None:
        raise Http404("no lab")
    return request.lab


def domain_message(error: DomainError) -> str:
    """A service's refusal in the user's language: a translated lead sentence, with the rule's
    own wording (which names the records) after it."""
    detail = error.message
    if isinstance(error, SignatureRefused):
        if "password" in detail.lower():
            return _("The password did not match; nothing was signed.")
        return _("Signature refused: %(detail)s") % {"detail": detail}
    if isinstance(error, NotPermitted):
        return _("Your role does not allow this: %(detail)s") % {"detail": detail}
    if isinstance(error, InvalidTransition):
        return _("Not possible now: %(detail)s") % {"detail": detail}
    if isinstance(error, Conflict):
        return _("Conflict: %(detail)s") % {"detail": detail}
    return detail


def add_domain_error(form: forms.Form, error: DomainError, *, default_field: str | None = None):
    """Show a service's refusal next to the fields it names (or on the form / default field)."""
    placed = False
    mapping = getattr(form, "service_fields", {})
    for field, messages in (error.fields or {}).items():
        field = mapping.get(field, field)
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
        placed = True
    if not placed:
        target = default_field if default_field in form.fields else None
        form.add_error(target, domain_message(error))
