"""The admin: frozen protocols are view-only, saves go through the services, labs are scoped."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.protocols import services
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    ProtocolTemplate,
    StageTemplate,
    TaskTemplate,
)
from tests.builders import H, published_protocol
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_a(client, lab_admin):
    client.force_login(lab_admin)
    return client


@pytest.fixture
def other_lab_admin(other_lab):
    user = UserFactory(username="admin-b", is_staff=True)
    MembershipFactory(user=user, lab=other_lab, role="lab_admin")
    return user


def _url(obj, view="change"):
    return reverse(f"admin:protocols_{obj._meta.model_name}_{view}", args=[obj.pk])


def _counts():
    return (ProtocolTemplate.objects.count(), StageTemplate.objects.count(),
            TaskTemplate.objects.count(), CheckpointTemplate.objects.count(),
            AuditEvent.objects.count())  # fmt: skip


def _stage_form(stage, **changes):
    data = {
        "key": stage.key, "order": stage.order, "name": stage.name, "kind": stage.kind,
        "expected_duration": "48:00:00", "window_early": "06:00:00", "window_late": "12:00:00",
        "reminder_lead": "04:00:00", "description": stage.description, "source": stage.source,
        "depends_on": [d.pk for d in stage.depends_on.all()], "_save": "Save",
    }  # fmt: skip
    data.update(changes)
    return data


def test_frozen_protocol_and_children_are_view_only(admin_client_a, lab):
    protocol = published_protocol(lab, 2)
    stage = StageTemplate.objects.get(protocol=protocol, key="s2")
    objects = [protocol, stage, TaskTemplate.objects.filter(stage=stage).get(),
               CheckpointTemplate.objects.filter(stage=stage).get()]  # fmt: skip
    before = _counts()

    for obj in objects:
        page = admin_client_a.get(_url(obj))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        assert admin_client_a.post(_url(obj), {"name": "Changed", "_save": "Save"}) \
            .status_code == 403  # fmt: skip

    assert admin_client_a.post(_url(stage), _stage_form(stage, name="Changed")).status_code == 403
    assert _counts() == before
    stage.refresh_from_db()
    assert stage.name == "Stage s2"


def test_admin_adds_a_draft_through_the_service(admin_client_a, lab, lab_admin):
    response = admin_client_a.post(
        reverse("admin:protocols_protocoltemplate_add"),
        {"lab": lab.pk, "code": "islet", "name": "Islet", "description": "",
         "stages-TOTAL_FORMS": 0, "stages-INITIAL_FORMS": 0, "_save": "Save"},
    )  # fmt: skip

    assert response.status_code == 302
    protocol = ProtocolTemplate.objects.get()
    assert (protocol.code, protocol.version, protocol.status, protocol.created_by) == (
        "islet", 1, ProtocolStatus.DRAFT, lab_admin)  # fmt: skip
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_user) == ("protocol.draft_created", lab_admin)


def test_admin_edits_a_draft_stage_through_the_service(admin_client_a, lab, lab_admin):
    v1 = published_protocol(lab, 2)
    draft = services.protocol_new_version(protocol=v1, actor=lab_admin)
    stage = StageTemplate.objects.get(protocol=draft, key="s2")

    response = admin_client_a.post(
        _url(stage), _stage_form(stage, name="Renamed", window_late="24:00:00")
    )

    assert response.status_code == 302
    stage.refresh_from_db()
    assert (stage.name, stage.window_late) == ("Renamed", 24 * H)
    event = AuditEvent.objects.get(action="stage_template.updated")
    assert event.actor_user == lab_admin
    assert event.after == {"name": "Renamed", "window_late": "P1DT00H00M00S"}


def test_admin_shows_service_refusals_and_writes_nothing(admin_client_a, lab, lab_admin):
    v1 = published_protocol(lab, 2)
    draft = services.protocol_new_version(protocol=v1, actor=lab_admin)
    s1 = StageTemplate.objects.get(protocol=draft, key="s1")
    s2 = StageTemplate.objects.get(protocol=draft, key="s2")
    before = _counts()

    response = admin_client_a.post(_url(s1), _stage_form(s1, depends_on=[s2.pk]))

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "the stage has invalid fields depends_on: would make a dependency cycle: s1 → s2 → s1"
    ]
    assert _counts() == before
    assert list(s1.depends_on.all()) == []


def test_admin_makes_new_versions_but_never_publishes_or_retires(admin_client_a, lab):
    v1 = published_protocol(lab, 2)
    changelist = reverse("admin:protocols_protocoltemplate_changelist")

    admin_client_a.post(changelist, {"action": "new_version", "_selected_action": [v1.pk]})
    v2 = ProtocolTemplate.objects.get(version=2)
    response = admin_client_a.post(changelist, {"action": "publish", "_selected_action": [v2.pk]})

    # Publishing is a reviewer's signed approval: the admin has no such action.
    assert response.status_code == 302
    assert dict(ProtocolTemplate.objects.values_list("version", "status")) == {
        1: "published", 2: "draft"}  # fmt: skip
    assert list(AuditEvent.objects.filter(
        actor_user__isnull=False).values_list("action", flat=True)) == [
        "protocol.version_created"]  # fmt: skip


def test_other_labs_protocols_are_invisible_in_the_admin(client, lab, other_lab_admin):
    protocol = published_protocol(lab, 2)
    stage = StageTemplate.objects.filter(protocol=protocol).first()
    client.force_login(other_lab_admin)

    changelist = client.get(reverse("admin:protocols_protocoltemplate_changelist"))
    assert changelist.status_code == 200
    assert list(changelist.context["cl"].queryset) == []
    for obj in (protocol, stage):
        # The admin answers a missing object with a redirect to its index.
        assert client.get(_url(obj)).status_code == 302


def test_technicians_have_no_admin(client, lab, technician):
    technician.is_staff = True
    technician.save(update_fields=["is_staff"])
    client.force_login(technician)

    response = client.get(reverse("admin:protocols_protocoltemplate_changelist"))

    assert response.status_code == 403


def test_admin_renames_a_draft_through_the_service(admin_client_a, lab, lab_admin):
    draft = services.protocol_new_version(protocol=published_protocol(lab, 2), actor=lab_admin)

    response = admin_client_a.post(
        _url(draft), {"name": "Chain (revised)", "description": "test protocol", "_save": "Save"}
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.name == "Chain (revised)"
    event = AuditEvent.objects.get(action="protocol.updated")
    assert (event.actor_user, event.before, event.after) == (
        lab_admin, {"name": "Chain"}, {"name": "Chain (revised)"})  # fmt: skip
