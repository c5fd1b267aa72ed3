"""Bills of materials and stage equipment belong to a protocol version: validated, imported,
exported, hashed only when present, copied to a new version, frozen with it."""

from __future__ import annotations

import copy

import pytest
from django.db import IntegrityError, transaction

from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.protocols import defaults
from protocol_tracker.protocols.definition import (
    DefinitionError,
    canonical_definition,
    definition_hash,
    definition_problems,
)
from protocol_tracker.protocols.models import StageTemplate, TaskTemplate
from protocol_tracker.protocols.selectors import protocol_diff, protocol_export
from protocol_tracker.protocols.services import (
    protocol_import,
    protocol_new_version,
    stage_template_update,
    task_template_update,
)
from tests.builders import simple_protocol_data

pytestmark = pytest.mark.django_db

MEDIUM = {"material": "mtesr-plus", "name": "mTeSR Plus", "quantity": 50, "unit": "mL"}


def _with_bom() -> dict:
    data = simple_protocol_data("bom")
    expand = next(s for s in data["stages"] if s["key"] == "expand")
    expand["materials"] = [dict(MEDIUM), {"material": "Matrigel", "name": "Matrigel"}]
    expand["equipment"] = [{"kind": "incubator"}, {"kind": "biosafety_cabinet"}]
    expand["tasks"][0]["materials"] = [dict(MEDIUM, quantity=10.0)]
    return data


def test_the_canonical_form_fills_defaults_sorts_equipment_and_keeps_the_bill_order():
    stage = next(s for s in canonical_definition(_with_bom())["stages"] if s["key"] == "expand")

    assert stage["materials"] == [
        {
            "material": "mtesr-plus",
            "name": "mTeSR Plus",
            "quantity": 50,
            "unit": "mL",
            "required": True,
        },
        {
            "material": "matrigel",
            "name": "Matrigel",
            "quantity": None,
            "unit": "",
            "required": True,
        },
    ]
    assert stage["equipment"] == [
        {"kind": "biosafety_cabinet", "required": True},
        {"kind": "incubator", "required": True},
    ]
    # 10.0 and 10 are one quantity: they hash alike.
    assert stage["tasks"][0]["materials"][0]["quantity"] == 10


def test_a_protocol_without_a_bill_hashes_as_before():
    data = simple_protocol_data("plain")
    with_empty = copy.deepcopy(data)
    with_empty["stages"][1]["materials"] = []
    with_empty["stages"][1]["equipment"] = []
    with_empty["stages"][1]["tasks"][0]["materials"] = []

    canonical = canonical_definition(with_empty)

    assert "materials" not in str(canonical) and "equipment" not in str(canonical)
    assert definition_hash(canonical) == definition_hash(canonical_definition(data))
    assert definition_hash(canonical_definition(_with_bom())) != definition_hash(canonical)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"material": "Bad Code!", "name": "x"}, "materials[0].material must be a material code"),
        ({"material": "m", "name": " "}, "materials[0].name must not be blank"),
        ({"material": "m", "name": "x", "quantity": 0, "unit": "mL"}, "must be more than zero"),
        ({"material": "m", "name": "x", "quantity": -5, "unit": "mL"}, "must be more than zero"),
        ({"material": "m", "name": "x", "quantity": float("nan"), "unit": "mL"}, "finite"),
        ({"material": "m", "name": "x", "quantity": 5, "unit": "furlongs"}, "unknown unit"),
        ({"material": "m", "name": "x", "quantity": 5, "unit": "ml"}, "write it as 'mL'"),
        ({"material": "m", "name": "x", "unit": "mL"}, "required when a unit is given"),
        ({"material": "m", "name": "x", "required": "yes"}, "must be true or false"),
    ],
)
def test_bad_bill_lines_are_named(line, problem):
    data = simple_protocol_data("bad")
    data["stages"][1]["materials"] = [line]

    problems = definition_problems(canonical_definition(data))

    assert any(problem in p and p.startswith("stage 'expand'") for p in problems), problems


def test_unknown_keys_twice_listed_and_unknown_equipment_are_refused():
    data = simple_protocol_data("bad")
    data["stages"][1]["materials"] = [{"material": "m", "name": "x", "lot": "L1"}]
    with pytest.raises(DefinitionError) as exc:
        canonical_definition(data)
    assert exc.value.fields == {"stages[1].materials[0].lot": ["unknown key"]}

    data["stages"][1]["materials"] = [{"material": "m", "name": "x"}] * 2
    data["stages"][1]["equipment"] = [{"kind": "teleporter"}]
    problems = definition_problems(canonical_definition(data))
    assert "stage 'expand': materials[1].material 'm' is listed more than once" in problems
    assert any(p.startswith("stage 'expand': equipment[0].kind must be one of:") for p in problems)


