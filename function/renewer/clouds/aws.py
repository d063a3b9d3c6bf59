"""AWS through ``boto3``: KMS (the import target), Secrets Manager (a material source) and CloudWatch
(metrics). This module is imported only when the configuration names an AWS key, source or metrics
destination, so an Alibaba-only function never loads ``boto3``.

Endpoints and credentials follow boto3's own conventions (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_KMS``, ..., and the default credential chain). botocore's own retries are off
(``total_max_attempts: 1``): :class:`renewer.run.retry.Caller` retries, counts and honours the deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from renewer.clouds import transport
from renewer.clouds.targets import ImportParameters, KeyInfo, MaterialInfo, parse_http_date
from renewer.errors import CloudError, ErrorKind, kind_from, retry_after
from renewer.materials.wrapping import WrappingAlgorithm
from renewer.once import OncePer
from renewer.run.retry import Caller

T = TypeVar("T")
MAX_VALIDITY_DAYS = 365  # AWS KMS refuses a ValidTo further ahead
# botocore's ``max_attempts`` counts retries (1 = one retry, measured: tests/function/test_aws.py);
# ``total_max_attempts`` counts attempts: 1 = botocore never retries, the run's Caller does.
BOTO_CONFIG = BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10)


#: The service's codes by what they mean (botocore's KMS, Secrets Manager and CloudWatch models and
#: the AWS KMS API reference, "Common Errors"; KMS's request quotas answer ``ThrottlingException``,
#: see renewer.run.quotas); any other 5xx is transient too, any other code permanent.
_KINDS: dict[str, ErrorKind] = {
    **dict.fromkeys(("ThrottlingException", "Throttling", "RequestLimitExceeded"), ErrorKind.THROTTLED),
    **dict.fromkeys(
        (
            "KMSInternalException",
            "DependencyTimeoutException",
            "ServiceUnavailableException",
            "ServiceUnavailable",
            "InternalServiceError",
            "InternalFailure",
            "InternalError",
        ),
        ErrorKind.TRANSIENT,
    ),
    **dict.fromkeys(("ExpiredImportTokenException", "InvalidImportTokenException"), ErrorKind.STALE_IMPORT_TOKEN),
    **dict.fromkeys(
        (
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidSignatureException",
            "IncompleteSignature",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "MissingAuthenticationToken",
            "SignatureDoesNotMatch",
        ),
        ErrorKind.CREDENTIALS,
    ),
    **dict.fromkeys(("NotFoundException", "ResourceNotFoundException"), ErrorKind.NOT_FOUND),
}


def kind_of(code: str, message: str, status: int | None) -> ErrorKind:
    """The kind of one of the service's errors. A ``ValidationException`` about ``ValidTo`` is the
    service rejecting our new expiry (in the past, or over 365 days ahead, by its own clock)."""
    if code == "ValidationException" and "ValidTo" in message:
        return ErrorKind.EXPIRY_REJECTED
    return kind_from(_KINDS, code, status)


def translate(exc: BaseException, action: str) -> CloudError | None:
    """botocore exceptions as :class:`CloudError` (the error code and message only, and its kind),
    or None for an exception that is not botocore's. botocore's exception is not kept as the cause."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        metadata = exc.response.get("ResponseMetadata", {})
        status = metadata.get("HTTPStatusCode")
        code, message = str(error.get("Code") or "UnknownError"), str(error.get("Message") or "")
        if code in _REJECTED:
            return CloudError(
                "CredentialsRejected",
                f"{action}: the service refused the credentials ({code}: {message})",
                kind=ErrorKind.CREDENTIALS,
                http_status=status,
                action=action,
            )
        wait = retry_after((metadata.get("HTTPHeaders") or {}).get("retry-after"))  # botocore lower-cases them
        kind = kind_of(code, message, status)
        return CloudError(code, message, kind=kind, http_status=status, action=action, retry_after=wait)
    if isinstance(exc, NoCredentialsError):
        return CloudError(
            "CredentialsMissing",
            f"{action}: no AWS credentials: boto3's chain (environment, shared files, container and instance "
            "roles) found none",
            kind=ErrorKind.CREDENTIALS,
            action=action,
        )
    if isinstance(exc, BotoCoreError):  # endpoint unreachable, timeouts
        kwargs = getattr(exc, "kwargs", {}) or {}
        endpoint = kwargs.get("endpoint_url")
        return transport.network_error(action, str(endpoint) if endpoint else None, exc, str(kwargs.get("error", "")))
    return None


