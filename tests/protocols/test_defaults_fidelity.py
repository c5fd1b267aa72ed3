"""The corrections of the default protocols after their review against the sources (issue 13),
each pinned with the source its checkpoint cites."""

from __future__ import annotations

import pytest

from protocol_tracker import specs
from protocol_tracker.protocols.defaults import PROTOCOLS, SOURCES
from protocol_tracker.protocols.definition import CONSENT_SCOPES
from protocol_tracker.runs.models import ConsentScope

E_ISLET = next(p for p in PROTOCOLS if p["code"] == "e-islet-autologous")
CPS = {cp["key"]: cp for s in E_ISLET["stages"] for cp in s["checkpoints"]}
GENETIC_ASSAYS = {"karyotype_gbanding", "snp_array", "cnv", "wgs", "wes"}


def _verdict(cp, value):
    return specs.evaluate(
        cp["spec"], value_type=cp["value_type"], value=value, unit=None, spec_unit=cp["unit"]
    )


@pytest.mark.parametrize("prefix", ["bank", "ensc"])
def test_karyotype_counts_at_least_20_metaphases(prefix):
    # ISCBI [C2]: 20 G-banded metaphases; "46,XY[20]" is the common passing report.
    count = CPS[f"{prefix}_karyotype_metaphases"]
    iscn = CPS[f"{prefix}_karyotype_iscn"]

    assert (count["spec"]["min"], count["spec"]["min_inclusive"]) == (20, True)
    assert _verdict(count, 20) == "pass" and _verdict(count, 19) == "fail"
    assert SOURCES["C2"] in count["source"]
    assert iscn["spec"]["iscn"] == {"min_metaphases": 20} and iscn["blocking"]
    assert SOURCES["C3"] in iscn["source"]
    assert _verdict(iscn, "46,XY[20]") == "pass"
    assert _verdict(iscn, "47,XY,+12[2]/46,XY[18]") == "fail"
    assert _verdict(iscn, "45,XY,-18[2]/46,XY[18]") == "pass"  # a loss needs 3 cells
    assert iscn["i18n"]["zh-hans"]["name"]


def test_one_pluripotency_checkpoint_per_marker_each_above_70_percent():
    markers = {k: cp for k, cp in CPS.items() if k.startswith("bank_marker_")}

    assert sorted(markers) == [
        "bank_marker_nanog",
        "bank_marker_oct4",
        "bank_marker_sox2",
        "bank_marker_ssea4",
        "bank_marker_tra160",
    ]
    for cp in markers.values():
        assert (cp["spec"]["min"], cp["spec"]["min_inclusive"]) == (70, False)
        assert cp["blocking"] and cp["value_type"] == "percent"
        assert SOURCES["C2"] in cp["source"]
        assert cp["i18n"]["zh-hans"]["name"].startswith("未分化标志物")
    assert "bank_undifferentiated_markers" not in CPS


@pytest.mark.parametrize(
    ("key", "passing", "failing"),
    [
        ("release_residual_pou5f1_qpcr", 0.5, 1),
        ("release_residual_lin28_qpcr", 0.99, 1.5),
        ("release_cnv_snp_array", True, False),
        ("release_identity_purity", 30, 29.9),
        ("release_appearance", True, False),
    ],
)
def test_e_islet_release_gains_the_kyoto_final_product_rows(key, passing, failing):
    cp = CPS[key]

    assert cp["blocking"]
    assert "[R5] Doi et al. 2020 (Kyoto iPSC-derived final product)" in cp["source"]
    assert (_verdict(cp, passing), _verdict(cp, failing)) == ("pass", "fail")
    assert cp["i18n"]["zh-hans"]["name"]


def test_the_identity_gate_is_a_convention_the_lab_sets():
    assert "CONV" in CPS["release_identity_purity"]["source"]


@pytest.mark.parametrize(
    ("key", "passages", "days"),
    [
        ("bank_mycoplasma", 6, 28),  # every 3-4 weeks or 5-6 passages [R4]; USP <63> [C4]
        ("ensc_mycoplasma", 6, 28),
        ("bank_str_identity", 12, 56),  # every 6-8 weeks or 10-12 passages [R4]
        ("ensc_str_identity", 12, 56),
        ("bank_karyotype_metaphases", 10, 42),  # every 6 weeks or 10 passages [R4]
        ("bank_karyotype_iscn", 10, 42),
    ],
)
def test_retests_by_passage_and_by_time(key, passages, days):
    cp = CPS[key]

    assert (cp["retest_every_passages"], cp["retest_every_days"]) == (passages, days)
    assert "[R4] EBiSC QC guidance" in cp["source"]
    assert "whichever comes first" in cp["notes"] or "first" in cp["notes"]


def test_genetic_tests_need_the_donors_consent():
    genetic = {k for k, cp in CPS.items() if cp["assay"] in GENETIC_ASSAYS}

    assert genetic == {
        "bank_karyotype_metaphases",
        "bank_karyotype_iscn",
        "bank_genetic_variants",
        "ensc_karyotype_metaphases",
        "ensc_karyotype_iscn",
        "release_cnv_snp_array",
    }
    for key in genetic:
        assert CPS[key]["requires_consent"] == ["genetic_testing"], key
    assert set(CONSENT_SCOPES) == set(ConsentScope.values)


@pytest.mark.parametrize(
    ("key", "limit", "inclusive"),
    [
        ("fu_cgm_tir", ("min", 70), False),
        ("fu_cgm_tbr", ("max", 4), False),
        ("fu_cgm_tbr54", ("max", 1), False),
        ("fu_cgm_tar180", ("max", 25), False),
        ("fu_cgm_tar250", ("max", 5), False),
    ],
)
def test_cgm_targets_follow_the_consensus(key, limit, inclusive):
    cp = CPS[key]

    assert cp["spec"][limit[0]] == limit[1]
    assert cp["spec"][f"{limit[0]}_inclusive"] is inclusive
    assert SOURCES["C1"] in cp["source"] and not cp["blocking"]
