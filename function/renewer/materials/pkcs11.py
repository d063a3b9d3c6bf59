"""Material that never leaves the HSM: a PKCS#11 source (``python-pkcs11``) that wraps inside the HSM.

``{type: pkcs11, library: PATH, token_label: ..., key_label: ..., pin_env: NAME}``. The AES key object
(32 bytes; or 16, the material of an ``Aliyun_SM4`` key) must be extractable only under wrapping
(``CKA_EXTRACTABLE`` true, ``CKA_SENSITIVE`` true).
For each import the KMS public key is created in the session as a temporary (``CKA_TOKEN`` false)
wrapping key and ``C_WrapKey`` does the rest: ``CKM_RSA_PKCS_OAEP`` (SHA-256 and MGF1-SHA-256 for
``RSAES_OAEP_SHA_256``, SHA-1 for ``RSAES_OAEP_SHA_1``), ``CKM_RSA_PKCS`` for the legacy algorithm,
and for AWS's two-step ``RSA_AES_KEY_WRAP_*`` an ephemeral session AES key wrapped by RSA-OAEP that
wraps the material with ``CKM_AES_KEY_WRAP_PAD``. The KCV is computed inside the HSM too
(``CKM_AES_ECB`` over a zero block). Nothing here ever reads ``CKA_VALUE``: the process never holds
the material, and a sensitive key object would make any such path fail.

Not supported, with an error that says why (NOTE: both need mechanisms PKCS#11 3.x does not
standardise): ``SM2PKE`` wrapping (``HsmWrapRefused``), which would need an SM2 encryption mechanism
usable with ``C_WrapKey`` (vendor-defined, e.g. the GM/T 0018-style SM2 mechanisms of Chinese HSMs)
so that the material never leaves the HSM in clear; and the KCV of a 16-byte key
(``HsmKcvUnavailable``), which is SM4-ECB of a zero block (see :mod:`renewer.materials.material`)
and would need an SM4 mechanism: such a material is wrapped, but takes no ``kcv``.

Sessions. PKCS#11 login belongs to the application (this process) and the token, not to a session:
once one session logs in, every session of the process on that token is logged in, a second
``C_Login`` is refused (``CKR_USER_ALREADY_LOGGED_IN``), and ``C_Logout`` (or closing the last
session) logs all of them out, which makes private key objects vanish from the others' sessions. So
each token is logged in once per process: :class:`_Login` holds one logged-in session per (library,
token label), shared by every :class:`HsmKey` on that token, whatever run or material opened it, and
reference-counted: it is logged out and closed when the last of them closes. A wrong PIN for one
material is refused without touching the others (see :meth:`Pkcs11Source.fetch`).

Threads. ``python-pkcs11`` initialises each library with ``C_Initialize(NULL)``: by the standard the
application promises never to call the library from two threads at once (SoftHSM then turns its own
locking off), and releases the GIL during each call. So every call into one library, on any token or
session, goes through that library's one lock; a PKCS#11 session is not safe for concurrent use anyway.

The PIN comes from the environment variable the configuration names, never from the configuration,
and appears in no message; the shared login keeps only a salted digest of it, to compare.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from renewer.errors import MaterialError
from renewer.materials.wrapping import MATERIAL_SIZES, WrappingAlgorithm, WrappingKey

_PIN_SALT = os.urandom(16)  # per process: a PIN's digest means nothing outside it


class _Library:
    """One PKCS#11 library in this process: initialised once, one lock for every call into it, and
    the logins held on its tokens (by token label)."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.lock = threading.Lock()
        self.logins: dict[str, _Login] = {}


@dataclass(eq=False)
class _Login:
    """The one logged-in session of this process on one token; ``users`` is how many open
    :class:`HsmKey`\\s (or fetches under way) share it. Only touched under ``library.lock``."""

    library: _Library
    token_label: str
    session: Any
    pin_digest: bytes
    users: int = 0

    def release(self) -> None:
        """One user fewer; the last one logs out and closes the session (lock held by the caller)."""
        import pkcs11

        self.users -= 1
        if self.users > 0:
            return
        if self.library.logins.get(self.token_label) is self:
            del self.library.logins[self.token_label]
        # NOTE: an error here means the HSM already dropped the session or the login (a reset, a lost
        # connection): nothing is left to do, and the library frees what remains when the process ends.
        with contextlib.suppress(pkcs11.PKCS11Error):
            self.session.close()  # C_Logout, then C_CloseSession


_LIBRARIES: dict[str, _Library] = {}
_LIBRARIES_LOCK = threading.Lock()


