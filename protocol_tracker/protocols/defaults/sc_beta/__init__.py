"""Default protocol 2: stepwise SC-β differentiation from a released iPSC bank (reference §4)."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.defaults.sc_beta import differentiation, release

STAGES: list[dict[str, Any]] = [*differentiation.STAGES, *release.STAGES]

PROTOCOL: dict[str, Any] = {
    "code": "sc-beta-stepwise",
    "name": "Stepwise SC-β differentiation from an iPSC bank (7 stages)",
    "description": (
        "Thaw a released iPSC bank vial and differentiate it through the planar stepwise "
        "protocol of Hogrebe et al. (Nat Protoc 2021: S1 definitive endoderm 4 d, S2 gut "
        "tube 2 d, S3 posterior foregut 2 d, S4 pancreatic progenitor 4 d, S5 endocrine "
        "progenitor 7 d, S6 SC-β 14 d), with an optional S7 maturation of up to 6 weeks "
        "(Balboa et al., Nat Biotechnol 2022). Residual-PSC, CNV and in-process sterility "
        "testing on the S6 product runs in parallel with S7; lot release waits for both. "
        "Stage gates are conventions (CONV) for the lab to confirm; release criteria follow "
        "the CIT-07 islet COA and the Kyoto iPSC-derived product specification."
    ),
    "stages": STAGES,
}
