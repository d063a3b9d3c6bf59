"""BYOK Renewer's account side as one ROS stack, synthesised by ROS CDK for Python: the function's
least-privilege RAM role, the SLS project, logstore and index for its logs, and the CloudMonitor
alarms on its metrics, with a dead-man's switch.

    python infra/app.py [--outdir DIR]     # DIR/ByokRenewerAccount.template.json
                                           # DIR: --outdir, else $CDK_OUTDIR (the ros-cdk CLI's), else infra/cdk.out

Synthesis runs ROS CDK's own checks offline (jsii types, then each resource's property constraints:
required properties, allowed values, lengths, patterns, ranges); the template is then deployed with ROS
(`aliyun ros CreateStack`, the console, or `ros-cdk deploy` from this folder: README, Deployment, 2).
The function itself (s.yaml) takes the outputs RoleArn, LogProject and LogStore.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import alarms
import logs
import parameters
import role
import ros_cdk_core as core

STACK = "ByokRenewerAccount"
DEFAULT_OUT = Path(__file__).resolve().parent / "cdk.out"


class AccountStack(core.Stack):
    def __init__(self, scope: core.Construct, construct_id: str) -> None:
        # NOTE: no enable_resource_property_constraint here. ros-cdk-core 1.15.0's Stack turns the
        # resources' property checks *off* when the option is given at all (stack.js: `=== undefined ?
        # true : false`); left out, every resource below is checked at synthesis (tests/test_infra.py
        # proves it with a property the checks refuse).
        super().__init__(
            scope,
            construct_id,
            description="BYOK Renewer: the function's RAM role, its logs (SLS) and its alarms (CloudMonitor).",
        )
        p = parameters.declare(self)
        renewer_role = role.build(self, p)
        project, store = logs.build(self, p)
        alarms.build(self, p)
        core.RosOutput(self, "RoleArn", value=renewer_role.attr_arn, description="s.yaml: the function's role")
        core.RosOutput(self, "LogProject", value=project.attr_name, description="s.yaml: logConfig.project")
        core.RosOutput(self, "LogStore", value=store.attr_logstore_name, description="s.yaml: logConfig.logstore")


def synth(outdir: Path) -> Path:
    """Synthesise the stack into ``outdir``; returns the template's path."""
    app = core.App(outdir=str(outdir))
    AccountStack(app, STACK)
    app.synth()
    return outdir / f"{STACK}.template.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=Path(os.environ.get("CDK_OUTDIR") or DEFAULT_OUT))
    args = parser.parse_args(argv)
    print(synth(args.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
