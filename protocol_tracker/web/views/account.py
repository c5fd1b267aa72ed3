"""Login, logout, password change, the lab switch, notifications and preferences."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from protocol_tracker.core.errors import DomainError
from protocol_tracker.reminders import selectors as reminder_selectors
from protocol_tracker.reminders import services as reminder_services
from protocol_tracker.reminders.models import Language
from protocol_tracker.web.access import SESSION_LAB_KEY, add_domain_error, lab_view
from protocol_tracker.web.views.calendar import calendar_url


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        """Log in, then switch to the language the user chose in their preferences."""
        response = super().form_valid(form)
        preference = reminder_selectors.notification_preference_for(form.get_user())
        if preference.pk is not None:  # never saved: the defaults, no cookie
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, preference.language, samesite="Lax")
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("web:password_change_done")

    def form_valid(self, form):
        messages.success(self.request, _("Your password was changed."))
        return super().form_valid(form)


login = LoginView.as_view()
logout = auth_views.LogoutView.as_view()
password_change = lab_view(PasswordChangeView.as_view())


@lab_view
def password_change_done(request: HttpRequest) -> HttpResponse:
    return redirect("web:preferences")


@require_POST
@lab_view
def lab_switch(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("lab", "")
    for lab in request.labs:
        if str(lab.pk) == wanted:
            request.session[SESSION_LAB_KEY] = lab.pk
            break
    else:
        raise Http404("not your lab")
    return redirect("web:bench")


@lab_view
def notifications(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    qs = reminder_selectors.notifications_for_user(
        request.user, unread=True if unread_only else None
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "web/notifications.html",
        {
            "nav": "notifications",
            "page": page,
            "unread_only": unread_only,
        },
    )


@require_POST
@lab_view
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    if pk == 0:
        reminder_services.notifications_mark_all_read(user=request.user)
    else:
        notification = reminder_selectors.notifications_for_user(request.user).filter(pk=pk).first()
        if notification is None:
            raise Http404("no such notification")
        reminder_services.notification_mark_read(notification=notification, user=request.user)
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    return redirect("web:notifications")


class PreferenceForm(forms.Form):
    service_fields: dict = {}

    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=Language.choices)
    email_due_soon = forms.BooleanField(
        label=gettext_lazy("Email when work is due soon"), required=False
    )
    email_due = forms.BooleanField(label=gettext_lazy("Email when work is due"), required=False)
    email_overdue = forms.BooleanField(
        label=gettext_lazy("Email when work is overdue"), required=False
    )
    email_escalation = forms.BooleanField(label=gettext_lazy("Email escalations"), required=False)
    email_qc_failed = forms.BooleanField(
        label=gettext_lazy("Email out-of-spec results"), required=False
    )
    digest = forms.BooleanField(label=gettext_lazy("Daily digest email"), required=False)


@lab_view
def preferences(request: HttpRequest) -> HttpResponse:
    preference = reminder_selectors.notification_preference_for(request.user)
    initial = {name: getattr(preference, name) for name in PreferenceForm.base_fields}
    form = PreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            reminder_services.notification_preference_update(user=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Preferences saved."))
            response = redirect("web:preferences")
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME, form.cleaned_data["language"], samesite="Lax"
            )
            return response
    return render(
        request,
        "web/preferences.html",
        {
            "nav": "preferences",
            "form": form,
            "calendar_url": calendar_url(
                request, reminder_selectors.calendar_token_for(request.user)
            ),
        },
    )


@require_POST
@lab_view
def calendar_link_create(request: HttpRequest) -> HttpResponse:
    """Create the user's calendar link (the preferences page offers it while there is none)."""
    reminder_services.calendar_token_issue(user=request.user)
    messages.success(request, _("Your calendar link was created."))
    return redirect("web:preferences")
