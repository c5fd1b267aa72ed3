"""The clinical admin: view-only, and only the admin's own lab."""

from __future__ import annotations

import pytest

from tests.builders import clinical as cb

pytestmark = pytest.mark.django_db


def test_the_clinical_admin_is_scoped_and_read_only(
    client, lab, other_lab, technician, reviewer, other_technician, other_reviewer, lab_admin
):
    own = cb.recipient_of(cb.released_run(lab, technician, reviewer), cb.clinician_of(lab))
    other = cb.recipient_of(
        cb.released_run(other_lab, other_technician, other_reviewer), cb.clinician_of(other_lab)
    )
    client.force_login(lab_admin)

    listed = client.get("/admin/clinical/recipient/")
    foreign = client.get(f"/admin/clinical/recipient/{other.pk}/change/", follow=True)

    assert [r.pk for r in listed.context["cl"].result_list] == [own.pk]
    assert foreign.redirect_chain[-1][0] == "/admin/"
    assert client.get("/admin/clinical/recipient/add/").status_code == 403
