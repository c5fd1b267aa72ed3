"""Stock quantities of materials: the units a lot is counted in, and exact conversions.

A small explicit table, as :mod:`.units` is for results: volume (uL, mL, L), mass (ng, ug, mg,
g) and counted stock (each, kit, test), which converts only to itself (a kit is not a number of
tests). Anything else is refused with :class:`QuantityError` naming the units accepted.
Quantities are exact decimals: a float is read through its shortest ``repr``; NaN, infinities,
zero and negatives are refused, and so is anything above :data:`MAX_QUANTITY` of its unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "MAX_QUANTITY",
    "STOCK_UNITS",
    "QuantityError",
    "convert_quantity",
    "normalize_stock_unit",
    "parse_quantity",
]

# No stock of anything in a cell-therapy lab reaches a billion of its unit (a billion litres,
# grams or kits): above that a value is a typing error, not a quantity.
MAX_QUANTITY = Decimal(10) ** 9
# Six decimal places: a microlitre of a litre-counted lot, a nanogram of a gram.
QUANTUM = Decimal("0.000001")


class QuantityError(ValueError):
    """An unknown unit, a unit of another dimension, or a value that is not a usable amount."""


@dataclass(frozen=True, slots=True)
class StockUnit:
    name: str
    dimension: str
    factor: Fraction  # to the dimension's base unit
    aliases: tuple[str, ...] = ()


_TABLE = (
    StockUnit("uL", "volume", Fraction(1, 1000), ("µL", "μL", "ul", "microlitre", "microliter")),
    StockUnit("mL", "volume", Fraction(1), ("ml", "millilitre", "milliliter")),
    StockUnit("L", "volume", Fraction(1000), ("l", "litre", "liter")),
    StockUnit("ng", "mass", Fraction(1, 10**6), ("nanogram", "nanograms")),
    StockUnit("ug", "mass", Fraction(1, 1000), ("µg", "μg", "microgram", "micrograms")),
    StockUnit("mg", "mass", Fraction(1), ("milligram", "milligrams")),
    StockUnit("g", "mass", Fraction(1000), ("gram", "grams")),
    StockUnit("each", "each", Fraction(1), ("ea", "pcs", "pc", "piece", "pieces", "unit", "units")),
    StockUnit("kit", "kit", Fraction(1), ("kits",)),
    StockUnit("test", "test", Fraction(1), ("tests", "reaction", "reactions", "rxn")),
)

STOCK_UNITS: dict[str, StockUnit] = {unit.name: unit for unit in _TABLE}
_LOOKUP: dict[str, str] = {}
for _unit in _TABLE:
    for _spelling in (_unit.name, *_unit.aliases):
        _LOOKUP[_spelling] = _unit.name
        _LOOKUP.setdefault(_spelling.lower(), _unit.name)


def normalize_stock_unit(unit: object) -> str:
    """The canonical spelling of ``unit`` (``"µL"`` → ``"uL"``), or QuantityError."""
    if not isinstance(unit, str) or not unit.strip():
        raise QuantityError(f"a unit is required (one of {', '.join(STOCK_UNITS)})")
    text = unit.strip()
    name = _LOOKUP.get(text) or _LOOKUP.get(text.lower())
    if name is None:
        raise QuantityError(f"unknown unit '{text[:20]}' (one of {', '.join(STOCK_UNITS)})")
    return name


def parse_quantity(value: object) -> Decimal:
    """``value`` as a positive, finite decimal of at most six places, or QuantityError."""
    if isinstance(value, bool) or value is None:
        raise QuantityError("must be a number")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise QuantityError("must be a finite number")
            number = Decimal(repr(value))
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            number = Decimal(value.strip().replace(",", ""))
        else:
            raise QuantityError("must be a number")
    except InvalidOperation:
        raise QuantityError("must be a number") from None
    if not number.is_finite():
        raise QuantityError("must be a finite number")
    if number <= 0:
        raise QuantityError("must be more than zero")
    if number > MAX_QUANTITY:
        raise QuantityError(f"must be at most {MAX_QUANTITY:,} of its unit")
    if number != number.quantize(QUANTUM):
        raise QuantityError("has more than six decimal places")
    return number.quantize(QUANTUM)


def convert_quantity(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """``value`` of ``from_unit`` in ``to_unit`` (both canonical or aliases), exactly, rounded to
    six places; QuantityError when the dimensions differ."""
    source = STOCK_UNITS[normalize_stock_unit(from_unit)]
    target = STOCK_UNITS[normalize_stock_unit(to_unit)]
    if source.dimension != target.dimension:
        raise QuantityError(
            f"cannot convert {source.name} to {target.name} ({source.dimension} is not "
            f"{target.dimension})"
        )
    exact = Fraction(value) * source.factor / target.factor
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(QUANTUM)
