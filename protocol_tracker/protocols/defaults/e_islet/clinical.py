"""E-islet, reference §2 stages 9-10: transplant and clinical follow-up."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.builders import (
    DAY,
    checkpoint,
    identity_scan,
    less_than,
    more_than,
    no_spec,
    stage,
    task,
)
from protocol_tracker.protocols.defaults.sources import CONV, GK, src

STAGES: list[dict[str, Any]] = [
    stage(
        "transplant",
        name="Transplant",
        kind="transplant",
        expected_duration_hours=1 * DAY,
        window_early_hours=1 * DAY,
        window_late_hours=1 * DAY,
        depends_on=["lot_release"],
        reminder_lead_hours=1 * DAY,
        description=(
            "Day T. Record site, route, dose (IEQ or cells; per kg), infusion start/stop, "
            "surgeon, bedside identity verification (two-person check) and portal pressure if "
            "intraportal. Record concomitant immunosuppression even for autologous runs."
        ),
        source=src(
            "B6",
            "Q12",
            "GK (duration: the reference gives only 'day T'; 24 h from release with ±24 h "
            "chosen, the lab sets it to the product's shelf life)",
        ),
        checkpoints=[
            checkpoint(
                "shipment_receipt_identity",
                assay="identity_scan",
                name="Shipment receipt at the clinic: product label scanned",
                metric="identity_match",
                unit="",
                value_type="identity",
                spec=identity_scan("bag", "shipper"),
                blocking=True,
                recorded_by="person",
                source=src("Q11", "B6"),
                notes=(
                    "Hand-over: lab → courier → clinic; record the shipment with its "
                    "temperature logger and the custody hand-off (scanned on both sides)."
                ),
                zh_name="临床接收运输：扫描产品标签",
            ),
            checkpoint(
                "bedside_identity_check",
                assay="identity_scan",
                name="Bedside two-person identity check (patient, COI, product label)",
                metric="identity_match",
                unit="",
                value_type="identity",
                spec=identity_scan("bag", witness="always"),
                blocking=True,
                recorded_by="person",
                source=src("B6", "Q12"),
                notes=(
                    "Hard gate; two people verify and both are recorded: the bag label is "
                    "scanned and a second person signs as witness (patient wristband against "
                    "the label's identifiers)."
                ),
                zh_name="床旁双人身份核对（患者、COI、产品标签）",
            ),
            checkpoint(
                "transplant_dose_ieq_per_kg",
                assay="batch_record",
                name="Dose administered (IEQ per kg)",
                metric="dose_per_kg",
                unit="IEQ/kg",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("B6", "B10"),
                notes=(
                    "Dose ≥ protocol minimum, which is lab-defined: set the limit in the lab's "
                    "protocol version. Primary islets ≥5.0x10^3 IEQ/kg first infusion [B6] is a "
                    "comparator only."
                ),
            ),
            checkpoint(
                "transplant_dose_cells",
                assay="batch_record",
                name="Dose administered (cells)",
                metric="dose_cells",
                unit="10^6 cells",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("B9"),
                notes="Lab-defined minimum; VX-880 full dose 0.8x10^9 cells [B9] for comparison.",
            ),
            checkpoint(
                "transplant_site_route",
                assay="batch_record",
                name="Transplant site and route",
                metric="site_route",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("B6", "B9", "B10"),
                notes="Free text; the reference gives no default site.",
            ),
            checkpoint(
                "concomitant_immunosuppression",
                assay="clinical_record",
                name="Concomitant immunosuppression",
                metric="immunosuppression",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("inference", "S2"),
                notes="Confounds attribution of graft function even in autologous runs.",
            ),
        ],
    ),
    stage(
        "follow_up",
        name="Clinical follow-up",
        kind="follow_up",
        expected_duration_hours=365 * DAY,
        window_early_hours=0,
        window_late_hours=2 * 365 * DAY,
        depends_on=["transplant"],
        reminder_lead_hours=3 * DAY,
        description=(
            "Weeks 1, 2, 4, 8, 12, then every 3 months to ≥1-3 years. Record fasting and "
            "stimulated (MMTT) C-peptide, HbA1c, daily insulin dose, oral agents and doses, CGM "
            "TIR/TBR/TAR, severe hypoglycaemia, immunosuppressant troughs, eGFR/creatinine, "
            "graft imaging, tumour surveillance and AEs/SAEs. Endpoints, not gates."
        ),
        source=src(
            "B9",
            "B10",
            "S2",
            CONV,
            "duration: 'to ≥1-3 years' (reference §2 stage 10) -> 1 year, late window to 3 years",
        ),
        tasks=[
            task(
                "follow_up_visit",
                "Follow-up visit",
                (
                    "Weeks 1, 2, 4, 8, 12, then months 6, 9 and 12 (every 3 months); extend in "
                    "the lab's protocol for follow-up beyond 1 year. (CONV, reference §2 stage "
                    "10.)"
                ),
                on_days=[7, 14, 28, 56, 84, 182, 273, 365],
            ),
        ],
        checkpoints=[
            checkpoint(
                "fu_fasting_c_peptide",
                assay="clinical_lab",
                name="Fasting C-peptide",
                metric="c_peptide_fasting",
                unit="pmol/L",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                analyte="c_peptide",
                source=src("S2", GK),
                notes="Endpoint. 1 ng/mL ≈ 331 pmol/L (GK).",
            ),
            checkpoint(
                "fu_stimulated_c_peptide",
                assay="clinical_lab",
                name="Stimulated (MMTT) C-peptide",
                metric="c_peptide_stimulated",
                unit="pmol/L",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                analyte="c_peptide",
                source=src("S2", GK),
                notes="Endpoint.",
            ),
            checkpoint(
                "fu_hba1c",
                assay="clinical_lab",
                name="HbA1c",
                metric="hba1c",
                unit="%",
                value_type="percent",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                analyte="hba1c",
                source=src("B9", GK),
                notes=(
                    "Endpoint. VX-880 Part C primary endpoint: no severe hypoglycaemia days "
                    "90-365 and HbA1c <7% (or ≥1-point drop) [B9]; composite, so no single "
                    "limit is encoded."
                ),
            ),
            checkpoint(
                "fu_insulin_dose",
                assay="clinical_record",
                name="Daily exogenous insulin dose",
                metric="insulin_dose",
                unit="U/kg/day",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("S2", "B9"),
                notes="Endpoint. Insulin independence assessed days 180-365 [B9].",
            ),
            checkpoint(
                "fu_insulin_independent",
                assay="clinical_record",
                name="Insulin independent",
                metric="insulin_independent",
                unit="",
                value_type="boolean",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("B9", "S2"),
                notes="Endpoint, assessed days 180-365 [B9].",
            ),
            checkpoint(
                "fu_oral_agents",
                assay="clinical_record",
                name="Oral glucose-lowering agents and doses",
                metric="oral_agents",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("S2"),
                notes="Record each drug with dose and withdrawal date.",
            ),
            checkpoint(
                "fu_cgm_tir",
                assay="cgm",
                name="CGM time in range (70-180 mg/dL)",
                metric="tir",
                unit="%",
                value_type="percent",
                spec=more_than(70),
                blocking=False,
                source=src("C1", "B9"),
                notes=(
                    "Consensus target > 70 % [Battelino 2019]; older/high-risk > 50 %, chosen "
                    "per recipient in the clinical record. Endpoint, not a gate."
                ),
            ),
            checkpoint(
                "fu_cgm_tbr",
                assay="cgm",
                name="CGM time below range (<70 mg/dL)",
                metric="tbr",
                unit="%",
                value_type="percent",
                spec=less_than(4),
                blocking=False,
                source=src("C1"),
                notes=(
                    "Consensus target < 4 % [Battelino 2019]; older/high-risk < 1 %. "
                    "Endpoint, not a gate."
                ),
            ),
            checkpoint(
                "fu_cgm_tbr54",
                assay="cgm",
                name="CGM time below 54 mg/dL",
                metric="tbr54",
                unit="%",
                value_type="percent",
                spec=less_than(1),
                blocking=False,
                source=src("C1"),
                notes="Consensus target < 1 % [Battelino 2019]. Endpoint, not a gate.",
                zh_name="CGM 低于 54 mg/dL 的时间",
            ),
            checkpoint(
                "fu_cgm_tar180",
                assay="cgm",
                name="CGM time above 180 mg/dL",
                metric="tar180",
                unit="%",
                value_type="percent",
                spec=less_than(25),
                blocking=False,
                source=src("C1"),
                notes=(
                    "Consensus target < 25 % [Battelino 2019] (includes > 250). "
                    "Endpoint, not a gate."
                ),
                zh_name="CGM 高于 180 mg/dL 的时间",
            ),
            checkpoint(
                "fu_cgm_tar250",
                assay="cgm",
                name="CGM time above 250 mg/dL",
                metric="tar250",
                unit="%",
                value_type="percent",
                spec=less_than(5),
                blocking=False,
                source=src("C1"),
                notes=(
                    "Consensus target < 5 % [Battelino 2019]; older/high-risk < 10 %. "
                    "Endpoint, not a gate."
                ),
                zh_name="CGM 高于 250 mg/dL 的时间",
            ),
            checkpoint(
                "fu_severe_hypoglycaemia",
                assay="clinical_record",
                name="Severe hypoglycaemia events since last visit",
                metric="severe_hypo_events",
                unit="count",
                value_type="number",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("B9"),
                notes="Endpoint (VX-880: no severe hypoglycaemia days 90-365).",
            ),
            checkpoint(
                "fu_immunosuppressant_troughs",
                assay="clinical_lab",
                name="Immunosuppressant trough levels",
                metric="troughs",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("inference", GK),
                notes="Drug, level and unit as text.",
            ),
            checkpoint(
                "fu_renal_function",
                assay="clinical_lab",
                name="Kidney function (eGFR/creatinine)",
                metric="renal_function",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("S2"),
                notes="Transplanted-kidney function; values with units as text.",
            ),
            checkpoint(
                "fu_tumour_surveillance",
                assay="imaging",
                name="Graft imaging and tumour surveillance",
                metric="imaging_report",
                unit="",
                value_type="file",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=src("B10", GK),
                notes="Attach the report.",
            ),
            checkpoint(
                "fu_adverse_events",
                assay="clinical_record",
                name="Adverse events / serious adverse events",
                metric="adverse_events",
                unit="",
                value_type="text",
                spec=no_spec(),
                blocking=False,
                recorded_by="person",
                source=GK,
            ),
        ],
    ),
]
