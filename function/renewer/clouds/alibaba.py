"""Alibaba Cloud through its official SDKs: KMS (keys and secrets) and CloudMonitor.

One :class:`AlibabaClients` per run creates each region's SDK client once and reuses it. SDK
errors become :class:`CloudError` carrying only the service's ``Code`` and ``Message``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config
from darabonba.exceptions import ResponseException
from darabonba.policy.retry import RetryOptions

from renewer.clouds import transport
from renewer.clouds.targets import ImportParameters, KeyInfo, parse_http_date, parse_time
from renewer.credentials import Credentials, default_chain
from renewer.errors import CloudError, ErrorKind, kind_from, retry_after
from renewer.inputs import clip
from renewer.materials.wrapping import WrappingAlgorithm
from renewer.once import OncePer
from renewer.run.retry import Caller
from renewer.settings import Settings

T = TypeVar("T")


#: The service's codes by what they mean (API reference, "Error codes", for KMS, CMS and STS; KMS's
#: request quotas answer 429 ``Rejected.Throttling``, see renewer.run.quotas); any other 5xx is
#: transient too, any other code permanent.
_KINDS: dict[str, ErrorKind] = {
    **dict.fromkeys(
        ("Throttling", "Throttling.User", "Throttling.Api", "Rejected.Throttling"),
        ErrorKind.THROTTLED,
    ),
    **dict.fromkeys(
        (
            "ServiceUnavailable",
            "ServiceUnavailableTemporary",
            "InternalFailure",
            "InternalError",
        ),
        ErrorKind.TRANSIENT,
    ),
    **dict.fromkeys(("ExpiredImportToken", "InvalidImportToken"), ErrorKind.STALE_IMPORT_TOKEN),
    **dict.fromkeys(
        (
            "InvalidAccessKeyId.NotFound",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "InvalidSecurityToken.Expired",
            "InvalidSecurityToken.Malformed",
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Forbidden.NoPermission",
            "Forbidden.RAM",
            "Forbidden",
        ),
        ErrorKind.CREDENTIALS,
    ),
    **dict.fromkeys(
        ("Forbidden.KeyNotFound", "Forbidden.AliasNotFound", "Forbidden.ResourceNotFound"), ErrorKind.NOT_FOUND
    ),
}


def kind_of(code: str, message: str, status: int | None) -> ErrorKind:
    """The kind of one of the service's errors. ``KeyMaterialExpireUnix`` refused as
    ``InvalidParameter`` is the service rejecting our new expiry (earlier than its own time)."""
    if code == "InvalidParameter" and "KeyMaterialExpireUnix" in message:
        return ErrorKind.EXPIRY_REJECTED
    return kind_from(_KINDS, code, status)


#: Codes with which the service refuses the credentials themselves (not a missing permission).
_REJECTED = frozenset(
    {
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId",
        "InvalidAccessKeyId.Inactive",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidSecurityToken.Expired",
        "InvalidSecurityToken.Malformed",
        "InvalidSecurityToken.MismatchWithAccessKey",
    }
)


def translate(exc: BaseException, action: str, endpoint: str | None = None) -> CloudError | None:
    """An SDK exception as a :class:`CloudError` (the service's code and message only, and its
    kind), or None for an exception that is not the SDK's. The SDK's exception is not kept as the
    cause: it holds the request, whose query string carries the import token and the wrapped material.

    No credentials at all is ``CredentialsMissing`` (with the chain the SDK tried); credentials the
    service refuses are ``CredentialsRejected``; neither is retried. An answer that is not the API's
    (HTML, invalid JSON, empty) is ``UnexpectedResponse``; no connection is ``ConnectionError`` with
    the host, port and cause."""
    if isinstance(exc, ResponseException):
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("Message") or exc.message or "")
        code = str(exc.code or "UnknownError")
        if code in _REJECTED:
            return CloudError(
                "CredentialsRejected",
                f"{action}: the service refused the credentials ({code}: {message})",
                kind=ErrorKind.CREDENTIALS,
                http_status=exc.status_code,
                action=action,
            )
        kind = kind_of(code, message, exc.status_code)
        # The SDK reads the x-acs-retry-after header of a throttling answer, in milliseconds.
        wait = retry_after(getattr(exc, "retry_after", None), 0.001)
        return CloudError(code, message, kind=kind, http_status=exc.status_code, action=action, retry_after=wait)
    inner = getattr(exc, "inner_exception", None) or exc  # UnretryableException wraps the transport error
    if isinstance(inner, CredentialException):
        return CloudError(
            "CredentialsMissing",
            f"{action}: no credentials: {clip(str(inner), 600)}",
            kind=ErrorKind.CREDENTIALS,
            action=action,
        )
    unexpected = transport.unexpected_response(action, endpoint, str(inner))
    if unexpected is not None:
        return unexpected
    if isinstance(inner, (OSError, TimeoutError)) or type(inner).__module__.startswith(_SDK_MODULES):
        # darabonba turns every transport error into RetryError(str(error)): only its text tells a
        # read timeout (the request was sent; the service may have acted) from a refused connection.
        return transport.network_error(action, endpoint, inner)
    return None


_SDK_MODULES = ("requests", "urllib3", "aiohttp", "Tea", "darabonba", "alibabacloud")


class AlibabaClients:
    """SDK clients per region, created on first use and reused for the whole run. Every call goes
    through ``caller_for(region)``: the region's request budget and the retry policy."""

    def __init__(
        self, settings: Settings, credentials: Credentials | None, caller_for: Callable[[str], Caller]
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.caller_for = caller_for
        self._kms: OncePer[str, KmsClient] = OncePer(lambda region: KmsClient(self._config(region)))
        self._cms: OncePer[str, Any] = OncePer(self._cms_client)
        self._chain: OncePer[None, Any] = OncePer(lambda _: default_chain())

    def _config(self, region: str) -> Config:
        # The SDK's own retries stay off: renewer.run.retry.Caller retries, counts and honours the deadline.
        config = Config(
            region_id=region,
            read_timeout=10_000,
            connect_timeout=5_000,
            retry_options=RetryOptions({"retryable": False}),
        )
        if self.credentials is not None:
            config.access_key_id = self.credentials.access_key_id
            config.access_key_secret = self.credentials.access_key_secret
            config.security_token = self.credentials.security_token or None
        else:
            config.credential = self._chain.get(None)  # one chain per run, shared by its clients
        endpoint = self.settings.endpoint(region)
        if endpoint is not None:
            config.endpoint = endpoint.host
            config.protocol = endpoint.protocol
        return config

    def _cms_client(self, region: str) -> Any:
        from alibabacloud_cms20190101.client import Client as CmsClient  # only when metrics go to CloudMonitor

        return CmsClient(self._config(region))

    def kms(self, region: str) -> AlibabaKms:
        return AlibabaKms(region, self._kms.get(region), self.caller_for(region))

    def cms(self, region: str) -> AlibabaCms:
        return AlibabaCms(self._cms.get(region), self.caller_for(region))


class AlibabaKms:
    """The KMS calls the renewal flow makes, in one region, each within budget and retried."""

    def __init__(self, region: str, client: KmsClient, caller: Caller) -> None:
        self.region = region
        self.client = client
        self.caller = caller

    def _call(self, action: str, call: Callable[[], T]) -> T:
        return self.caller.call(action, call, partial(translate, endpoint=_endpoint_of(self.client)))

    def describe_key(self, key_id: str) -> KeyInfo:
        request = kms_models.DescribeKeyRequest(key_id=key_id)
        response = self._call("DescribeKey", lambda: self.client.describe_key(request))
        meta = response.body.key_metadata
        return KeyInfo(
            meta.key_id,
            meta.arn,
            meta.origin,
            meta.key_state,
            parse_time(meta.material_expire_time),
            parse_http_date(response.headers),
            key_spec=meta.key_spec,
            protection_level=meta.protection_level,
            instance_id=meta.dkmsinstance_id or None,
        )

    def get_parameters_for_import(self, key_id: str, algorithm: str) -> ImportParameters:
        spec = WrappingAlgorithm(algorithm).wrapping_key_spec  # EC_SM2 for SM2PKE, else RSA_2048
        request = kms_models.GetParametersForImportRequest(
            key_id=key_id, wrapping_algorithm=algorithm, wrapping_key_spec=spec
        )
        body = self._call("GetParametersForImport", lambda: self.client.get_parameters_for_import(request)).body
        # PublicKey is base64 DER; the import token is an opaque string, carried as its UTF-8.
        public_key = base64.b64decode(body.public_key or "", validate=True)
        token = (body.import_token or "").encode()
        return ImportParameters(body.key_id, public_key, token, parse_time(body.token_expire_time))

    def import_key_material(
        self, key_id: str, wrapped: bytes, token: bytes, expire_unix: int, material_id: str | None = None
    ) -> None:
        """Alibaba Cloud KMS reports no key material id (a key holds one material): returns None."""
        request = kms_models.ImportKeyMaterialRequest(
            key_id=key_id,
            encrypted_key_material=base64.b64encode(wrapped).decode(),
            import_token=token.decode(),
            key_material_expire_unix=expire_unix,
        )
        self._call("ImportKeyMaterial", lambda: self.client.import_key_material(request))

    def canary(self, key_id: str, plaintext: bytes) -> bytes:
        """Encrypt then decrypt ``plaintext`` under the key; returns what came back. The API's
        Plaintext is text: the bytes travel as base64 text, and come back as the same text."""
        encrypt = kms_models.EncryptRequest(key_id=key_id, plaintext=base64.b64encode(plaintext).decode())
        blob = self._call("Encrypt", lambda: self.client.encrypt(encrypt)).body.ciphertext_blob
        decrypt = kms_models.DecryptRequest(ciphertext_blob=blob)
        text = self._call("Decrypt", lambda: self.client.decrypt(decrypt)).body.plaintext or ""
        return base64.b64decode(text)

    def list_key_ids(self, page_size: int = 100, filters: list[dict[str, Any]] | None = None) -> list[str]:
        """Every key id in the region (``ListKeys``, all pages of at most 100), or only those matching
        ``filters`` (``ListKeys``'s ``Filters``: ``[{"Key": "TagKey", "Values": [...]}, ...]``, a JSON
        array as the SDK model documents it)."""
        ids: list[str] = []
        page = 1
        text = json.dumps(filters, separators=(",", ":")) if filters else None
        while True:
            request = kms_models.ListKeysRequest(page_number=page, page_size=page_size, filters=text)
            body = self._call("ListKeys", lambda request=request: self.client.list_keys(request)).body
            keys = body.keys.key if body.keys and body.keys.key else []
            ids.extend(k.key_id for k in keys)
            if not keys or len(ids) >= (body.total_count or 0):
                return ids
            page += 1

    def list_resource_tags(self, key_id: str) -> dict[str, str]:
        request = kms_models.ListResourceTagsRequest(key_id=key_id)
        body = self._call("ListResourceTags", lambda: self.client.list_resource_tags(request)).body
        tags = body.tags.tag if body.tags and body.tags.tag else []
        return {t.tag_key: t.tag_value or "" for t in tags}

    def get_secret_value(self, name: str, version_stage: str | None) -> tuple[str, str]:
        """(SecretData, SecretDataType) of a secret's current (or named-stage) version."""
        request = kms_models.GetSecretValueRequest(secret_name=name, version_stage=version_stage)
        body = self._call("GetSecretValue", lambda: self.client.get_secret_value(request)).body
        return body.secret_data, body.secret_data_type or "text"


class AlibabaCms:
    """CloudMonitor ``PutCustomMetric``, within the region's budget and retried."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self.client = client
        self.caller = caller

    def put_custom_metric(self, request: Any) -> None:
        # Not repeated after a timeout: the service may have stored the data already.
        self.caller.call(
            "PutCustomMetric",
            lambda: self.client.put_custom_metric(request),
            partial(translate, endpoint=_endpoint_of(self.client)),
            idempotent=False,
        )


def _endpoint_of(client: Any) -> str | None:
    """The host a Tea client sends to (for messages): its resolved endpoint."""
    endpoint = getattr(client, "_endpoint", None)
    return endpoint if isinstance(endpoint, str) and endpoint else None