def test_an_invalid_bill_is_not_imported(lab):
    data = simple_protocol_data("refused")
    data["stages"][1]["tasks"][0]["materials"] = [
        {"material": "m", "name": "x", "quantity": -1, "unit": "mL"}
    ]

    with pytest.raises(ValidationFailed):
        protocol_import(lab=lab, definition=data)

    assert not StageTemplate.objects.filter(protocol__code="refused").exists()


def test_bills_are_kept_exported_copied_and_frozen(lab, lab_admin):
    protocol = protocol_import(lab=lab, definition=_with_bom())
    stage = StageTemplate.objects.get(protocol=protocol, key="expand")
    assert [line["material"] for line in stage.materials] == ["mtesr-plus", "matrigel"]
    assert [line["kind"] for line in stage.equipment] == ["biosafety_cabinet", "incubator"]
    assert stage.tasks.get().materials[0]["quantity"] == 10
    assert canonical_definition(protocol_export(protocol=protocol)) == canonical_definition(
        _with_bom()
    )
    assert protocol.definition_hash == definition_hash(canonical_definition(_with_bom()))

    # Frozen with the version: the database refuses a changed bill of a published protocol.
    with pytest.raises(IntegrityError), transaction.atomic():
        StageTemplate.objects.filter(pk=stage.pk).update(materials=[])

    draft = protocol_new_version(protocol=protocol, actor=lab_admin)
    copied = StageTemplate.objects.get(protocol=draft, key="expand")
    assert copied.materials == stage.materials and copied.equipment == stage.equipment

    # The designer edits a draft's bill; the change shows in the diff of the versions.
    stage_template_update(
        stage=copied, actor=lab_admin, materials=[{"material": "essential-8", "name": "E8"}]
    )
    task_template_update(task=TaskTemplate.objects.get(stage=copied), actor=lab_admin, materials=[])
    diff = protocol_diff(old=protocol, new=draft)
    changed = {row["key"]: row["fields"] for row in diff["stages"]["changed"]}
    assert changed["expand"]["materials"]["new"] == [
        {"material": "essential-8", "name": "E8", "quantity": None, "unit": "", "required": True}
    ]
    assert diff["tasks"]["changed"][0]["fields"]["materials"]["new"] is None


def test_the_designer_refuses_a_bad_bill_and_writes_nothing(lab, lab_admin):
    draft = protocol_import(lab=lab, definition=_with_bom(), publish=False)
    stage = StageTemplate.objects.get(protocol=draft, key="expand")

    with pytest.raises(ValidationFailed) as exc:
        stage_template_update(stage=stage, actor=lab_admin, equipment=[{"kind": "teleporter"}])

    assert "equipment[0].kind" in exc.value.fields
    stage.refresh_from_db()
    assert [line["kind"] for line in stage.equipment] == ["biosafety_cabinet", "incubator"]


def test_the_default_protocols_declare_their_materials_and_equipment():
    by_key = {(p["code"], s["key"]): s for p in defaults.PROTOCOLS for s in p["stages"]}
    isolation = by_key[("e-islet-autologous", "pbmc_isolation")]
    assert [m["material"] for m in isolation["materials"]] == ["ficoll", "cryopreservation-medium"]
    assert [m["required"] for m in isolation["materials"]] == [True, False]
    assert [e["kind"] for e in isolation["equipment"]] == ["biosafety_cabinet", "centrifuge"]
    s4 = by_key[("sc-beta-stepwise", "s4_pancreatic_progenitor")]
    assert [m["material"] for m in s4["materials"]] == [
        "differentiation-medium",
        "kgf",
        "sant1",
        "tppb",
        "ldn193189",
        "retinoic-acid",
    ]
    feeds = by_key[("e-islet-autologous", "reprogramming")]["tasks"]
    assert [t["materials"][0]["material"] for t in feeds if t["key"] == "media_change"] == [
        "ipsc-medium"
    ]
    # Every line carries its Chinese name.
    lines = [m for s in by_key.values() for m in s.get("materials", [])]
    assert lines and all(m["i18n"]["zh-hans"]["name"] for m in lines)
    for p in defaults.PROTOCOLS:
        assert definition_problems(canonical_definition(p)) == []
