"""Errors named by their wire code.

Every rule the emulator enforces raises a :class:`ServiceError`; only the protocol layer
renders it (as the JSON error envelope the service returns). A direct backend call gets the
same error as a wire call.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error the real service would return: its ``Code``, ``Message`` and HTTP status."""

    def __init__(self, code: str, message: str, http_status: int = 400, reason: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.reason = reason  # a finer cause, for protocols that name it (AWS: IncorrectKeyMaterial, ...)


class AdminError(Exception):
    """An admin API (``/_emulator/...``) request refused: the emulator's own JSON error with this
    HTTP status, not the service's envelope. (A plain ``ValueError`` there is a 400.)"""

    def __init__(self, message: str, http_status: int) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


def missing_parameter(name: str) -> ServiceError:
    return ServiceError(
        "MissingParameter",
        f"The input parameter {name} that is mandatory for processing this request is not supplied.",
        400,
    )


def invalid_parameter(name: str, detail: str = "") -> ServiceError:
    suffix = f" {detail}" if detail else ""
    return ServiceError("InvalidParameter", f"The specified parameter {name} is not valid.{suffix}", 400)


def key_not_found(key_id: str) -> ServiceError:
    return ServiceError("Forbidden.KeyNotFound", f"The specified Key {key_id} is not found.", 404)


def alias_not_found(alias: str) -> ServiceError:
    return ServiceError("Forbidden.AliasNotFound", f"The specified Alias {alias} is not found.", 404)


def alias_already_exists(alias: str) -> ServiceError:
    return ServiceError("AliasAlreadyExists", f"The alias {alias} already exists.", 400)


def rejected_state(state: str) -> ServiceError:
    """The documented ``Rejected.<State>`` result (HTTP 409) for a key in the wrong state."""
    return ServiceError(f"Rejected.{state}", f"The request is rejected because the key is in {state} state.", 409)


def state_modify_failed(state: str) -> ServiceError:
    return ServiceError("Rejected.StateModifiedFailed", f"The key state cannot be modified from {state}.", 409)


def throttling() -> ServiceError:
    return ServiceError("Throttling", "Request was denied due to request throttling.", 400)


def unsupported_origin(key_id: str) -> ServiceError:
    return ServiceError(
        "Unsupported.Origin", f"The key {key_id} is not of origin EXTERNAL; key material cannot be imported.", 400
    )


def unsupported_alias() -> ServiceError:
    return ServiceError("Unsupported.Alias", "The operation does not accept an alias; specify the key id.", 400)


def invalid_import_token(detail: str) -> ServiceError:
    return ServiceError("InvalidImportToken", f"The import token is invalid: {detail}.", 400)


def expired_import_token() -> ServiceError:
    return ServiceError("ExpiredImportToken", "The import token has expired; call GetParametersForImport again.", 400)


def invalid_key_material(detail: str, reason: str) -> ServiceError:
    """``reason``: ``undecryptable``, ``size`` or ``mismatch`` (different from the key's material)."""
    return ServiceError("InvalidKeyMaterial", f"The key material is invalid: {detail}.", 400, reason)


def invalid_ciphertext() -> ServiceError:
    return ServiceError("InvalidCiphertext", "The ciphertext is invalid or was not produced by this key.", 400)


def resource_not_found(kind: str, name: str) -> ServiceError:
    return ServiceError("Forbidden.ResourceNotFound", f"The specified {kind} {name} is not found.", 404)


def resource_exists(kind: str, name: str) -> ServiceError:
    return ServiceError("Rejected.ResourceExist", f"The {kind} {name} already exists.", 400)


def unknown_action(action: str) -> ServiceError:
    return ServiceError(
        "InvalidAction.NotFound", f"Specified api {action} is not found, please check your url and method.", 404
    )


def unknown_version(version: str) -> ServiceError:
    return ServiceError("InvalidVersion", f"Specified parameter Version {version} is not valid.", 400)


# --- Request authentication (the protocol layer's checks, before any action runs) ---


def access_key_not_found() -> ServiceError:
    return ServiceError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)


def signature_does_not_match(string_to_sign: str) -> ServiceError:
    """The message ends with ``server string to sign is:<string>``, as the service's does.

    The legacy ``aliyun-python-sdk-core`` splits that message on ``:`` and compares the part
    after it with its own string to sign (to tell a wrong secret from a wrong canonicalisation).
    """
    message = f"Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
    return ServiceError("SignatureDoesNotMatch", message, 400)


def incomplete_signature(detail: str) -> ServiceError:
    message = f"The request signature does not conform to Aliyun standards. {detail}"
    return ServiceError("IncompleteSignature", message, 400)


def illegal_timestamp(name: str) -> ServiceError:
    message = (
        f'The input parameter "{name}" is not valid: it must be an ISO 8601 UTC time '
        "(yyyy-MM-ddTHH:mm:ssZ) within 15 minutes of the server's time."
    )
    return ServiceError("IllegalTimestamp", message, 400)


def signature_nonce_used() -> ServiceError:
    return ServiceError("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