#: Codes with which AWS refuses the credentials themselves (not a missing permission).
_REJECTED = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
    }
)


def required(response: dict[str, Any], field: str, action: str) -> Any:
    """A field the service's answer must carry; its absence means something else answered (a proxy's
    page parses as an empty answer in botocore): ``UnexpectedResponse``, not a KeyError."""
    if field not in response:
        raise CloudError(
            "UnexpectedResponse",
            f"{action}: the endpoint's answer has no {field}: it is not the service's API",
            kind=ErrorKind.PERMANENT,
            action=action,
        )
    return response[field]


def _epoch(value: datetime | float | None) -> float | None:
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


class AwsClients:
    """boto3 clients per (service, region), created once per run and reused."""

    def __init__(self, caller_for: Callable[[str], Caller]) -> None:
        self.caller_for = caller_for
        session = boto3.session.Session()
        self._clients: OncePer[tuple[str, str], Any] = OncePer(
            lambda where: session.client(where[0], region_name=where[1], config=BOTO_CONFIG)
        )

    def _client(self, service: str, region: str) -> Any:
        return self._clients.get((service, region))

    def kms(self, region: str) -> AwsKms:
        return AwsKms(region, self._client("kms", region), self.caller_for(f"aws:{region}"))

    def secrets(self, region: str) -> AwsSecrets:
        return AwsSecrets(self._client("secretsmanager", region), self.caller_for(f"aws:{region}"))

    def cloudwatch(self, region: str) -> AwsCloudWatch:
        return AwsCloudWatch(self._client("cloudwatch", region), self.caller_for(f"aws:{region}"))


class _Called:
    def __init__(self, client: Any, caller: Caller) -> None:
        self.client = client
        self.caller = caller

    def _call(self, action: str, call: Callable[[], T], *, idempotent: bool = True) -> T:
        return self.caller.call(action, call, translate, idempotent=idempotent)


