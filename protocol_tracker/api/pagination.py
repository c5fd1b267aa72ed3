"""Cursor pagination: stable pages under inserts, and no ``COUNT(*)`` on every list."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination

_MAX_ID = 2**63 - 1


class IdCursorPagination(CursorPagination):
    """Pages ordered by id (newest first by default); ``?page_size=`` up to 200."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    invalid_cursor_message = _("Invalid cursor: use the next/previous links as given.")

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except Exception:
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from None
        if cursor is not None and cursor.position is not None:
            position = cursor.position
            if not (position.isascii() and position.isdigit()) or int(position) > _MAX_ID:
                raise ValidationError({"cursor": [self.invalid_cursor_message]})
        return cursor

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (
            raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size
        ):
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        _("Must be a whole number from 1 to %(max)d.") % {"max": self.max_page_size}
                    ]
                }
            )
        return super().get_page_size(request)


class AscendingIdCursorPagination(IdCursorPagination):
    """Oldest first: for timelines (stage runs, bench tasks, the audit trail)."""

    ordering = "id"
