"""Engagement pages: programmes and their steps, templates with preview and test send, enrolment from the lead
page; and the public endpoints a recipient's mail client reaches: click redirect, open pixel, one-click
unsubscribe (signed tokens, rate limited, no session)."""

from __future__ import annotations

import base64

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import ratelimit
from core.errors import Conflict, Invalid, NotPermitted
from core.http import client_ip, user_agent
from engagement import forms, rendering, selectors, sending, services, tracking
from engagement.models import EmailTemplate, Message, Programme, Step, TemplateVersion, TrackingEvent
from leads.selectors import get_visible_lead
from privacy import consent as privacy_consent

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _editor_or_403(user) -> None:
    if not services.may_edit(user):
        raise PermissionDenied(_("Only marketing edits programmes and templates."))


def _limited(request, bucket: str) -> bool:
    limit, period = ratelimit.parse(settings.ENGAGEMENT_PUBLIC_RATE)
    return not ratelimit.hit(f"engagement:{bucket}:{client_ip(request)}", limit=limit, period=period).allowed


# --- staff pages -----------------------------------------------------------------------------------------------


@login_required
def programmes(request):
    _editor_or_403(request.user)
    form = forms.ProgrammeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        programme = form.save()
        return redirect("engagement:programme", slug=programme.slug)
    return render(request, "engagement/programmes.html", {"programmes": selectors.programme_rows(), "form": form})


@login_required
def programme(request, slug: str):
    _editor_or_403(request.user)
    programme = get_object_or_404(Programme, slug=slug)
    form = forms.StepForm(request.POST or None, programme=programme)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_step(step=form.step(), by=request.user)
        except Invalid as invalid:
            for field, texts in invalid.errors.items():
                for text in texts:
                    form.add_error(field if field in form.fields else None, text)
        else:
            return redirect("engagement:programme", slug=slug)
    steps = programme.steps.select_related("template", "variant_template").order_by("position")
    return render(
        request, "engagement/programme.html",
        {"programme": programme, "steps": steps, "form": form, "figures": selectors.programme_figures(programme)},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def delete_step(request, slug: str, pk: int):
    _editor_or_403(request.user)
    step = get_object_or_404(Step, programme__slug=slug, pk=pk)
    if step.messages.exists() or step.tasks.exists():
        flash.error(request, _("This step has sent messages or tasks; it stays for the record."))
    else:
        step.delete()
    return redirect("engagement:programme", slug=slug)


@login_required
def templates(request):
    _editor_or_403(request.user)
    form = forms.TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        template = form.save()
        return redirect("engagement:template", pk=template.pk)
    rows = EmailTemplate.objects.filter(deleted_at__isnull=True).prefetch_related("versions")
    return render(request, "engagement/templates.html", {"templates": rows, "form": form})


@login_required
def template(request, pk: int):
    _editor_or_403(request.user)
    template = get_object_or_404(EmailTemplate, pk=pk, deleted_at__isnull=True)
    language = (request.GET.get("language") or request.POST.get("language") or settings.LANGUAGE_CODE[:2])[:8]
    version = template.versions.filter(language=language).first()
    form = forms.VersionForm(request.POST or None, instance=version, initial={"language": language})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.save_version(template=template, by=request.user, **form.cleaned_data)
        except Invalid as invalid:
            for field, texts in invalid.errors.items():
                for text in texts:
                    form.add_error(field if field in form.fields else None, text)
            status = 400
        else:
            flash.success(request, _("Saved."))
            return redirect(f"{request.path}?language={form.cleaned_data['language']}")
    elif form.errors:
        status = 400
    return render(
        request, "engagement/template.html",
        {"template": template, "form": form, "versions": template.versions.order_by("language"), "language": language},
        status=status,
    )


def _preview_lead(request):
    lead_id = request.GET.get("lead") or request.POST.get("lead") or ""
    if not lead_id:
        return None
    lead = get_visible_lead(request.user, lead_id) if str(lead_id).isdigit() else None
    if lead is None:
        raise Http404(_("No such lead."))
    return lead


@login_required
@require_GET
@xframe_options_sameorigin
@csp_update({"style-src": ["'unsafe-inline'"], "frame-ancestors": ["'self'"], "img-src": ["*"]})
def preview(request, pk: int):
    """The rendered HTML of one version for a real lead (or sample data), shown in a sandboxed frame."""
    _editor_or_403(request.user)
    version = get_object_or_404(TemplateVersion, template_id=pk, language=request.GET.get("language", "")[:8])
    lead = _preview_lead(request)
    rendered = rendering.render(
        subject=version.subject, preheader=version.preheader, body=version.body,
        context=selectors.preview_context(lead, request.user), language=version.language,
    )
    return HttpResponse(rendered.html)


@login_required
@require_POST
def test_send(request, pk: int):
    """Send the version to oneself (never to the lead), with the chosen lead's merge data."""
    _editor_or_403(request.user)
    version = get_object_or_404(TemplateVersion, template_id=pk, language=request.POST.get("language", "")[:8])
    lead = _preview_lead(request)
    if not request.user.email:
        flash.error(request, _("Your account has no e-mail address."))
    else:
        services.test_send(version=version, lead=lead, by=request.user)
        flash.success(request, _("Test e-mail sent to %(email)s.") % {"email": request.user.email})
    return redirect(reverse("engagement:template", args=[pk]) + f"?language={version.language}")


@login_required
@require_POST
def enrol(request, lead_id: int):
    lead = get_visible_lead(request.user, lead_id)
    if lead is None:
        raise Http404(_("No such lead."))
    programme = Programme.objects.filter(slug=request.POST.get("programme", "")[:60]).first()
    if programme is None:
        flash.error(request, _("Programme: choose a programme."))
    else:
        try:
            services.enrol(programme=programme, lead_id=lead.pk, by=request.user)
        except Conflict as conflict:
            flash.error(request, _("Not enrolled: %(why)s.") % {"why": conflict.message})
        except NotPermitted as refused:
            raise PermissionDenied(refused.message) from None
        else:
            flash.success(request, _("Enrolled in %(name)s.") % {"name": programme.name})
    return redirect("leads:detail", lead_id=lead.pk)


@login_required
@require_POST
def end_enrolment(request, lead_id: int, pk: int):
    lead = get_visible_lead(request.user, lead_id)
    if lead is None or not lead.enrolments.filter(pk=pk).exists():
        raise Http404(_("No such enrolment."))
    try:
        services.exit_by_hand(enrolment_id=pk, by=request.user)
    except NotPermitted as refused:
        raise PermissionDenied(refused.message) from None
    return redirect("leads:detail", lead_id=lead.pk)


@login_required
@require_POST
def task_done(request, pk: int):
    if not services.complete_task(task_id=pk, by=request.user):
        raise Http404(_("No such task."))
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if safe and target else "leads:queue")