def _library(path: str) -> _Library:
    """PKCS#11 libraries are initialised once per process (two paths to one file are one library)."""
    import pkcs11

    path = os.path.realpath(path)
    with _LIBRARIES_LOCK:
        if path not in _LIBRARIES:
            _LIBRARIES[path] = _Library(pkcs11.lib(path))
        return _LIBRARIES[path]


def _pin_digest(pin: str) -> bytes:
    return hmac.new(_PIN_SALT, pin.encode(), hashlib.sha256).digest()


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
        """Share the token's login (logging in if this process has not), find the key object and
        check it may only leave the HSM wrapped.

        When the token is already logged in here, the PIN is compared with the one that logged in
        (a token has one user PIN, and that one was accepted): a different PIN is refused with
        ``HsmPinIncorrect`` and the others' login is left alone. NOTE: a PIN changed on the HSM
        while the login is held is refused until every material on the token has closed.
        """
        pin = self.environ.get(self.pin_env)
        if not pin:
            raise self._error(f"PIN variable {self.pin_env} is not set", "HsmPinMissing")
        library = self._load()
        with library.lock:
            login = self._login(library, pin)
            try:
                key, size = _find_key(login.session, self.key_label, self.describe())
            except BaseException:
                login.release()
                raise
        return HsmKey(login, key, self.describe(), size)

    def _load(self) -> _Library:
        try:
            return _library(self.library)
        except (OSError, RuntimeError) as exc:  # python-pkcs11 raises PKCS11Error, a RuntimeError
            raise self._error(
                f"cannot load PKCS#11 library {self.library} ({type(exc).__name__})", "HsmLibraryUnavailable"
            ) from exc

    def _login(self, library: _Library, pin: str) -> _Login:
        """The token's shared login, with one more user (``library.lock`` held)."""
        import pkcs11

        login = library.logins.get(self.token_label)
        if login is not None:
            if not hmac.compare_digest(login.pin_digest, _pin_digest(pin)):
                raise self._error(
                    f"the PIN in {self.pin_env} is incorrect (not the PIN this token is logged in with)",
                    "HsmPinIncorrect",
                )
            login.users += 1
            return login
        try:
            token = library.module.get_token(token_label=self.token_label)
        except pkcs11.NoSuchToken:
            raise self._error(f"no token labelled {self.token_label}", "HsmTokenNotFound") from None
        except pkcs11.MultipleTokensReturned:
            raise self._error(f"more than one token labelled {self.token_label}", "HsmTokenAmbiguous") from None
        except pkcs11.PKCS11Error as exc:
            raise self._error(
                f"cannot list the tokens of PKCS#11 library {self.library} ({type(exc).__name__})",
                "HsmLibraryUnavailable",
            ) from None
        try:
            session = token.open(user_pin=pin)
        except pkcs11.PinIncorrect:
            raise self._error(f"the PIN in {self.pin_env} is incorrect", "HsmPinIncorrect") from None
        except pkcs11.UserAlreadyLoggedIn:
            # Logged in by code other than this module: that PIN cannot be checked, and that code's
            # logout would pull the login from under this one.
            raise self._error(
                "the token is already logged in by other code in this process; refusing to use a login "
                "whose PIN cannot be checked",
                "HsmLoginFailed",
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise self._error(f"cannot log in ({type(exc).__name__})", "HsmLoginFailed") from None
        login = _Login(library, self.token_label, session, _pin_digest(pin), users=1)
        library.logins[self.token_label] = login
        return login


def _find_key(session: Any, label: str, where: str) -> tuple[Any, int]:
    """The key object labelled ``label``, and its size in bytes, once it is shown fit to wrap."""
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    try:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
    except pkcs11.NoSuchKey:
        raise MaterialError(f"{where}: no secret key labelled {label}", code="HsmKeyNotFound") from None
    except pkcs11.MultipleObjectsReturned:
        raise MaterialError(f"{where}: more than one secret key labelled {label}", code="HsmKeyAmbiguous") from None
    except pkcs11.PKCS11Error as exc:  # the session or the login is gone (an HSM reset, a lost connection)
        raise MaterialError(
            f"{where}: cannot search the token for the key ({type(exc).__name__})", code="HsmKeyNotFound"
        ) from None
    size = key[Attribute.VALUE_LEN] if key.key_type == KeyType.AES else None
    if size not in MATERIAL_SIZES:
        raise MaterialError(
            f"{where}: the key object is not an AES key of 16 or 32 bytes (AES-256, or an Aliyun_SM4 key's material)",
            code="HsmKeyWrongType",
        )
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
    return key, size


class HsmKey:
    """A :class:`~renewer.materials.material.KeyMaterial` whose bytes stay in the HSM. It uses its token's
    shared login; every operation holds the library's lock (see the module docstring)."""

    def __init__(self, login: _Login, key: Any, where: str, size: int) -> None:
        self._login = login
        self._key = key
        self._where = where
        self._size = size
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"HsmKey({self._where})"

    def secrets(self) -> tuple[bytes, ...]:
        return ()  # the process never holds the material

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")

    def kcv(self) -> str:
        import pkcs11
        from pkcs11 import Mechanism

        if self._size != 32:
            raise MaterialError(
                f"{self._where}: the key check value of a {self._size}-byte key is SM4-ECB of a zero block (an "
                "Aliyun_SM4 key's material), and PKCS#11 has no standard SM4 mechanism (this source uses no "
                "vendor-defined one): remove kcv from this material",
                code="HsmKcvUnavailable",
            )
        with self._login.library.lock:
            self._check_open()
            try:
                block = self._key.encrypt(bytes(16), mechanism=Mechanism.AES_ECB)
            except pkcs11.PKCS11Error as exc:
                raise MaterialError(
                    f"{self._where}: the HSM cannot compute the key check value ({type(exc).__name__}; "
                    "the key object needs CKA_ENCRYPT)",
                    code="HsmKcvUnavailable",
                ) from None
        return bytes(block[:3]).hex().upper()

    def wrap(self, public_key: WrappingKey, algorithm: WrappingAlgorithm) -> bytes:
        import pkcs11

        algorithm = WrappingAlgorithm(algorithm)
        if algorithm is WrappingAlgorithm.SM2PKE:
            raise MaterialError(
                f"{self._where}: SM2PKE cannot be done inside the HSM: it would need an SM2 encryption mechanism "
                "(vendor-defined, e.g. GM/T 0018-style; PKCS#11 3.x has none) usable with C_WrapKey, so that "
                "the material never leaves the HSM in clear; wrap this material with an RSA algorithm",
                code="HsmWrapRefused",
            )
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError(f"{algorithm.value} wraps under an RSA public key, and this one is SM2")
        with self._login.library.lock:
            self._check_open()
            try:
                return self._wrap(public_key, algorithm)
            except pkcs11.PKCS11Error as exc:
                raise MaterialError(
                    f"{self._where}: the HSM refused to wrap the key with {algorithm.value} ({type(exc).__name__})",
                    code="HsmWrapRefused",
                ) from None

    def _wrap(self, public_key: rsa.RSAPublicKey, algorithm: WrappingAlgorithm) -> bytes:
        wrapping_key = self._login.session.create_object(_public_key_template(public_key))
        try:
            if algorithm.two_step:
                return self._wrap_two_step(wrapping_key, algorithm)
            return bytes(self._wrap_rsa(wrapping_key, self._key, algorithm))
        finally:
            _destroy(wrapping_key)

    def _wrap_rsa(self, wrapping_key: Any, key: Any, algorithm: WrappingAlgorithm) -> bytes:
        from pkcs11 import MGF, Mechanism

        if algorithm == WrappingAlgorithm.RSAES_PKCS1_V1_5:
            return wrapping_key.wrap_key(key, mechanism=Mechanism.RSA_PKCS)
        sha256 = algorithm in (WrappingAlgorithm.RSAES_OAEP_SHA_256, WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_256)
        params = (Mechanism.SHA256, MGF.SHA256, None) if sha256 else (Mechanism.SHA_1, MGF.SHA1, None)
        return wrapping_key.wrap_key(key, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)

    def _wrap_two_step(self, wrapping_key: Any, algorithm: WrappingAlgorithm) -> bytes:
        from pkcs11 import Attribute, KeyType, Mechanism

        transport = self._login.session.generate_key(
            KeyType.AES,
            256,
            store=False,
            template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: True, Attribute.WRAP: True},
        )
        try:
            wrapped_transport = self._wrap_rsa(wrapping_key, transport, algorithm)
            return bytes(wrapped_transport) + bytes(transport.wrap_key(self._key, mechanism=Mechanism.AES_KEY_WRAP_PAD))
        finally:
            _destroy(transport)

    def close(self) -> None:
        """Give up this key's share of the token's login (idempotent); the last one logs out."""
        with self._login.library.lock:
            if not self._closed:
                self._closed = True
                self._login.release()


def _destroy(session_object: Any) -> None:
    """Destroy a temporary session object; if the HSM cannot, it goes with the session anyway."""
    import pkcs11

    with contextlib.suppress(pkcs11.PKCS11Error):
        session_object.destroy()


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
