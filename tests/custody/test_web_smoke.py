import pytest

pytestmark = pytest.mark.django_db


def test_pages_render(client, cw, technician):
    client.force_login(technician)
    for url in (
        f"/runs/{cw.run.pk}/",
        f"/runs/{cw.run.pk}/record/",
        f"/stages/{cw.stage_run.pk}/scan/{cw.checkpoint.pk}/",
        f"/runs/{cw.run.pk}/shipments/new/",
        f"/runs/{cw.run.pk}/handoffs/new/",
        f"/donors/{cw.run.donor_id}/identifiers/",
    ):
        r = client.get(url)
        assert r.status_code == 200, (url, r.content[:2000])
