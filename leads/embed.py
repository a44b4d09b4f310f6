"""The embed snippet of a capture form: one generator for the admin and the hosted form's staff view.

Built from the address the app is served at (`core.http.site_url`: SITE_URL when set, else the request's
own host). The iframe carries `data-leadwerk-form`: that is how `static/leads/track.js` finds the form and
hands it the visitor id, so the page views before the form join the lead. The script's URL is the
unhashed static path, so a pasted snippet keeps working across deploys.
"""

from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from core.http import site_url

TRACKER = "leads/track.js"


def snippet(capture_form, *, request=None) -> str:
    """The HTML to paste into a page of one of the form's allowed origins (escaped where it must be)."""
    base = site_url(request)
    static = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else f"/{settings.STATIC_URL}"
    return format_html(
        '<iframe src="{base}{form}?embed=1" data-leadwerk-form title="{title}" '
        'style="width:100%;min-height:640px;border:0"></iframe>\n'
        '<script src="{base}{static}{tracker}" data-form-key="{key}" data-endpoint="{base}" async></script>',
        base=base, form=reverse("capture:hosted_form", args=[capture_form.key]),
        title=capture_form.title or capture_form.name, static=static, tracker=TRACKER, key=capture_form.key,
    )


def display(html: str) -> SafeString:
    """The snippet as text inside <pre>/<code>: its markup shown, not run."""
    return mark_safe(str(html).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))  # noqa: S308
