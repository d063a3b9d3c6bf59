"""The SLS project, logstore and index for the function's log lines.

The function writes one JSON object per line to stdout (renewer/logs.py), each led by time, level
and requestId: per key {..., "event": "key", "material", "region", "cloud", "key_id", "outcome",
"error": CODE, "message", ...} (renewer/run/executor.py, log_key), and one {..., "event": "run"}
per run. Function Compute wraps each stdout line in a log entry of its own, the line itself in the
entry's `message` field (beside functionName, requestId, ...), so the keys are indexed as JSON keys
of `message`. Full-text indexing stays on for everything else (tracebacks, the SDKs' warnings).

NOTE: one line per entry is Function Compute's default (logConfig.logBeginRule None). With
`DefaultRegex` an entry starts only at a line that begins with a date, and the lines after it are
appended to it: the function's lines begin with `{`, so a run's lines would share one entry and its
`message` would not be one JSON object.
"""

from __future__ import annotations

import ros_cdk_core as core
import ros_cdk_sls as sls
from parameters import Parameters

#: FC's field holding the line the function wrote.
LINE_FIELD = "message"
#: The log line's keys that get a field index (text, with analytics so SQL can group by them).
#: tests/test_infra.py checks each against a line log_key really writes.
INDEXED_KEYS = (
    "event",
    "outcome",
    "error",
    "key_id",
    "resolved_key_id",
    "material",
    "region",
    "cloud",
    "decision",
    "level",
    "requestId",
)


def build(stack: core.Stack, p: Parameters) -> tuple[sls.Project, sls.Logstore]:
    project = sls.Project(
        stack,
        "SlsProject",
        sls.ProjectProps(name=p.log_project.value_as_string, description="BYOK Renewer function logs"),
        enable_resource_property_constraint=True,
    )
    store = sls.Logstore(
        stack,
        "SlsLogstore",
        sls.LogstoreProps(
            project_name=project.attr_name,
            logstore_name=p.log_store.value_as_string,
            ttl=p.log_ttl_days.value_as_number,
            shard_count=1,
        ),
        enable_resource_property_constraint=True,
    )
    sls.Index(
        stack,
        "SlsIndex",
        sls.IndexProps(
            project_name=project.attr_name,
            logstore_name=store.attr_logstore_name,
            full_text_index=sls.RosIndex.FullTextIndexProperty(enable=True),
            key_indices=[
                sls.RosIndex.KeyIndicesProperty(
                    name=LINE_FIELD,
                    type="json",
                    json_key_indices=[
                        sls.RosIndex.JsonKeyIndicesProperty(name=key, type="text", enable_analytics=True)
                        for key in INDEXED_KEYS
                    ],
                )
            ],
        ),
        enable_resource_property_constraint=True,
    )
    return project, store
