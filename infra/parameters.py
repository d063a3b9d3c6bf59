"""The stack's parameters: what an operator chooses at deploy time (ROS asks for the required ones)."""

from __future__ import annotations

from dataclasses import dataclass

import ros_cdk_core as core

LIST = core.RosParameterType.COMMA_DELIMITED_LIST
STRING = core.RosParameterType.STRING
NUMBER = core.RosParameterType.NUMBER


@dataclass(frozen=True)
class Parameters:
    kms_keys: core.RosParameter
    secrets: core.RosParameter
    secret_keys: core.RosParameter
    function_name: core.RosParameter
    fanout_enabled: core.RosParameter
    role_name: core.RosParameter
    log_project: core.RosParameter
    log_store: core.RosParameter
    log_ttl_days: core.RosParameter
    contact_group: core.RosParameter
    metric_group_id: core.RosParameter
    expiry_threshold_days: core.RosParameter
    no_run_alarm_hours: core.RosParameter


def declare(stack: core.Stack) -> Parameters:
    def param(name: str, type_: core.RosParameterType, description: str, **kwargs: object) -> core.RosParameter:
        return core.RosParameter(stack, name, type=type_, description=description, **kwargs)  # type: ignore[arg-type]

    return Parameters(
        kms_keys=param(
            "KmsKeyArnPattern",
            LIST,
            "RAM resource patterns (comma-separated) of the KMS keys whose material the function renews, "
            "e.g. acs:kms:cn-hangzhou:123456789012:key/*,acs:kms:eu-central-1:123456789012:key/key-abc123",
        ),
        secrets=param(
            "SecretArnPattern",
            LIST,
            "RAM resource patterns of the KMS secrets that hold the material, "
            "e.g. acs:kms:cn-hangzhou:123456789012:secret/byok/*",
        ),
        secret_keys=param(
            "SecretKeyArnPattern",
            LIST,
            "RAM resource patterns of the KMS key(s) that encrypt those secrets (GetSecretValue needs "
            "kms:Decrypt on them), e.g. acs:kms:cn-hangzhou:123456789012:key/key-secrets01",
        ),
        function_name=param(
            "FunctionName",
            STRING,
            "The Function Compute 3.0 function's name (s.yaml): fan-out lets it invoke itself, nothing else.",
            default_value="byok-renewer",
            allowed_pattern="^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$",
        ),
        fanout_enabled=param(
            "FanoutEnabled",
            STRING,
            "true when the configuration has a fanout: section (grants fc:InvokeFunction on the function).",
            default_value="false",
            allowed_values=["true", "false"],
        ),
        role_name=param(
            "RoleName",
            STRING,
            "The function's RAM role (trusted by fc.aliyuncs.com).",
            default_value="byok-renewer",
            allowed_pattern="^[a-zA-Z0-9.-]{1,64}$",
        ),
        log_project=param(
            "LogProjectName",
            STRING,
            "SLS project for the function's logs. Project names are unique per region across all accounts.",
            default_value="byok-renewer-logs",
            allowed_pattern="^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
        ),
        log_store=param(
            "LogStoreName",
            STRING,
            "SLS logstore for the function's logs.",
            default_value="renewer",
            allowed_pattern="^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$",
        ),
        log_ttl_days=param(
            "LogRetentionDays",
            NUMBER,
            "Days the logstore keeps log lines.",
            default_value=90,
            min_value=1,
            max_value=3650,
        ),
        contact_group=param("ContactGroup", STRING, "CloudMonitor alert contact group that every alarm notifies."),
        metric_group_id=param(
            "MetricGroupId",
            STRING,
            "The CloudMonitor application group the function's metrics go to: metrics.cloudmonitor.group_id "
            "in the renewer configuration.",
            allowed_pattern="^[0-9]+$",
        ),
        expiry_threshold_days=param(
            "ExpiryThresholdDays",
            NUMBER,
            "Alarm when a key's material expires within this many days (SecondsUntilKeyMaterialExpiration).",
            default_value=7,
            min_value=1,
            max_value=3650,
        ),
        no_run_alarm_hours=param(
            "NoRunAlarmHours",
            NUMBER,
            "Alarm when no run has reported a metric for this many hours (the renewer itself is not running).",
            default_value=26,
            min_value=2,
            max_value=168,
        ),
    )
