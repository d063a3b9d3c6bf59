"""The registry of the error codes this function emits itself (the services' own codes, passed
through in reports, are not listed): what each means, whether a re-run alone can clear it, and the
runbook line. The report adds the runbook line to every failed key whose code is here; the README's
"Error codes" table is checked against this registry (``tests/unit/test_codes.py``), and so is every
``code="..."`` the package raises.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    meaning: str
    retryable: bool  # True: the next run may succeed with nothing changed
    runbook: str


_NOTHING = "Nothing was imported."

CODES: dict[str, Code] = {
    # invocation
    "InvalidConfiguration": Code(
        "the configuration or an environment variable is invalid", False, "Fix the field the message names."
    ),
    "InvalidEvent": Code("the invocation event is malformed", False, "Fix the event the message names."),
    "RenewalFailed": Code(
        "the invocation failed because at least one key failed or is unverified, or a material's source failed",
        False,
        "Read the report's keys and run.materials: each failure has its own code.",
    ),
    # materials
    "InvalidMaterial": Code("the material could not be used", False, f"{_NOTHING} Check the source."),
    "MaterialNotFound": Code(
        "the material's source is missing or unreadable", False, f"{_NOTHING} Restore the secret, file or variable."
    ),
    "MaterialWrongSize": Code(
        "the material does not decode to the key's size", False, f"{_NOTHING} Restore the right value (the KCV tells)."
    ),
    "MaterialNotDecodable": Code(
        "the material is neither hex nor base64 text", False, f"{_NOTHING} Restore the right value, or set encoding."
    ),
    "MaterialEncodingAmbiguous": Code(
        "32 printable bytes: raw material or text encoding another?",
        False,
        "Set encoding (raw, hex or base64) on the source.",
    ),
    "KcvMismatch": Code(
        "the material's key check value differs from the configured kcv",
        False,
        f"{_NOTHING} The source holds another material than the key was made with; restore it.",
    ),
    "HsmKeyNotFound": Code("no key with the label on the token", False, "Check the label and the token."),
    "HsmKeyAmbiguous": Code("more than one key with the label", False, "Keep one key per label on the token."),
    "HsmKeyWrongType": Code(
        "the HSM key is not an AES key of 16 or 32 bytes", False, "Label the key the KMS key was made with."
    ),
    "HsmKeyNotSensitive": Code("the HSM key is not sensitive", False, "Set CKA_SENSITIVE on the HSM key."),
    "HsmKeyNotExtractable": Code(
        "the HSM key cannot be wrapped", False, "Set CKA_EXTRACTABLE (wrapping is its only way out)."
    ),
    "HsmKcvUnavailable": Code("the HSM cannot compute the KCV", False, "Remove kcv, or allow the HSM to encrypt."),
    "HsmWrapRefused": Code("the HSM refused to wrap the key", False, "Allow the wrapping mechanism on the token."),
    # keys
    "KeyNotRenewable": Code("the key cannot take imported material as it stands", False, "Read the message."),
    "NotExternal": Code(
        "the key's origin is not EXTERNAL", False, "The configuration lists a key that cannot take imported material."
    ),
    "PendingDeletion": Code("the key is pending deletion", False, "Cancel the deletion first, or unlist the key."),
    "AmbiguousMaterial": Code(
        "one key is reached under two materials", False, f"{_NOTHING} Keep the key under one material."
    ),
    "AmbiguityUnchecked": Code(
        "a fan-out worker could not describe another material's alias in the region", True, "Re-run."
    ),
    "ShardKeyRefused": Code(
        "a shard named a key this worker's configuration does not find", False, "Check the event; nothing was done."
    ),
    "ClockSkew": Code(
        "the function's clock and the service's differ by over 5 minutes", True, "Fix the clock, then re-run."
    ),
    "KeySpecUnsupported": Code(
        "the key is not a symmetric key (Aliyun_AES_256, Aliyun_SM4, SYMMETRIC_DEFAULT)",
        False,
        f"{_NOTHING} Asymmetric and HMAC keys take other material; remove the key from the configuration.",
    ),
    "WrappingUnsupported": Code(
        "the wrapping algorithm is not offered for this key (SM2PKE: HSM keys only)",
        False,
        f"{_NOTHING} Use RSAES_OAEP_SHA_256 for this key, or move it under a material whose algorithm it takes.",
    ),
    "KeyMaterialUnconfigured": Code(
        "an AWS key holds a key material no configured material is assigned to",
        False,
        f"{_NOTHING} List the key once per key material (ListKeyRotations with IncludeKeyMaterial "
        "ALL_KEY_MATERIAL shows them), each with its key_material_id, under the material it was imported from.",
    ),
    "KeyMaterialIdNotFound": Code(
        "the configured key_material_id is not one of the key's key materials",
        False,
        f"{_NOTHING} Correct keys[].key_material_id: the message lists the ids the key holds.",
    ),
    "KeyMaterialIdChanged": Code(
        "the service reports another key material id after the import",
        False,
        "The key now holds other material than it had: stop and investigate before any other run.",
    ),
    "ImportParametersInvalid": Code(
        "GetParametersForImport returned a public key that cannot be used",
        True,
        "Re-run; contact support if it persists.",
    ),
    "VerificationFailed": Code(
        "the import was accepted, but the key does not show the new state or expiry",
        True,
        "The next run verifies it again; if it persists, contact support with the request ids.",
    ),
    "DeadlineExceeded": Code(
        "a call was not started, or was abandoned, at the function's deadline",
        True,
        "Raise the timeout, or let the next run finish.",
    ),
    # calls
    "ConnectionError": Code(
        "no connection, or no answer in time: the host:port and the cause are in the message",
        True,
        "Refused or timed out: is the endpoint up, and reachable from the function's network? "
        "A name that does not resolve or a failed TLS handshake is not retried: fix the endpoint.",
    ),
    "CredentialsMissing": Code(
        "no credentials: the message lists the providers the SDK's chain tried",
        False,
        "On Function Compute, give the function a role; elsewhere set ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET "
        "(or AWS_ACCESS_KEY_ID/_SECRET for AWS).",
    ),
    "CredentialsRejected": Code(
        "the service refused the credentials (unknown key id, bad signature, expired token)",
        False,
        "Check the access key (and the clock, for expired tokens); the service's own code is in the message.",
    ),
    "UnexpectedResponse": Code(
        "the endpoint answered with something that is not the service's API (HTML, invalid JSON, empty)",
        False,
        "Check the endpoint settings (RENEWER_ALIBABA_ENDPOINT(S), AWS_ENDPOINT_URL*): a proxy or a wrong "
        "host answers there.",
    ),
    "UnknownError": Code("a service error without a code", True, "Re-run; contact support if it persists."),
    "FcError": Code("Function Compute failed without a code", True, "Re-run; check the function's logs."),
    "FanoutPayloadTooLarge": Code(
        "a fan-out shard's event is over Function Compute's 128 KB asynchronous limit",
        True,
        "Nothing was imported. Shorten the key's configured name (a key id instead of a long ARN or alias).",
    ),
    "FanoutFailed": Code(
        "invoking a fan-out worker failed: its keys were not renewed",
        True,
        "Check fc:InvokeFunction and the function's concurrency, then re-run.",
    ),
    "RenewerBug": Code(
        "an unexpected exception: a bug in this function", False, "Report it with the log line; the key was left."
    ),
    "RenewerError": Code("an error of this function without a code of its own", False, "Report it."),
}


def runbook(code: str | None) -> str | None:
    entry = CODES.get(code or "")
    return entry.runbook if entry else None
