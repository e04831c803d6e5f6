"""Sign-in pages of our own: the lockout page, and the second factor (code, set-up, backup codes)."""

from __future__ import annotations

from base64 import b32encode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from crm_bank.org.decorators import staff_required
from crm_bank.security.two_factor import (
    authenticator_confirm,
    authenticator_confirmed,
    authenticator_pending,
    authenticator_pending_renew,
    backup_codes_issue,
    backup_codes_left,
    change_confirmation_end,
    change_confirmed,
    current_factor_confirm,
    second_factor_verify,
    session_verified,
    two_factor_required,
)


def lockout(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """django-axes calls this (AXES_LOCKOUT_CALLABLE) in place of the view's own answer."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes}
    return render(request, "registration/lockout.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


class SecondFactorForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code"), max_length=20, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text=gettext_lazy("The six digits your authenticator app shows now, or one of your backup codes."),
    )


class CurrentCodeForm(forms.Form):
    """The current second factor, asked before it is changed. Never written back into the page: a
    code once given is spent, and a form shown again for another field's error must not send it
    again (nor show a used backup code)."""

    current = forms.CharField(
        label=gettext_lazy("Code from your current authenticator"), max_length=20, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "one-time-code", "autofocus": True}),
        help_text=gettext_lazy("Or one of your backup codes. Changing the second factor needs the current one."),
    )

    def __init__(self, *args, request: HttpRequest, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if change_confirmed(request):  # given a moment ago: the field may stay empty
            self.fields["current"].required = False
            self.fields["current"].help_text = _("You gave it a moment ago: leave this empty.")


def _current_factor_given(request: HttpRequest, form: CurrentCodeForm) -> bool:
    """The change may go ahead: the current second factor was given just now (a wrong one is a form
    error on `current`), or within the last few minutes (the field may then be left empty)."""
    current = form.cleaned_data.get("current", "")
    if current:
        if current_factor_confirm(request=request, user=request.user, token=current):
            return True
        form.add_error("current", _("That code is not valid. Wait for the next one, or use a backup code."))
        return False
    if change_confirmed(request):
        return True
    form.add_error("current", _("Give a code from your current authenticator, or a backup code."))
    return False


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return resolve_url("home")


@staff_required()
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The code page after the password, for a user who has an authenticator."""
    if not two_factor_required(request.user) or session_verified(request):
        return redirect(_next_url(request))
    if authenticator_confirmed(request.user) is None:
        return redirect(f"{reverse('two-factor-setup')}?{urlencode({'next': _next_url(request)})}")
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if second_factor_verify(request=request, user=request.user, token=form.cleaned_data["token"]):
            left = backup_codes_left(request.user)
            if left <= 3:
                messages.warning(request, _("You have %(n)d backup codes left: issue new ones.") % {"n": left})
            return redirect(_next_url(request))
        form.add_error("token", _("That code is not valid. Wait for the next one, or use a backup code."))
    return render(request, "registration/two_factor_verify.html", {"form": form, "next": _next_url(request)},
                  status=400 if form.errors else 200)


@staff_required()
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Setting up an authenticator: the QR code and its key, then a code to prove it works; the
    backup codes are shown once at the end."""
    if not two_factor_required(request.user):
        return redirect(_next_url(request))
    replacing = authenticator_confirmed(request.user) is not None
    if replacing and not session_verified(request):
        return redirect(f"{reverse('two-factor-verify')}?{urlencode({'next': _next_url(request)})}")
    if replacing and not change_confirmed(request):
        return _replacement_step_up(request)
    device = authenticator_pending(request.user)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = authenticator_confirm(request=request, user=request.user, token=form.cleaned_data["token"])
        if codes is not None:
            return render(request, "registration/backup_codes.html", {"codes": codes, "next": _next_url(request)})
        form.add_error("token", _("That code does not match. Check the phone's clock and type the code shown now."))
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#212529")
    secret = b32encode(device.bin_key).decode()
    return render(request, "registration/two_factor_setup.html", {
        "form": form, "replacing": replacing, "qr_svg": mark_safe(qr_svg),  # noqa: S308 - generated by segno from the device's own URL
        "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)), "next": _next_url(request),
    }, status=400 if form.errors else 200)


def _replacement_step_up(request: HttpRequest) -> HttpResponse:
    """Before a new authenticator may take the confirmed one's place: the current second factor.
    Only then a QR code, of a new secret (whoever held the session may have seen an earlier one)."""
    form = CurrentCodeForm(request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST" and form.is_valid() and _current_factor_given(request, form):
        authenticator_pending_renew(request.user)
        return redirect(f"{reverse('two-factor-setup')}?{urlencode({'next': _next_url(request)})}")
    return render(request, "registration/two_factor_replace.html", {"form": form, "next": _next_url(request)},
                  status=400 if form.errors else 200)


@staff_required()
@require_http_methods(["GET", "POST"])
def backup_codes(request: HttpRequest) -> HttpResponse:
    """Issue a fresh set of backup codes (the old ones stop working); only in a verified session, and
    with a code from the authenticator or one of the old backup codes."""
    if not two_factor_required(request.user):
        return redirect("home")
    form = CurrentCodeForm(request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST" and form.is_valid() and _current_factor_given(request, form):
        codes = backup_codes_issue(request=request, user=request.user)
        change_confirmation_end(request)
        return render(request, "registration/backup_codes.html", {"codes": codes, "next": resolve_url("home")})
    return render(request, "registration/backup_codes_issue.html",
                  {"left": backup_codes_left(request.user), "form": form}, status=400 if form.errors else 200)
