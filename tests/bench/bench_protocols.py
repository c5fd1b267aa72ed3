"""Protocol templates: import, copy to a new version, publish, and the detail read.

Uses the default E-islet protocol (12 stages, 92 checkpoints) and a synthetic 60-stage chain
to show that the copy and the read do not grow in queries with the protocol's size.
"""

from __future__ import annotations

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

REPEAT = 10


def _timed(call, repeat: int = REPEAT) -> tuple[float, int]:
    """Median wall time in ms and the query count of one call."""
    times, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
        queries = len(ctx.captured_queries)
    times.sort()
    return times[len(times) // 2], queries


def run() -> dict[str, dict]:
    from labs.models import Lab, Membership, Role
    from protocol_tracker.protocols import services
    from protocol_tracker.protocols.defaults import PROTOCOLS
    from protocol_tracker.protocols.selectors import protocol_detail, protocol_export
    from tests.builders import approve, chain_definition
    from tests.factories import UserFactory

    lab = Lab.objects.create(name="Bench protocols", slug="bench-protocols")
    user = UserFactory(username="bench-protocols-admin")
    Membership.objects.create(user=user, lab=lab, role=Role.LAB_ADMIN)
    qa = UserFactory(username="bench-protocols-qa")
    Membership.objects.create(user=qa, lab=lab, role=Role.REVIEWER)

    started = time.perf_counter()
    islet, _ = services.protocol_import_defaults(lab=lab)
    import_ms = (time.perf_counter() - started) * 1000
    islet = approve(islet, qa)  # its conventions confirmed, approved for use
    big = services.protocol_import(lab=lab, definition=chain_definition(60, code="big"))

    copy_ms, copy_q = _timed(lambda: services.protocol_new_version(protocol=islet, actor=user))
    copy_big_ms, copy_big_q = _timed(
        lambda: services.protocol_new_version(protocol=big, actor=user)
    )
    detail_ms, detail_q = _timed(
        lambda: protocol_export(protocol=protocol_detail(protocol_id=islet.pk, viewer=user))
    )
    detail_big_ms, detail_big_q = _timed(
        lambda: protocol_export(protocol=protocol_detail(protocol_id=big.pk, viewer=user))
    )

    def publish_fresh_copy():
        draft = services.protocol_new_version(protocol=islet, actor=user)
        started = time.perf_counter()
        approve(draft, qa)  # the signed approval (conventions carried over, unchanged)
        return (time.perf_counter() - started) * 1000

    publish_ms = sorted(publish_fresh_copy() for _ in range(REPEAT))[REPEAT // 2]
    stages = len(PROTOCOLS[0]["stages"])
    return {
        "protocols.import_defaults_ms": {"value": import_ms, "unit": "ms",
                                         "target": "< 1000 (both defaults, once)"},
        "protocols.new_version_islet_ms": {"value": copy_ms, "unit": "ms",
                                           "target": f"< 100 ({stages} stages)"},
        "protocols.new_version_islet_queries": {"value": copy_q, "unit": "queries",
                                                "target": "= 60-stage count"},
        "protocols.new_version_60_stages_queries": {"value": copy_big_q, "unit": "queries",
                                                    "target": "= islet count"},
        "protocols.new_version_60_stages_ms": {"value": copy_big_ms, "unit": "ms",
                                               "target": "< 200"},
        "protocols.publish_islet_ms": {"value": publish_ms, "unit": "ms",
                                     "target": "< 1000 (signed: the Argon2 check is ~0.4 s)"},
        "protocols.detail_islet_ms": {"value": detail_ms, "unit": "ms", "target": "< 30"},
        "protocols.detail_islet_queries": {"value": detail_q, "unit": "queries", "target": "5"},
        "protocols.detail_60_stages_queries": {"value": detail_big_q, "unit": "queries",
                                               "target": "5"},
        "protocols.detail_60_stages_ms": {"value": detail_big_ms, "unit": "ms", "target": "< 60"},
    }  # fmt: skip
