"""Labels from plain content: any caller (runs, custody, inventory, materials) builds
:class:`LabelContent` rows and renders them with a template, as a PDF (label-printer roll or an
A4 sheet) or as ZPL for Zebra-type printers. Recording a print is
:func:`protocol_tracker.identity.services.label_print`.

::

    from protocol_tracker.identity.labels import LabelContent, render
    doc = render(template="cryovial", labels=[LabelContent(payload="LOT-42/V-000001-X",
                 title="V-000001-X", lines=("Activin A", "LOT-42", "exp 2026-05-01"))],
                 output="pdf", copies=1)
"""

from protocol_tracker.identity.labels.content import AUTOLOGOUS_BANNER, LabelContent
from protocol_tracker.identity.labels.render import Document, render
from protocol_tracker.identity.labels.templates import TEMPLATES, LabelTemplate, template

__all__ = [
    "AUTOLOGOUS_BANNER",
    "TEMPLATES",
    "Document",
    "LabelContent",
    "LabelTemplate",
    "render",
    "template",
]
