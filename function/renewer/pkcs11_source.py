"""Material that never leaves the HSM: a PKCS#11 source (``python-pkcs11``) that wraps inside the HSM.

``{type: pkcs11, library: PATH, token_label: ..., key_label: ..., pin_env: NAME}``. The AES-256 key
object must be extractable only under wrapping (``CKA_EXTRACTABLE`` true, ``CKA_SENSITIVE`` true).
For each import the KMS public key is created in the session as a temporary (``CKA_TOKEN`` false)
wrapping key and ``C_WrapKey`` does the rest: ``CKM_RSA_PKCS_OAEP`` (SHA-256 and MGF1-SHA-256 for
``RSAES_OAEP_SHA_256``, SHA-1 for ``RSAES_OAEP_SHA_1``), ``CKM_RSA_PKCS`` for the legacy algorithm,
and for AWS's two-step ``RSA_AES_KEY_WRAP_*`` an ephemeral session AES key wrapped by RSA-OAEP that
wraps the material with ``CKM_AES_KEY_WRAP_PAD``. The KCV is computed inside the HSM too
(``CKM_AES_ECB`` over a zero block). Nothing here ever reads ``CKA_VALUE``: the process never holds
the material, and a sensitive key object would make any such path fail.

The PIN comes from the environment variable the configuration names, never from the configuration.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from renewer.errors import MaterialError
from renewer.wrapping import MATERIAL_BYTES, WrappingAlgorithm

_LIBRARIES: dict[str, Any] = {}
_LIBRARY_LOCK = threading.Lock()


def _library(path: str) -> Any:
    """PKCS#11 libraries are initialised once per process."""
    import pkcs11

    with _LIBRARY_LOCK:
        if path not in _LIBRARIES:
            _LIBRARIES[path] = pkcs11.lib(path)
        return _LIBRARIES[path]