class AwsKms(_Called):
    """The KMS calls the renewal flow makes, in one AWS region."""

    def __init__(self, region: str, client: Any, caller: Caller) -> None:
        super().__init__(client, caller)
        self.region = region

    def describe_key(self, key_id: str) -> KeyInfo:
        response = self._call("DescribeKey", lambda: self.client.describe_key(KeyId=key_id))
        meta = required(response, "KeyMetadata", "DescribeKey")
        date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        return KeyInfo(
            meta["KeyId"],
            meta["Arn"],
            meta.get("Origin", ""),
            meta.get("KeyState", ""),
            _epoch(meta.get("ValidTo")),
            parse_http_date({"date": date} if date else None),
            meta.get("CurrentKeyMaterialId"),
            meta.get("KeySpec"),
        )

    def list_key_materials(self, key_id: str) -> list[MaterialInfo]:
        """Every key material of a symmetric key, oldest first: ``ListKeyRotations`` with
        ``IncludeKeyMaterial`` ``ALL_KEY_MATERIAL`` (the first material and any pending rotation as
        well as the rotated ones), every page."""
        materials: list[MaterialInfo] = []
        marker: str | None = None
        while True:
            arguments: dict[str, Any] = {"KeyId": key_id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL", "Limit": 1000}
            if marker:
                arguments["Marker"] = marker
            page = self._call(
                "ListKeyRotations", lambda arguments=arguments: self.client.list_key_rotations(**arguments)
            )
            for entry in required(page, "Rotations", "ListKeyRotations"):
                materials.append(
                    MaterialInfo(
                        entry["KeyMaterialId"],
                        entry.get("ImportState") != "PENDING_IMPORT",
                        entry.get("KeyMaterialState"),
                        _epoch(entry.get("ValidTo")),
                    )
                )
            marker = page.get("NextMarker")
            if not page.get("Truncated") or not marker:
                return materials

    def get_parameters_for_import(self, key_id: str, algorithm: str) -> ImportParameters:
        spec = "RSA_4096" if WrappingAlgorithm(algorithm).two_step else "RSA_2048"
        response = self._call(
            "GetParametersForImport",
            lambda: self.client.get_parameters_for_import(
                KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
            ),
        )
        public_key = required(response, "PublicKey", "GetParametersForImport")
        token = required(response, "ImportToken", "GetParametersForImport")
        return ImportParameters(
            response.get("KeyId", key_id), public_key, token, _epoch(response.get("ParametersValidTo"))
        )

    def import_key_material(
        self, key_id: str, wrapped: bytes, token: bytes, expire_unix: int, material_id: str | None = None
    ) -> str | None:
        """``material_id``: re-import that key material (``ImportType`` ``EXISTING_KEY_MATERIAL`` with its
        ``KeyMaterialId``). Without it ``ImportType`` is left out: AWS then imports the key's first
        material into a never-imported key, and treats any later import as ``EXISTING_KEY_MATERIAL``
        (botocore's ImportKeyMaterialRequest.ImportType). ``NEW_KEY_MATERIAL`` is never sent: adding a
        key material is a rotation, an operator's decision."""
        arguments: dict[str, Any] = {"KeyId": key_id, "ImportToken": token, "EncryptedKeyMaterial": wrapped}
        if material_id:
            arguments.update(ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=material_id)
        if expire_unix:
            arguments.update(
                ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=datetime.fromtimestamp(expire_unix, tz=timezone.utc)
            )
        else:
            arguments.update(ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        response = self._call("ImportKeyMaterial", lambda: self.client.import_key_material(**arguments))
        return response.get("KeyMaterialId")

    def canary(self, key_id: str, plaintext: bytes) -> bytes:
        blob = self._call("Encrypt", lambda: self.client.encrypt(KeyId=key_id, Plaintext=plaintext))
        blob = blob["CiphertextBlob"]
        return self._call("Decrypt", lambda: self.client.decrypt(CiphertextBlob=blob))["Plaintext"]

    def list_key_ids(self) -> list[str]:
        ids: list[str] = []
        marker: str | None = None
        while True:
            page = self._call(
                "ListKeys",
                lambda marker=marker: self.client.list_keys(**({"Marker": marker} if marker else {}), Limit=1000),
            )
            ids.extend(k["KeyId"] for k in page.get("Keys", []))
            marker = page.get("NextMarker")
            if not page.get("Truncated") or not marker:
                return ids

    def list_resource_tags(self, key_id: str) -> dict[str, str]:
        tags = self._call("ListResourceTags", lambda: self.client.list_resource_tags(KeyId=key_id)).get("Tags", [])
        return {t["TagKey"]: t.get("TagValue", "") for t in tags}


class AwsSecrets(_Called):
    def get_secret(self, name: str, version_stage: str | None) -> tuple[str | None, bytes | None]:
        """(SecretString, SecretBinary) of the secret's current (or named-stage) version."""
        arguments = {"SecretId": name, **({"VersionStage": version_stage} if version_stage else {})}
        response = self._call("GetSecretValue", lambda: self.client.get_secret_value(**arguments))
        return response.get("SecretString"), response.get("SecretBinary")


class AwsCloudWatch(_Called):
    BATCH = 500  # PutMetricData takes up to 1,000 items per call

    def put_metric_data(self, namespace: str, data: list[dict[str, Any]]) -> None:
        for start in range(0, len(data), self.BATCH):
            batch = data[start : start + self.BATCH]
            self._call(  # not repeated after a timeout: CloudWatch may have stored it (no duplicates)
                "PutMetricData",
                lambda batch=batch: self.client.put_metric_data(Namespace=namespace, MetricData=batch),
                idempotent=False,
            )
