"""Translations belong to a protocol version: imported, exported, hashed, copied, frozen."""

from __future__ import annotations

import copy

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.protocols.definition import canonical_definition, definition_hash
from protocol_tracker.protocols.models import CheckpointTemplate, StageTemplate, localized
from protocol_tracker.protocols.selectors import protocol_export
from protocol_tracker.protocols.services import protocol_import, protocol_new_version
from tests.builders import simple_protocol_data

pytestmark = pytest.mark.django_db

ZH_STAGE = {"zh-hans": {"name": "扩增", "description": "每日换液"}}
ZH_CHECKPOINT = {"zh-hans": {"name": "活率"}}
ZH_TASK = {"zh-hans": {"name": "换液"}}


def _translated() -> dict:
    data = simple_protocol_data("translated")
    expand = next(s for s in data["stages"] if s["key"] == "expand")
    expand["i18n"] = ZH_STAGE
    expand["checkpoints"][0]["i18n"] = ZH_CHECKPOINT
    expand["tasks"][0]["i18n"] = ZH_TASK
    return data


def test_translations_are_kept_exported_and_part_of_the_version(lab, lab_admin):
    protocol = protocol_import(lab=lab, definition=_translated())

    stage = StageTemplate.objects.get(protocol=protocol, key="expand")
    checkpoint = CheckpointTemplate.objects.filter(stage=stage).order_by("order").first()
    assert stage.i18n == ZH_STAGE and checkpoint.i18n == ZH_CHECKPOINT
    assert stage.tasks.get().i18n == ZH_TASK
    exported = protocol_export(protocol=protocol)
    assert canonical_definition(exported) == canonical_definition(_translated())
    assert protocol.definition_hash == definition_hash(canonical_definition(_translated()))
    # The same protocol without its translations is another version's content.
    assert protocol.definition_hash != definition_hash(
        canonical_definition(simple_protocol_data("translated"))
    )

    draft = protocol_new_version(protocol=protocol, actor=lab_admin)
    assert StageTemplate.objects.get(protocol=draft, key="expand").i18n == ZH_STAGE


def test_a_protocol_without_translations_hashes_as_before():
    data = simple_protocol_data("plain")
    assert "i18n" not in str(canonical_definition(data))
    with_empty = copy.deepcopy(data)
    with_empty["stages"][0]["i18n"] = {}
    assert definition_hash(canonical_definition(with_empty)) == definition_hash(
        canonical_definition(data)
    )


def test_localized_text_follows_the_active_language(lab):
    protocol = protocol_import(lab=lab, definition=_translated())
    stage = StageTemplate.objects.get(protocol=protocol, key="expand")
    collect = StageTemplate.objects.get(protocol=protocol, key="collect")

    with translation.override("zh-hans"):
        assert (localized(stage, "name"), localized(stage, "description")) == ("扩增", "每日换液")
        assert localized(collect, "name") == collect.name  # no translation: the version's text
    with translation.override("en"):
        assert localized(stage, "name") == stage.name


@pytest.mark.parametrize(
    ("i18n", "path"),
    [
        ({"fr": {"name": "x"}}, "stages[1].i18n.fr"),
        ({"zh-hans": {"title": "x"}}, "stages[1].i18n.zh-hans.title"),
        ({"zh-hans": {"name": 3}}, "stages[1].i18n.zh-hans.name"),
        ("中文", "stages[1].i18n"),
    ],
)
def test_a_malformed_translation_is_refused_by_path(lab, i18n, path):
    data = simple_protocol_data("bad")
    data["stages"][1]["i18n"] = i18n

    with pytest.raises(ValidationFailed) as refused:
        protocol_import(lab=lab, definition=data)

    assert path in str(refused.value.fields)


def test_a_published_versions_translations_are_frozen_in_the_database(lab):
    protocol = protocol_import(lab=lab, definition=_translated())

    with pytest.raises(IntegrityError, match="frozen"), transaction.atomic():
        StageTemplate.objects.filter(protocol=protocol).update(i18n={"zh-hans": {"name": "改"}})
