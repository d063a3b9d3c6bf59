"""The function's RAM role: exactly the README's "RAM policy (least privilege)" table
(tests/test_infra.py holds the synthesised policy and that table equal, row by row)."""

from __future__ import annotations

from typing import Any

import ros_cdk_core as core
import ros_cdk_ram as ram
from parameters import Parameters

#: (actions, resources): one statement, one row of the README's table.
Grant = tuple[list[str], Any]


def _allow(actions: list[str], resources: Any) -> Grant:
    return actions, resources


def statements(p: Parameters) -> list[Grant]:
    """Always granted. Each statement is one row of the README's table."""
    kms_keys = p.kms_keys.value_as_list
    logstore = core.Fn.sub(
        "acs:log:${ALIYUN::Region}:${ALIYUN::TenantId}:project/${LogProjectName}/logstore/${LogStoreName}"
    )
    return [
        _allow(["kms:DescribeKey", "kms:GetParametersForImport", "kms:ImportKeyMaterial"], kms_keys),
        # Only `verify: canary` uses them (an Encrypt/Decrypt round trip after an import).
        _allow(["kms:Encrypt", "kms:Decrypt"], kms_keys),
        _allow(["kms:GetSecretValue"], p.secrets.value_as_list),
        # KMS decrypts a secret with the key that protects it, on the caller's behalf: a parameter of its
        # own, so narrowing KmsKeyArnPattern to the BYOK keys never breaks the secret reads.
        _allow(["kms:Decrypt"], p.secret_keys.value_as_list),
        # NOTE: CloudMonitor has no resource-level permission for PutCustomMetric: '*' is its only form.
        _allow(["cms:PutCustomMetric"], ["*"]),
        # Tag discovery only (a material with `discover:`); ListKeys names no key.
        _allow(["kms:ListKeys"], ["*"]),
        _allow(["kms:ListResourceTags"], kms_keys),
        # Function Compute writes the function's stdout to the logstore with the function's role.
        _allow(["log:PostLogStoreLogs"], [logstore]),
    ]


def fanout_statements() -> list[Grant]:
    """Granted only with FanoutEnabled=true: a coordinator invokes its own function, asynchronously.
    Function Compute 3.0 names a function acs:fc:REGION:ACCOUNT:functions/NAME (its functionArn);
    NAME/* also covers the resource of an invocation that names a version or alias, should RAM check
    that one (.../functions/NAME/QUALIFIER). No other function matches either form."""
    function = "acs:fc:${ALIYUN::Region}:${ALIYUN::TenantId}:functions/${FunctionName}"
    return [_allow(["fc:InvokeFunction"], [core.Fn.sub(function), core.Fn.sub(function + "/*")])]


def _trust() -> ram.RosRole.AssumeRolePolicyDocumentProperty:
    """Function Compute assumes the role and hands its STS credentials to the function (context.credentials)."""
    return ram.RosRole.AssumeRolePolicyDocumentProperty(
        version="1",
        statement=[
            ram.RosRole.StatementProperty(
                action="sts:AssumeRole",
                effect="Allow",
                principal=ram.RosRole.PrincipalProperty(service=["fc.aliyuncs.com"]),
            )
        ],
    )


def build(stack: core.Stack, p: Parameters) -> ram.Role:
    role_statements = [
        ram.RosRole.PolicyDocumentStatementProperty(effect="Allow", action=actions, resource=resources)
        for actions, resources in statements(p)
    ]
    fanout_statement_list = [
        ram.RosManagedPolicy.StatementProperty(effect="Allow", action=actions, resource=resources)
        for actions, resources in fanout_statements()
    ]
    role = ram.Role(
        stack,
        "RenewerRole",
        ram.RoleProps(
            role_name=p.role_name.value_as_string,
            description="BYOK Renewer (Function Compute): re-imports KMS key material; least privilege.",
            assume_role_policy_document=_trust(),
            policies=[
                ram.RosRole.PoliciesProperty(
                    policy_name=core.Fn.sub("${RoleName}-renewal"),
                    description="BYOK Renewer: the README's RAM policy table.",
                    policy_document=ram.RosRole.PolicyDocumentProperty(version="1", statement=role_statements),
                )
            ],
        ),
        enable_resource_property_constraint=True,
    )
    fanout = ram.ManagedPolicy(
        stack,
        "FanoutPolicy",
        ram.ManagedPolicyProps(
            policy_name=core.Fn.sub("${RoleName}-fanout"),
            description="BYOK Renewer fan-out: the function may invoke itself.",
            policy_document=ram.RosManagedPolicy.PolicyDocumentProperty(version="1", statement=fanout_statement_list),
            roles=[role.attr_role_name],
        ),
        enable_resource_property_constraint=True,
    )
    fanout.add_condition(
        core.RosCondition(
            stack, "Fanout", expression=core.Fn.condition_equals(p.fanout_enabled.value_as_string, "true")
        )
    )
    return role
