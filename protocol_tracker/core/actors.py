"""Who acts: a person (a Django user) or an instrument posting through the API.

Services take ``actor: Actor``. The alias is for type checkers only; at run time services tell
the two apart with ``isinstance(actor, Instrument)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from labs.models import Instrument

# String aliases: real at run time without importing the models, resolved by type checkers.
Person: TypeAlias = "User"
Actor: TypeAlias = "User | Instrument"

__all__ = ["Actor", "Person"]
