"""The API docs pages (Swagger UI, Redoc), served from our own static files with our CSP.

drf-spectacular's stock templates load Google Fonts (Redoc) and inline scripts and styles; these
templates load only our own static files. Both UIs inject styles at run time, so their pages
allow inline styles (and Redoc its blob: web worker) and nothing else beyond the site policy.
"""

from __future__ import annotations

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

_UI_STYLES = {"style-src": ["'unsafe-inline'"], "img-src": ["data:"]}


@method_decorator(csp_update(_UI_STYLES), name="dispatch")
class SwaggerView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"


@method_decorator(csp_update({**_UI_STYLES, "worker-src": ["'self'", "blob:"]}), name="dispatch")
class RedocView(SpectacularRedocView):
    template_name = "api/redoc.html"