class Pkcs11Source:
    def __init__(
        self, library: str, token_label: str, key_label: str, pin_env: str, environ: Mapping[str, str] | None = None
    ) -> None:
        self.library = library
        self.token_label = token_label
        self.key_label = key_label
        self.pin_env = pin_env
        self.environ = os.environ if environ is None else environ

    def describe(self) -> str:
        return f"PKCS#11 key {self.key_label} on token {self.token_label}"

    def _error(self, message: str, code: str) -> MaterialError:
        return MaterialError(f"{self.describe()}: {message}", code=code)

    def fetch(self) -> HsmKey:
        """Log in, find the key object and check it may only leave the HSM wrapped."""
        import pkcs11

        pin = self.environ.get(self.pin_env)
        if not pin:
            raise MaterialError(f"{self.describe()}: PIN variable {self.pin_env} is not set", code="HsmPinMissing")
        try:
            token = _library(self.library).get_token(token_label=self.token_label)
        except (OSError, RuntimeError) as exc:
            raise MaterialError(
                f"{self.describe()}: cannot load PKCS#11 library {self.library} ({type(exc).__name__})",
                code="HsmLibraryUnavailable",
            ) from exc
        except pkcs11.NoSuchToken:
            raise MaterialError(
                f"{self.describe()}: no token labelled {self.token_label}", code="HsmTokenNotFound"
            ) from None
        try:
            session = token.open(user_pin=pin)
        except pkcs11.UserAlreadyLoggedIn:  # login is per process: another run here holds a session
            session = token.open()
        except pkcs11.PinIncorrect:
            raise MaterialError(
                f"{self.describe()}: the PIN in {self.pin_env} is incorrect", code="HsmPinIncorrect"
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise MaterialError(
                f"{self.describe()}: cannot log in ({type(exc).__name__})", code="HsmLoginFailed"
            ) from None
        try:
            key = _find_key(session, self.key_label, self.describe())
        except BaseException:
            session.close()
            raise
        return HsmKey(session, key, self.describe())


def _find_key(session: Any, label: str, where: str) -> Any:
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    try:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
    except pkcs11.NoSuchKey:
        raise MaterialError(f"{where}: no secret key labelled {label}", code="HsmKeyNotFound") from None
    except pkcs11.MultipleObjectsReturned:
        raise MaterialError(f"{where}: more than one secret key labelled {label}", code="HsmKeyAmbiguous") from None
    if key.key_type != KeyType.AES or key[Attribute.VALUE_LEN] != MATERIAL_BYTES:
        raise MaterialError(f"{where}: the key object is not an AES-256 key", code="HsmKeyWrongType")
    if not key[Attribute.SENSITIVE]:
        raise MaterialError(
            f"{where}: the key object is not sensitive (CKA_SENSITIVE false): its value could be read in clear; "
            "refusing to use it",
            code="HsmKeyNotSensitive",
        )
    if not key[Attribute.EXTRACTABLE]:
        raise MaterialError(
            f"{where}: the key object is not extractable (CKA_EXTRACTABLE false): it cannot be wrapped for import",
            code="HsmKeyNotExtractable",
        )
    return key


class HsmKey:
    """A :class:`~renewer.material.KeyMaterial` whose bytes stay in the HSM. PKCS#11 sessions are not
    safe for concurrent use, so operations are serialised."""

    def __init__(self, session: Any, key: Any, where: str) -> None:
        self._session = session
        self._key = key
        self._where = where
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HsmKey({self._where})"

    def secrets(self) -> tuple[bytes, ...]:
        return ()  # the process never holds the material

    def kcv(self) -> str:
        import pkcs11
        from pkcs11 import Mechanism

        with self._lock:
            try:
                block = self._key.encrypt(bytes(16), mechanism=Mechanism.AES_ECB)
            except pkcs11.PKCS11Error as exc:
                raise MaterialError(
                    f"{self._where}: the HSM cannot compute the key check value ({type(exc).__name__}; "
                    "the key object needs CKA_ENCRYPT)",
                    code="HsmKcvUnavailable",
                ) from None
        return bytes(block[:3]).hex().upper()

    def wrap(self, public_key: rsa.RSAPublicKey, algorithm: WrappingAlgorithm) -> bytes:
        import pkcs11

        algorithm = WrappingAlgorithm(algorithm)
        with self._lock:
            wrapping_key = self._session.create_object(_public_key_template(public_key))
            try:
                if algorithm.two_step:
                    return self._wrap_two_step(wrapping_key, algorithm)
                return bytes(self._wrap_rsa(wrapping_key, self._key, algorithm))
            except pkcs11.PKCS11Error as exc:
                raise MaterialError(
                    f"{self._where}: the HSM refused to wrap the key with {algorithm.value} ({type(exc).__name__})",
                    code="HsmWrapRefused",
                ) from None
            finally:
                wrapping_key.destroy()

    def _wrap_rsa(self, wrapping_key: Any, key: Any, algorithm: WrappingAlgorithm) -> bytes:
        from pkcs11 import MGF, Mechanism

        if algorithm == WrappingAlgorithm.RSAES_PKCS1_V1_5:
            return wrapping_key.wrap_key(key, mechanism=Mechanism.RSA_PKCS)
        sha256 = algorithm in (WrappingAlgorithm.RSAES_OAEP_SHA_256, WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_256)
        params = (Mechanism.SHA256, MGF.SHA256, None) if sha256 else (Mechanism.SHA_1, MGF.SHA1, None)
        return wrapping_key.wrap_key(key, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)

    def _wrap_two_step(self, wrapping_key: Any, algorithm: WrappingAlgorithm) -> bytes:
        from pkcs11 import Attribute, KeyType, Mechanism

        transport = self._session.generate_key(
            KeyType.AES,
            256,
            store=False,
            template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: True, Attribute.WRAP: True},
        )
        try:
            wrapped_transport = self._wrap_rsa(wrapping_key, transport, algorithm)
            return bytes(wrapped_transport) + bytes(transport.wrap_key(self._key, mechanism=Mechanism.AES_KEY_WRAP_PAD))
        finally:
            transport.destroy()

    def close(self) -> None:
        with self._lock:
            self._session.close()


def _public_key_template(public_key: rsa.RSAPublicKey) -> dict[Any, Any]:
    from pkcs11 import Attribute, KeyType, ObjectClass

    numbers = public_key.public_numbers()
    return {
        Attribute.CLASS: ObjectClass.PUBLIC_KEY,
        Attribute.KEY_TYPE: KeyType.RSA,
        Attribute.MODULUS: numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"),
        Attribute.PUBLIC_EXPONENT: numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"),
        Attribute.WRAP: True,
        Attribute.TOKEN: False,  # a temporary session object, gone when the session closes
        Attribute.LABEL: "byok-renewer-kms-import-key",
    }
