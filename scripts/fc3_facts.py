"""What the fc3 component accepts, for every field s.yaml uses: written by hand from the component's
published schema and documentation, each rule naming where its fact comes from.

Read from github devsapp/fc3 at commit 4ca1c1b (2026-05-28; publish.yaml ``Version: 0.1.22``):

- ``src/schema.json``: the JSON schema of a resource's ``props``, generated from ``src/interface/*.ts``
  (``npm run generate-schema``). Cited as ``schema.json <path>``.
- ``src/interface/*.ts`` and ``src/default/config.ts``: the same types, and the defaults fc3 fills in.
- ``src/utils/verify.ts``: fc3 validates ``props`` against that schema with ajv, but only logs the
  result at debug level and deploys anyway. So a misspelt field (``timeOut``) is ignored without a
  word and the function keeps fc3's default (``timeout: 3`` s): that is why this check refuses every
  field it has no rule for (the schema itself has no ``additionalProperties: false``).
- ``__tests__/e2e/*/s.yaml``, ``__tests__/complete-props.yaml``: how the fields are written.

Facts from Alibaba Cloud's Function Compute 3.0 documentation (not in fc3's schema) say so in their
source. The files are not vendored: these rules restate the facts they hold (enums value by value,
ranges, required fields), for the fields this project uses only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

SCHEMA = "devsapp/fc3 src/schema.json"


class Kind(Enum):
    """JSON schema types, as a YAML/JSON value must hold them (``integer`` never a bool)."""

    STRING = "a string"
    INTEGER = "an integer"
    NUMBER = "a number"
    BOOLEAN = "a boolean"
    OBJECT = "a mapping"
    MAP = "a mapping of names to strings"
    ARRAY = "a list"


@dataclass(frozen=True)
class Rule:
    """One value: its kind, bounds and, for a mapping, its fields (any other field is refused)."""

    kind: Kind
    source: str
    fields: Mapping[str, Rule] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    items: Rule | None = None  # ARRAY: each item; MAP: each value
    enum: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    multiple_of: int | None = None


def _string(source: str, *enum: str) -> Rule:
    return Rule(Kind.STRING, source, enum=enum)


# schema.json definitions.IRegion (src/interface/region.ts): the regions fc3 deploys to.
REGIONS = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-7",
    "cn-beijing",
    "cn-chengdu",
    "cn-hangzhou",
    "cn-heyuan-acdr-1",
    "cn-hongkong",
    "cn-huhehaote",
    "cn-qingdao",
    "cn-shanghai",
    "cn-shanghai-cloudspe",
    "cn-shanghai-finance-1",
    "cn-shenzhen",
    "cn-wulanchabu",
    "cn-zhangjiakou",
    "eu-central-1",
    "eu-west-1",
    "me-central-1",
    "us-east-1",
    "us-west-1",
)

# schema.json definitions.IRuntime (src/interface/base.ts, enum Runtime): every runtime fc3 knows.
RUNTIMES = (
    "custom",
    "custom-container",
    "micro-sandbox",
    "custom.debian10",
    "custom.debian11",
    "custom.debian12",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "go1",
    "java11",
    "java8",
    "nodejs10",
    "nodejs12",
    "nodejs14",
    "nodejs16",
    "nodejs18",
    "nodejs20",
    "nodejs8",
    "php7.2",
    "python2.7",
    "python3",
    "python3.10",
    "python3.12",
    "python3.9",
)

# schema.json definitions.ITriggerType (src/interface/base.ts, enum TriggerType).
TRIGGER_TYPES = ("cdn_events", "eventbridge", "http", "log", "mns_topic", "oss", "tablestore", "timer")

TIMER_TRIGGER_CONFIG = Rule(
    Kind.OBJECT,
    f"{SCHEMA} definitions.ITimerTriggerConfig (src/interface/trigger.ts)",
    fields={
        "cronExpression": _string(f"{SCHEMA} definitions.ITimerTriggerConfig.cronExpression"),
        "enable": Rule(Kind.BOOLEAN, f"{SCHEMA} definitions.ITimerTriggerConfig.enable"),
        # The trigger's message, handed to the function as the event's `payload` string.
        "payload": _string(f"{SCHEMA} definitions.ITimerTriggerConfig.payload"),
    },
    required=("cronExpression", "enable"),
)

TRIGGER = Rule(
    Kind.OBJECT,
    f"{SCHEMA} definitions.ITrigger",
    fields={
        "triggerName": _string(f"{SCHEMA} definitions.ITrigger.triggerName"),
        "triggerType": _string(f"{SCHEMA} definitions.ITriggerType", *TRIGGER_TYPES),
        "description": _string(f"{SCHEMA} definitions.ITrigger.description"),
        # ITrigger.triggerConfig is anyOf the eight trigger configs; the project has a timer only
        # (check_s_yaml's project rules refuse any other type), so the timer's config is the rule.
        "triggerConfig": TIMER_TRIGGER_CONFIG,
    },
    required=("triggerConfig", "triggerName", "triggerType"),
)

DESTINATION = Rule(
    Kind.OBJECT,
    f"{SCHEMA} definitions.IDestination",
    fields={"destination": _string(f"{SCHEMA} definitions.IDestination.destination")},
)

ASYNC_INVOKE_CONFIG = Rule(
    Kind.OBJECT,
    f"{SCHEMA} definitions.IAsyncInvokeConfig (src/interface/async_invoke_config.ts)",
    fields={
        # number, 0..8, default 3 (Function Compute's API: PutAsyncInvokeConfigInput, the same range).
        "maxAsyncRetryAttempts": Rule(
            Kind.NUMBER, f"{SCHEMA} definitions.IAsyncInvokeConfig.maxAsyncRetryAttempts", minimum=0, maximum=8
        ),
        "destinationConfig": Rule(
            Kind.OBJECT,
            f"{SCHEMA} definitions.IDestinationConfig",
            fields={"onFailure": DESTINATION, "onSuccess": DESTINATION},
        ),
    },
)

LOG_CONFIG = Rule(
    Kind.OBJECT,
    # props.logConfig is anyOf ILogConfig or the string 'auto' (fc3 then creates a project of its
    # own); the project always names the account stack's project and logstore.
    f"{SCHEMA} definitions.ILogConfig",
    fields={
        "project": _string(f"{SCHEMA} definitions.ILogConfig.project"),
        "logstore": _string(f"{SCHEMA} definitions.ILogConfig.logstore"),
        "enableRequestMetrics": Rule(Kind.BOOLEAN, f"{SCHEMA} definitions.ILogConfig.enableRequestMetrics"),
        "logBeginRule": _string(f"{SCHEMA} definitions.ILogConfig.logBeginRule", "DefaultRegex", "None"),
    },
    required=("logstore", "project"),
)

PROPS = Rule(
    Kind.OBJECT,
    f"{SCHEMA} properties (IProps, src/interface/index.ts)",
    fields={
        "region": _string(f"{SCHEMA} definitions.IRegion", *REGIONS),
        "functionName": _string(f"{SCHEMA} properties.functionName"),
        "description": _string(f"{SCHEMA} properties.description"),
        "runtime": _string(f"{SCHEMA} definitions.IRuntime", *RUNTIMES),
        "handler": _string(f"{SCHEMA} properties.handler"),
        # ICodeUri is anyOf a string (a local folder or zip) or {ossBucketName, ossObjectName, src};
        # the project deploys the folder `make package` builds.
        "code": _string(f"{SCHEMA} definitions.ICodeUri"),
        # integer 1..86400, fc3's default 3 (src/default/config.ts FUNCTION_DEFAULT_CONFIG).
        "timeout": Rule(Kind.INTEGER, f"{SCHEMA} properties.timeout", minimum=1, maximum=86400),
        # integer 128..32768 in steps of 64, default 512.
        "memorySize": Rule(Kind.INTEGER, f"{SCHEMA} properties.memorySize", minimum=128, maximum=32768, multiple_of=64),
        "internetAccess": Rule(Kind.BOOLEAN, f"{SCHEMA} properties.internetAccess"),
        "role": _string(f"{SCHEMA} properties.role"),
        "environmentVariables": Rule(
            Kind.MAP, f"{SCHEMA} definitions.IKV", items=_string(f"{SCHEMA} definitions.IKV.additionalProperties")
        ),
        "logConfig": LOG_CONFIG,
        "triggers": Rule(Kind.ARRAY, f"{SCHEMA} properties.triggers", items=TRIGGER),
        "asyncInvokeConfig": ASYNC_INVOKE_CONFIG,
    },
    # Always functionName, region, runtime; and code and handler for a runtime that is neither
    # custom-container/micro-sandbox nor custom* (the schema's if/then/else): every python runtime.
    required=("functionName", "region", "runtime", "code", "handler"),
)
