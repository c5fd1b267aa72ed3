"""A user of lab A gets nothing of lab B: through the scoping helper and through the admin."""

import pytest
from django.apps import apps

from labs.models import Instrument, InstrumentCredential, Lab, Membership
from labs.services import instrument_credential_issue
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.scoping import LabScopedQuerySet
from tests.factories import InstrumentFactory, MembershipFactory, UserFactory


@pytest.fixture
def two_labs(lab, other_lab, technician, lab_admin, other_technician):
    own = InstrumentFactory(lab=lab, name="Canto A")
    foreign = InstrumentFactory(lab=other_lab, name="Canto B")
    instrument_credential_issue(instrument=own, actor=lab_admin)
    instrument_credential_issue(instrument=foreign, actor=None)
    return own, foreign


def test_every_lab_data_model_is_scoped():
    """Any model that points at a Lab must declare lab_field and use the scoped queryset."""
    unscoped = []
    for model in apps.get_models():
        points_at_lab = any(
            getattr(f, "related_model", None) is Lab
            for f in model._meta.get_fields()
            if f.is_relation and f.concrete
        )
        if points_at_lab and not (
            hasattr(model, "lab_field") and isinstance(model.objects.all(), LabScopedQuerySet)
        ):
            unscoped.append(model._meta.label)

    assert unscoped == []


@pytest.mark.parametrize("model", [Lab, Membership, Instrument, InstrumentCredential, AuditEvent])
def test_scoping_helper_returns_only_own_lab(model, two_labs, technician, lab, other_lab):
    visible = model.objects.for_user(technician)
    own = model.objects.for_lab(lab)
    foreign = model.objects.for_lab(other_lab)

    assert own.exists()
    assert foreign.exists()
    assert set(visible) == set(own)
    assert not set(visible) & set(foreign)


def test_user_without_membership_sees_nothing(two_labs):
    stranger = UserFactory(username="stranger")

    assert list(Instrument.objects.for_user(stranger)) == []
    assert list(Lab.objects.for_user(stranger)) == []


def test_inactive_user_sees_nothing(two_labs, technician):
    technician.is_active = False
    technician.save()

    assert list(Instrument.objects.for_user(technician)) == []


def test_roles_filter(two_labs, technician, lab_admin):
    assert list(Instrument.objects.for_user(technician, roles=["lab_admin"])) == []
    assert [i.name for i in Instrument.objects.for_user(lab_admin, roles=["lab_admin"])] == [
        "Canto A"
    ]


def test_user_in_two_labs_sees_both(two_labs, other_lab, technician):
    MembershipFactory(user=technician, lab=other_lab, role="viewer")

    assert sorted(i.name for i in Instrument.objects.for_user(technician)) == ["Canto A", "Canto B"]


def test_admin_changelist_is_scoped(client, two_labs, lab_admin):
    client.force_login(lab_admin)

    response = client.get("/admin/labs/instrument/")

    assert response.status_code == 200
    names = [obj.name for obj in response.context["cl"].result_list]
    assert names == ["Canto A"]


def test_admin_other_labs_object_is_not_shown(client, two_labs, lab_admin):
    _, foreign = two_labs
    client.force_login(lab_admin)

    response = client.get(f"/admin/labs/instrument/{foreign.pk}/change/", follow=True)

    assert response.redirect_chain[-1][0] == "/admin/"
    assert "Canto B" not in response.content.decode()


def test_admin_foreign_key_choices_are_scoped(client, two_labs, lab_admin):
    client.force_login(lab_admin)

    response = client.get("/admin/labs/instrument/add/")

    labs_offered = [str(lab) for lab in response.context["adminform"].form.fields["lab"].queryset]
    assert labs_offered == ["Lab A"]


def test_admin_is_closed_to_technicians(client, two_labs, technician):
    technician.is_staff = True
    technician.save()
    client.force_login(technician)

    response = client.get("/admin/labs/instrument/")

    assert response.status_code == 403


def test_admin_cannot_delete_or_edit_audit(client, two_labs, lab_admin):
    client.force_login(lab_admin)
    event = AuditEvent.objects.for_lab(two_labs[0].lab).first()

    change = client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"reason": "x"})
    delete = client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"})

    assert change.status_code == 403
    assert delete.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, reason="").exists()
