"""The default protocols' bills of materials and the equipment their stages are worked with.

Transcribed from ``docs/domain-reference.md``: the materials are the lots its "What is recorded"
column (§2) and its per-step record fields (§6.1: "Materials: lot and expiry for every medium,
supplement, growth factor/small molecule ..., matrix, vessel and reagent"; "Equipment:
biosafety cabinet, incubator, centrifuge IDs, each with its calibration/maintenance status";
"Cryopreservation: freezing profile, vial IDs, storage location") name for each stage. The
SC-β factors are those the reference gives per stage from Hogrebe et al. 2021 [B1] (§4 table);
where it names none (S2, S3, S6, S7) the stage lists its medium only. No quantity is given:
the reference states none, so the technician records the amount drawn.

A line names a material by code; a lab's catalogue (``protocol_tracker.materials``) gives each
code its lots. Kept apart from the stage modules so that the stages read as the reference's
tables and this reads as its materials list.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any


def material(code: str, name: str, zh: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "material": code,
        "name": name,
        "quantity": None,
        "unit": "",
        "required": required,
        "i18n": {"zh-hans": {"name": zh}},
    }


def equipment(*kinds: str) -> list[dict[str, Any]]:
    return [{"kind": kind, "required": True} for kind in kinds]


IPSC_MEDIUM = material("ipsc-medium", "iPSC culture medium", "iPSC 培养基")
MATRIX = material("culture-matrix", "Culture matrix (coating)", "培养基质（包被）")
CRYO_MEDIUM = material("cryopreservation-medium", "Cryopreservation medium", "冻存液")
DIFF_MEDIUM = material("differentiation-medium", "Differentiation basal medium", "分化基础培养基")
ACTIVIN_A = material("activin-a", "Activin A", "激活素 A")
CHIR99021 = material("chir99021", "CHIR99021", "CHIR99021")
CULTURE = equipment("biosafety_cabinet", "incubator")

# (protocol code, stage key) -> the stage's bill of materials [reference section].
STAGE_MATERIALS: dict[tuple[str, str], list[dict[str, Any]]] = {
    # §2 stage 1: "anticoagulant and tube lot".
    ("e-islet-autologous", "pbmc_collection"): [
        material("blood-collection-tube", "Blood collection tube (anticoagulant)", "采血管（抗凝）")
    ],
    # §2 stage 2: "Ficoll lot"; optional cryopreservation ("vial count; freezer profile").
    ("e-islet-autologous", "pbmc_isolation"): [
        material("ficoll", "Density gradient medium (Ficoll)", "密度梯度分离液（Ficoll）"),
        material("cryopreservation-medium", "Cryopreservation medium", "冻存液", required=False),
    ],
    # §2 stage 3: "vector lot and titre or MOI; ... medium and matrix lots".
    ("e-islet-autologous", "reprogramming"): [
        material("reprogramming-vector", "Reprogramming vector (Sendai or episomal)", "重编程载体"),
        IPSC_MEDIUM,
        MATRIX,
    ],
    # §6.1 materials: medium and matrix for every culture step.
    ("e-islet-autologous", "clone_expansion"): [IPSC_MEDIUM, MATRIX],
    # §6.1 cryopreservation; §3 bank lots.
    ("e-islet-autologous", "ipsc_bank"): [CRYO_MEDIUM],
    # §2 stage 6 / §4 S1: definitive endoderm induction (Activin A + CHIR99021 [B1]).
    ("e-islet-autologous", "ensc_de_induction"): [DIFF_MEDIUM, ACTIVIN_A, CHIR99021],
    ("e-islet-autologous", "ensc_bank"): [CRYO_MEDIUM],
    # §2 stage 7: "media/factor lots" (the factors are not in the reference: medium only).
    ("e-islet-autologous", "eislet_differentiation"): [DIFF_MEDIUM],
    # sc-beta, §3 post-thaw and §4 per stage [B1].
    ("sc-beta-stepwise", "bank_thaw"): [IPSC_MEDIUM, MATRIX],
    ("sc-beta-stepwise", "s1_definitive_endoderm"): [DIFF_MEDIUM, ACTIVIN_A, CHIR99021],
    ("sc-beta-stepwise", "s2_primitive_gut_tube"): [DIFF_MEDIUM],
    ("sc-beta-stepwise", "s3_posterior_foregut"): [DIFF_MEDIUM],
    ("sc-beta-stepwise", "s4_pancreatic_progenitor"): [
        DIFF_MEDIUM,
        material("kgf", "KGF (FGF7)", "角质细胞生长因子（KGF）"),
        material("sant1", "SANT1", "SANT1"),
        material("tppb", "TPPB", "TPPB"),
        material("ldn193189", "LDN193189", "LDN193189"),
        material("retinoic-acid", "Retinoic acid", "视黄酸"),
    ],
    ("sc-beta-stepwise", "s5_endocrine_progenitor"): [
        DIFF_MEDIUM,
        material("latrunculin-a", "Latrunculin A", "拉春库林 A"),
        material(
            "gamma-secretase-inhibitor-xxi", "γ-secretase inhibitor XXI", "γ-分泌酶抑制剂 XXI"
        ),
        material("t3", "T3 (triiodothyronine)", "T3（三碘甲状腺原氨酸）"),
        material("alk5i-ii", "ALK5 inhibitor II", "ALK5 抑制剂 II"),
        material("sant1", "SANT1", "SANT1"),
        material("retinoic-acid", "Retinoic acid", "视黄酸"),
    ],
    ("sc-beta-stepwise", "s6_sc_beta"): [DIFF_MEDIUM],
    ("sc-beta-stepwise", "s7_maturation"): [DIFF_MEDIUM],
}

# A medium change draws the stage's culture medium (§6.1: "Conditions: media-change log"; the
# task's own description asks for the medium lot): the medium of the stage's bill.
_MEDIA = (IPSC_MEDIUM, DIFF_MEDIUM)

# (protocol code, stage key) -> the kinds of equipment the stage is worked with (§6.1).
STAGE_EQUIPMENT: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("e-islet-autologous", "pbmc_isolation"): equipment("biosafety_cabinet", "centrifuge"),
    ("e-islet-autologous", "reprogramming"): CULTURE,
    ("e-islet-autologous", "clone_expansion"): CULTURE,
    ("e-islet-autologous", "ipsc_bank"): equipment(
        "biosafety_cabinet", "controlled_rate_freezer", "ln2_tank"
    ),
    ("e-islet-autologous", "ensc_de_induction"): CULTURE,
    ("e-islet-autologous", "ensc_bank"): equipment(
        "biosafety_cabinet", "controlled_rate_freezer", "ln2_tank"
    ),
    ("e-islet-autologous", "eislet_differentiation"): CULTURE,
    ("sc-beta-stepwise", "bank_thaw"): CULTURE,
    **{
        ("sc-beta-stepwise", key): CULTURE
        for key in (
            "s1_definitive_endoderm",
            "s2_primitive_gut_tube",
            "s3_posterior_foregut",
            "s4_pancreatic_progenitor",
            "s5_endocrine_progenitor",
            "s6_sc_beta",
            "s7_maturation",
        )
    },
}


def with_bills_of_materials(protocol: dict[str, Any]) -> dict[str, Any]:
    """``protocol`` (a default's data) with its stages' and medium changes' bills of materials
    and its stages' equipment; a copy, the stage modules' data is left as it is."""
    result = deepcopy(protocol)
    code = result["code"]
    for stage_ in result["stages"]:
        key = stage_["key"]
        lines = STAGE_MATERIALS.get((code, key))
        if lines:
            stage_["materials"] = deepcopy(lines)
        kinds = STAGE_EQUIPMENT.get((code, key))
        if kinds:
            stage_["equipment"] = deepcopy(kinds)
        for task_ in stage_["tasks"]:
            if task_["key"] != "media_change":
                continue
            medium = next((m for m in _MEDIA if lines and m in lines), None)
            if medium is not None:
                task_["materials"] = [deepcopy(medium)]
    return result