# --- public: what a recipient's mail client reaches ------------------------------------------------------------


@require_GET
def click(request, token: str):
    """A tracked link: only to the URL the template contained (it is inside the signed token)."""
    data = sending.read_token(token, salt=sending.TRACK_SALT)
    url = data.get("u") if data else None
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise Http404(_("Unknown link."))
    if not _limited(request, "track"):
        tracking.record(message_id=data["m"], kind=TrackingEvent.Kind.CLICKED, url=url)
    return HttpResponseRedirect(url)


@require_GET
def pixel(request, token: str):
    data = sending.read_token(token, salt=sending.TRACK_SALT)
    if data and not _limited(request, "track"):
        tracking.record(message_id=data["m"], kind=TrackingEvent.Kind.OPENED)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    data = sending.read_token(token, salt=sending.UNSUBSCRIBE_SALT)
    message = (
        Message.objects.select_related("enrolment__lead").filter(pk=data["m"]).first() if data else None
    )
    if message is None or message.enrolment.lead.erased_at:
        return render(request, "privacy/refused.html", {"reason": "unknown"}, status=404)
    if _limited(request, "unsubscribe"):
        return HttpResponse(_("Too many requests; please try again in a minute."), status=429)
    if request.method == "GET":  # mail scanners follow links: only a POST unsubscribes
        return render(request, "engagement/unsubscribe.html", {"token": token})
    lead = message.enrolment.lead
    tracking.unsubscribe(
        lead=lead, ip_address=client_ip(request), user_agent=user_agent(request), message_id=message.pk
    )
    token = privacy_consent.unsubscribe_token(lead.pk)
    return render(request, "privacy/done.html", {"unsubscribed": True, "token": token})
