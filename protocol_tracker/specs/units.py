"""Explicit unit registry and conversions for QC results and clinical endpoints.

This is a small, hand-written table rather than a general units library (no pint): every
unit the tracker accepts is listed below, with its dimension and its factor to the
dimension's base unit. Anything not listed is refused with :class:`UnitError`.

Arithmetic choice: conversions are done in exact rational arithmetic
(:class:`fractions.Fraction`). A float input is read through its shortest decimal ``repr``
(``0.3`` is taken as exactly 3/10, which is what the operator typed), every factor is an
exact rational, and the result is rounded to a float once at the end. :func:`convert_exact`
returns the unrounded ``Fraction`` so that spec checks (see ``specs.py``) can compare exactly,
with no tolerance: 5,000,000 cells/mL equals a limit of 5 x 10^6 cells/mL exactly, and
4,999,999 cells/mL is below it.

Canonical spellings are ASCII ("uL", not "µL"); "µ" and "μ" are accepted on input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

__all__ = [
    "DIMENSIONLESS",
    "KNOWN_UNITS",
    "UNITS",
    "Unit",
    "UnitError",
    "can_convert",
    "convert",
    "convert_exact",
    "dimension_of",
    "is_known_unit",
    "normalize_analyte",
    "normalize_unit",
    "to_fraction",
]


class UnitError(ValueError):
    """An unknown unit, or a conversion between units that cannot be converted."""


# --- dimensions -----------------------------------------------------------------------------

CELL_CONCENTRATION = "cell_concentration"  # base: cells/mL
CELL_COUNT = "cell_count"  # base: cells
CELLS_PER_KG = "cells_per_kg"  # base: cells/kg
CELLS_PER_AREA = "cells_per_area"  # base: cells/cm2
PERCENT = "percent"  # base: %
DIMENSIONLESS = "dimensionless"  # base: "" (ratios such as the GSIS stimulation index)
COUNT = "count"  # base: count (a plain tally, e.g. colonies)
ENDOTOXIN_CONCENTRATION = "endotoxin_concentration"  # base: EU/mL
ENDOTOXIN_DOSE = "endotoxin_dose"  # base: EU/kg (per kg recipient body weight)
MOLAR_CONCENTRATION = "molar_concentration"  # base: pmol/L
MASS_CONCENTRATION = "mass_concentration"  # base: ng/mL
MOLAR_RATIO = "molar_ratio"  # base: mmol/mol (HbA1c IFCC)
ISLET_EQUIVALENTS = "islet_equivalents"  # base: IEQ
IEQ_PER_KG = "ieq_per_kg"  # base: IEQ/kg
IEQ_PER_VOLUME = "ieq_per_volume"  # base: IEQ/mL
VOLUME = "volume"  # base: mL
TIME = "time"  # base: s
PASSAGES = "passages"  # base: passages
METAPHASES = "metaphases"  # base: metaphases
COPY_CONCENTRATION = "copy_concentration"  # base: copies/uL (ddPCR)
MASS_PER_DNA = "mass_per_dna"  # base: ng/ug DNA (insulin content)
TEMPERATURE = "temperature"  # base: °C (no other scale is accepted)
INSULIN_DOSE_PER_KG = "insulin_dose_per_kg"  # base: U/kg/day


@dataclass(frozen=True, slots=True)
class Unit:
    """A canonical unit: ``value_in_base = value * factor``."""

    name: str
    dimension: str
    factor: Fraction
    aliases: tuple[str, ...] = ()


def _u(name: str, dimension: str, factor: int | Fraction = 1, *aliases: str) -> Unit:
    return Unit(name, dimension, Fraction(factor), aliases)


_UNIT_TABLE: tuple[Unit, ...] = (
    # Cells per volume.
    _u("cells/mL", CELL_CONCENTRATION, 1, "cell/mL", "cells per mL"),
    _u("cells/uL", CELL_CONCENTRATION, 1_000, "cell/uL"),
    _u("10^3 cells/mL", CELL_CONCENTRATION, 10**3),
    _u("10^6 cells/mL", CELL_CONCENTRATION, 10**6),
    # Cell numbers and doses.
    _u("cells", CELL_COUNT, 1, "cell"),
    _u("10^3 cells", CELL_COUNT, 10**3),
    _u("10^6 cells", CELL_COUNT, 10**6),
    _u("10^9 cells", CELL_COUNT, 10**9),
    _u("cells/kg", CELLS_PER_KG, 1),
    _u("10^6 cells/kg", CELLS_PER_KG, 10**6),
    _u("cells/cm2", CELLS_PER_AREA, 1, "cells/cm²", "cells/cm^2"),
    # Fractions and ratios. "% NGSP" is HbA1c in DCCT/NGSP units; numerically a percent.
    _u("%", PERCENT, 1, "percent", "pct"),
    _u("% NGSP", PERCENT, 1, "%NGSP", "% (NGSP)", "NGSP %", "% DCCT", "%DCCT"),
    _u("", DIMENSIONLESS, 1, "dimensionless", "unitless"),
    _u("SI", DIMENSIONLESS, 1, "stimulation index"),
    _u("ratio", DIMENSIONLESS, 1, "fold"),
    _u("count", COUNT, 1, "counts", "#"),
    # Endotoxin (LAL).
    _u("EU/mL", ENDOTOXIN_CONCENTRATION, 1),
    _u("EU/kg", ENDOTOXIN_DOSE, 1),
    # Molar concentrations (C-peptide, glucose). "mM"-style shorthands are case-sensitive
    # (see _CASE_SENSITIVE_ALIASES) so that "mm" (millimetre) or "nm" are not misread.
    _u("pmol/L", MOLAR_CONCENTRATION, 1),
    _u("nmol/L", MOLAR_CONCENTRATION, 10**3),
    _u("umol/L", MOLAR_CONCENTRATION, 10**6),
    _u("mmol/L", MOLAR_CONCENTRATION, 10**9),
    # Mass concentrations.
    _u("pg/mL", MASS_CONCENTRATION, Fraction(1, 1_000)),
    _u("ng/mL", MASS_CONCENTRATION, 1),
    _u("ug/mL", MASS_CONCENTRATION, 1_000),
    _u("mg/dL", MASS_CONCENTRATION, 10_000),  # 1 mg/dL = 10^6 ng / 100 mL
    # HbA1c, IFCC units.
    _u("mmol/mol", MOLAR_RATIO, 1, "mmol/mol IFCC", "mmol/mol (IFCC)"),
    # Islet equivalents.
    _u("IEQ", ISLET_EQUIVALENTS, 1, "IEQs", "IE"),
    _u("10^3 IEQ", ISLET_EQUIVALENTS, 10**3),
    _u("10^6 IEQ", ISLET_EQUIVALENTS, 10**6),
    _u("IEQ/kg", IEQ_PER_KG, 1, "IE/kg"),
    _u("10^3 IEQ/kg", IEQ_PER_KG, 10**3),
    _u("IEQ/mL", IEQ_PER_VOLUME, 1, "IE/mL"),
    # Volume.
    _u("uL", VOLUME, Fraction(1, 1_000), "microlitre", "microliter"),
    _u("mL", VOLUME, 1, "millilitre", "milliliter", "cc"),
    _u("L", VOLUME, 1_000, "litre", "liter"),
    # Time.
    _u("s", TIME, 1, "sec", "second", "seconds"),
    _u("min", TIME, 60, "mins", "minute", "minutes"),
    _u("h", TIME, 3_600, "hr", "hrs", "hour", "hours"),
    _u("d", TIME, 86_400, "day", "days"),
    _u("wk", TIME, 7 * 86_400, "week", "weeks"),
    # Culture and cytogenetics tallies.
    _u("passages", PASSAGES, 1, "passage"),
    _u("metaphases", METAPHASES, 1, "metaphase"),
    # ddPCR and insulin content.
    _u("copies/uL", COPY_CONCENTRATION, 1, "copy/uL", "cp/uL"),
    _u("copies/mL", COPY_CONCENTRATION, Fraction(1, 1_000), "copy/mL", "cp/mL"),
    _u("ng/ug DNA", MASS_PER_DNA, 1, "ng/ugDNA", "ng insulin/ug DNA"),
    # Temperature (only Celsius; conversion to other scales is affine and not needed).
    _u("°C", TEMPERATURE, 1, "degC", "deg C", "° C", "℃", "celsius"),
    # Daily insulin dose.
    _u("U/kg/day", INSULIN_DOSE_PER_KG, 1, "U/kg/d", "IU/kg/day", "IU/kg/d", "units/kg/day"),
)

# --- follow-up units (clinical outcomes: issue 13) --------------------------------------------
# Body weight, eGFR, insulin activity and the SI spellings of drug troughs. Each factor is exact
# and its source is named; the analyte-specific conversions are below (_CLINICAL_* tables).
BODY_MASS = "body_mass"  # base: kg
GFR = "gfr"  # base: mL/min/1.73 m2 (eGFR, normalised to body surface area)
INSULIN_ACTIVITY = "insulin_activity"  # base: uIU/mL (immunoassay insulin)

_FOLLOW_UP_UNITS: tuple[Unit, ...] = (
    # The pound is defined as exactly 0.45359237 kg (international yard and pound, 1959).
    _u("kg", BODY_MASS, 1, "kilogram", "kilograms"),
    _u("g", BODY_MASS, Fraction(1, 1_000), "gram", "grams"),
    _u("lb", BODY_MASS, Fraction("0.45359237"), "lbs", "pound", "pounds"),
    # eGFR: KDIGO 2012 CKD guideline reports mL/min/1.73 m2; SI reports use mL/s/1.73 m2
    # (1 mL/s = 60 mL/min, exact).
    _u(
        "mL/min/1.73 m2",
        GFR,
        1,
        "mL/min/1.73m2",
        "mL/min/1.73 m²",
        "mL/min/1.73m²",
        "mL/min/1.73 m^2",
        "mL/min per 1.73 m2",
    ),
    _u("mL/s/1.73 m2", GFR, 60, "mL/s/1.73m2", "mL/s/1.73 m²", "mL/s/1.73m²"),
    # Insulin by immunoassay: micro-international units per mL (= mU/L).
    _u("uIU/mL", INSULIN_ACTIVITY, 1, "uU/mL", "mIU/L", "mU/L"),
    # Drug troughs (tacrolimus, sirolimus, ciclosporin) are ng/mL, which is the same as ug/L.
    _u("ug/L", MASS_CONCENTRATION, 1, "mcg/L"),
)

_UNIT_TABLE = (*_UNIT_TABLE, *_FOLLOW_UP_UNITS)

UNITS: MappingProxyType[str, Unit] = MappingProxyType({u.name: u for u in _UNIT_TABLE})
KNOWN_UNITS: frozenset[str] = frozenset(UNITS)

# Shorthands whose meaning depends on case ("mM" millimolar vs "mm" millimetre).
_CASE_SENSITIVE_ALIASES: dict[str, str] = {
    "pM": "pmol/L",
    "nM": "nmol/L",
    "uM": "umol/L",
    "mM": "mmol/L",
}

_SPACES_RE = re.compile(r"\s+")
_SLASH_RE = re.compile(r"\s*/\s*")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
# A leading power-of-ten multiplier: "10^6", "x10^6", "× 10^6", "10**6", "1e6", "1E+06",
# "10⁶", "million". A bare "10e6" is refused: in float syntax it means 10 x 10^6.
_MULTIPLIER_RE = re.compile(
    r"""^(?:[x×*]\s*)?
        (?:10\s*(?:\^|\*\*)\s*\+?(?P<caret>\d+)
          |10(?P<sup>[⁰¹²³⁴⁵⁶⁷⁸⁹]+)
          |1(?:\.0*)?[eE]\+?(?P<e>\d+)
          |(?P<word>thousand|million|billion))
        \s*(?P<rest>.*)$""",
    re.VERBOSE | re.IGNORECASE,
)
_WORD_EXPONENTS = {"thousand": 3, "million": 6, "billion": 9}


def _key(text: str) -> str:
    """Whitespace- and micro-sign-insensitive lookup key (case preserved)."""
    text = text.replace("µ", "u").replace("μ", "u")
    text = _SPACES_RE.sub(" ", text.strip())
    return _SLASH_RE.sub("/", text)


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for unit in _UNIT_TABLE:
        for spelling in (unit.name, *unit.aliases):
            folded = _key(spelling).casefold()
            previous = lookup.setdefault(folded, unit.name)
            if previous != unit.name:  # pragma: no cover - guards the table itself
                raise RuntimeError(f"unit spelling {spelling!r} is ambiguous")
    return lookup


_LOOKUP: dict[str, str] = _build_lookup()


def _lookup(key: str) -> str | None:
    if key in _CASE_SENSITIVE_ALIASES:
        return _CASE_SENSITIVE_ALIASES[key]
    return _LOOKUP.get(key.casefold())


def normalize_unit(unit: str) -> str:
    """Return the canonical spelling of ``unit``; raise :class:`UnitError` if unknown."""
    if not isinstance(unit, str):
        raise UnitError(f"unit must be a string, got {type(unit).__name__}")
    key = _key(unit)
    found = _lookup(key)
    if found is not None:
        return found
    match = _MULTIPLIER_RE.match(key)
    if match is not None:
        if match["word"]:
            exponent = _WORD_EXPONENTS[match["word"]]
        else:
            digits = match["caret"] or match["e"] or match["sup"].translate(_SUPERSCRIPTS)
            exponent = int(digits)
        rest = _lookup(match["rest"]) if match["rest"] else None
        if rest is not None:
            candidate = rest if exponent == 0 else f"10^{exponent} {rest}"
            if candidate in UNITS:
                return candidate
    raise UnitError(f"unknown unit '{unit}'")


def is_known_unit(unit: str) -> bool:
    """True if ``unit`` is a canonical unit or an accepted alias of one."""
    try:
        normalize_unit(unit)
    except UnitError:
        return False
    return True


def dimension_of(unit: str) -> str:
    """The dimension name of ``unit`` (e.g. ``"cell_concentration"``)."""
    return UNITS[normalize_unit(unit)].dimension


_ANALYTE_ALIASES = {"cpeptide": "c_peptide", "a1c": "hba1c", "hb_a1c": "hba1c"}


def normalize_analyte(analyte: str | None) -> str | None:
    """Canonical analyte key: ``"C-peptide"`` -> ``"c_peptide"``, ``"HbA1c"`` -> ``"hba1c"``."""
    if analyte is None:
        return None
    key = re.sub(r"[\s\-]+", "_", analyte.strip().casefold())
    return _ANALYTE_ALIASES.get(key, key)


# --- analyte-specific conversions ----------------------------------------------------------
# Source: docs/domain-reference.md §2, "Endpoint units the tracker must handle". The
# reference tags these GK (general domain knowledge, not checked against a retrieved source).
#
# Mass <-> molar concentration, as pmol/L per ng/mL (the two dimensions' base units):
# - C-peptide: 1 ng/mL ≈ 331 pmol/L (molar mass ≈ 3020 g/mol).
# - Glucose: mmol/L = mg/dL ÷ 18 (the clinical convention; molar mass 180.16 g/mol). With
#   1 ng/mL = 10^-4 mg/dL, that is 10^-4 / 18 mmol/L = 10^5 / 18 pmol/L.
_MASS_TO_MOLAR: dict[str, Fraction] = {
    "c_peptide": Fraction(331),
    "glucose": Fraction(100_000, 18),
}
# Follow-up analytes (issue 13), as pmol/L per ng/mL = 10^6 / molar mass (g/mol):
# - Creatinine: 1 mg/dL = 88.4 umol/L, the factor clinical laboratories and the KDIGO 2012 CKD
#   guideline use (molar mass 113.12 g/mol gives 88.40); 88.4 umol/L per mg/dL is 8840 pmol/L
#   per ng/mL.
# - Tacrolimus: molar mass 804.02 g/mol (C44H69NO12; PubChem CID 445643); 1 ng/mL = 1.2437 nmol/L.
_MASS_TO_MOLAR.update(
    {
        "creatinine": Fraction(8_840),
        "tacrolimus": Fraction(10**8, 80_402),
    }
)
# Insulin activity <-> molar: 1 uIU/mL = 6.00 pmol/L (Knopp JL et al., "Insulin Units and
# Conversion Factors", J Diabetes Sci Technol 2019;13:597-600: the factor that follows from the
# WHO 1st International Standard for insulin 83/500; the older 6.945 is not used).
_ACTIVITY_TO_MOLAR: dict[str, Fraction] = {"insulin": Fraction(6)}
# HbA1c: IFCC (mmol/mol) = (NGSP % − 2.15) × 10.929 (NGSP/IFCC master equation). The reverse
# direction uses the exact algebraic inverse, so round trips are consistent.
_HBA1C_OFFSET = Fraction("2.15")
_HBA1C_SLOPE = Fraction("10.929")


def to_fraction(value: float | int | Decimal | Fraction) -> Fraction:
    """Exact rational for ``value``; a float is read through its shortest decimal repr."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"value must be a finite number, got {value!r}")
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"value must be a finite number, got {value}")
        return Fraction(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _analyte_hint(from_dim: str, to_dim: str) -> str | None:
    dims = {from_dim, to_dim}
    if dims == {MASS_CONCENTRATION, MOLAR_CONCENTRATION}:
        names = " or ".join(f"'{a}'" for a in sorted(_MASS_TO_MOLAR))
        return f"mass↔molar conversion depends on the analyte ({names})"
    if dims == {PERCENT, MOLAR_RATIO}:
        return "% ↔ mmol/mol is only defined for HbA1c (analyte 'hba1c')"
    if dims == {INSULIN_ACTIVITY, MOLAR_CONCENTRATION}:
        return "uIU/mL ↔ pmol/L is only defined for insulin (analyte 'insulin')"
    return None


def convert_exact(
    value: float | int | Decimal | Fraction,
    from_unit: str,
    to_unit: str,
    *,
    analyte: str | None = None,
) -> Fraction:
    """Convert ``value`` exactly; see :func:`convert`."""
    source = UNITS[normalize_unit(from_unit)]
    target = UNITS[normalize_unit(to_unit)]
    exact = to_fraction(value)
    if source.dimension == target.dimension:
        return exact * source.factor / target.factor

    hint = _analyte_hint(source.dimension, target.dimension)
    if hint is None:
        raise UnitError(f"cannot convert '{source.name}' to '{target.name}'")
    key = normalize_analyte(analyte)
    if key is None:
        raise UnitError(
            f"cannot convert '{source.name}' to '{target.name}' without an analyte: {hint}"
        )

    base = exact * source.factor
    if key in _MASS_TO_MOLAR and {source.dimension, target.dimension} == {
        MASS_CONCENTRATION,
        MOLAR_CONCENTRATION,
    }:
        ratio = _MASS_TO_MOLAR[key]
        base = base * ratio if source.dimension == MASS_CONCENTRATION else base / ratio
        return base / target.factor
    if key in _ACTIVITY_TO_MOLAR and {source.dimension, target.dimension} == {
        INSULIN_ACTIVITY,
        MOLAR_CONCENTRATION,
    }:
        ratio = _ACTIVITY_TO_MOLAR[key]
        base = base * ratio if source.dimension == INSULIN_ACTIVITY else base / ratio
        return base / target.factor
    if key == "hba1c" and source.dimension == PERCENT:
        return (base - _HBA1C_OFFSET) * _HBA1C_SLOPE / target.factor
    if key == "hba1c" and source.dimension == MOLAR_RATIO:
        return (base / _HBA1C_SLOPE + _HBA1C_OFFSET) / target.factor
    raise UnitError(
        f"cannot convert '{source.name}' to '{target.name}' for analyte '{analyte}': {hint}"
    )


def convert(
    value: float | int | Decimal | Fraction,
    from_unit: str,
    to_unit: str,
    *,
    analyte: str | None = None,
) -> float:
    """Convert ``value`` from ``from_unit`` to ``to_unit``.

    Units must share a dimension, except the analyte-specific conversions (C-peptide and
    glucose mass↔molar, HbA1c % NGSP↔mmol/mol). Raises :class:`UnitError` otherwise, and
    ``ValueError`` for NaN or infinite values.
    """
    return float(convert_exact(value, from_unit, to_unit, analyte=analyte))


def can_convert(from_unit: str, to_unit: str, *, analyte: str | None = None) -> bool:
    """True if :func:`convert` would accept this pair of units (and analyte)."""
    try:
        convert_exact(1, from_unit, to_unit, analyte=analyte)
    except UnitError:
        return False
    return True
