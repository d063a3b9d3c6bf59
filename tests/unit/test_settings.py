"""Unit tests for :mod:`renewer.settings`: endpoint parsing and ``from_environ`` with an explicit environ."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from renewer import settings
from renewer.errors import ConfigError
from renewer.settings import Endpoint, from_environ, parse_endpoint, parse_endpoints

CODE = "InvalidConfiguration"
WHERE = "RENEWER_ALIBABA_ENDPOINT"
CONFIG = {
    "materials": [
        {"name": "payments", "source": {"type": "env", "var": "M"}, "keys": [{"region": "cn-hangzhou", "key_id": "k"}]}
    ]
}
YAML = "materials:\n  - name: ledger\n    source: {type: env, var: M}\n    keys: [{region: cn-hangzhou, key_id: k}]\n"


def config_error(call: object, *args: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.code == CODE
    return info.value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:9000", Endpoint("127.0.0.1:9000", "http")),
        ("127.0.0.1", Endpoint("127.0.0.1", "http")),
        ("127.8.9.10:1", Endpoint("127.8.9.10:1", "http")),
        ("localhost:8080", Endpoint("localhost:8080", "http")),
        ("localhost", Endpoint("localhost", "http")),
        ("[::1]", Endpoint("[::1]", "http")),
        ("  127.0.0.1:9000  ", Endpoint("127.0.0.1:9000", "http")),
        ("kms.cn-hangzhou.aliyuncs.com", Endpoint("kms.cn-hangzhou.aliyuncs.com", "https")),
        ("kms-vpc.cn-hangzhou.aliyuncs.com:443", Endpoint("kms-vpc.cn-hangzhou.aliyuncs.com:443", "https")),
        ("10.0.0.8:8080", Endpoint("10.0.0.8:8080", "https")),
        ("localhost.example.com", Endpoint("localhost.example.com", "https")),
        ("http://kms.internal:8080", Endpoint("kms.internal:8080", "http")),
        ("http://kms.internal/", Endpoint("kms.internal", "http")),
        ("https://127.0.0.1:9443", Endpoint("127.0.0.1:9443", "https")),
        ("https://[::1]:9443", Endpoint("[::1]:9443", "https")),
        ("HTTPS://kms.internal", Endpoint("kms.internal", "https")),
    ],
)
def test_parse_endpoint(value: str, expected: Endpoint) -> None:
    assert parse_endpoint(value, WHERE) == expected


def test_ipv6_loopback_with_port_uses_http() -> None:
    assert parse_endpoint("[::1]:8080", WHERE) == Endpoint("[::1]:8080", "http")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", f"{WHERE}: expected HOST[:PORT] or a URL, got ''"),
        ("   ", f"{WHERE}: expected HOST[:PORT] or a URL, got ''"),
        ("kms.internal/path", f"{WHERE}: expected HOST[:PORT] or a URL, got 'kms.internal/path'"),
        ("http://kms.internal/path", f"{WHERE}: expected http(s)://HOST[:PORT], got 'http://kms.internal/path'"),
        ("ftp://kms.internal", f"{WHERE}: expected http(s)://HOST[:PORT], got 'ftp://kms.internal'"),
        ("http://", f"{WHERE}: expected http(s)://HOST[:PORT], got 'http://'"),
    ],
    ids=["empty", "blank", "path", "url-path", "ftp", "no-host"],
)
def test_bad_endpoint(value: str, fragment: str) -> None:
    assert fragment in config_error(parse_endpoint, value, WHERE).message


@pytest.mark.parametrize("value", ["http://kms.internal?x=1", "http://kms.internal#frag"], ids=["query", "fragment"])
def test_endpoint_url_with_query_or_fragment_is_rejected(value: str) -> None:
    config_error(parse_endpoint, value, WHERE)


@pytest.mark.parametrize("text", ["", "  ", ",", " , ,"], ids=["empty", "blank", "comma", "commas"])
def test_parse_endpoints_of_nothing(text: str) -> None:
    assert parse_endpoints(text) == {}


def test_parse_endpoints_per_region() -> None:
    text = " cn-hangzhou = 127.0.0.1:9001 ,cn-shanghai=https://kms.example.com, ap-southeast-1=kms.example.org "

    assert parse_endpoints(text) == {
        "cn-hangzhou": Endpoint("127.0.0.1:9001", "http"),
        "cn-shanghai": Endpoint("kms.example.com", "https"),
        "ap-southeast-1": Endpoint("kms.example.org", "https"),
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("127.0.0.1:9000", "RENEWER_ALIBABA_ENDPOINTS: expected REGION=ENDPOINT, got '127.0.0.1:9000'"),
        ("cn-hangzhou:127.0.0.1", "RENEWER_ALIBABA_ENDPOINTS: expected REGION=ENDPOINT, got 'cn-hangzhou:127.0.0.1'"),
        (
            "CN_HANGZHOU=127.0.0.1:1",
            "RENEWER_ALIBABA_ENDPOINTS: expected REGION=ENDPOINT, got 'CN_HANGZHOU=127.0.0.1:1'",
        ),
        ("=127.0.0.1:1", "RENEWER_ALIBABA_ENDPOINTS: expected REGION=ENDPOINT, got '=127.0.0.1:1'"),
        ("cn-hangzhou=", "RENEWER_ALIBABA_ENDPOINTS[cn-hangzhou]: expected HOST[:PORT] or a URL, got ''"),
        ("cn-hangzhou=ftp://x", "RENEWER_ALIBABA_ENDPOINTS[cn-hangzhou]: expected http(s)://HOST[:PORT]"),
        ("cn-shanghai=h,cn-hangzhou=h/p", "RENEWER_ALIBABA_ENDPOINTS[cn-hangzhou]: expected HOST[:PORT]"),
    ],
    ids=["no-equals", "colon", "bad-region", "no-region", "no-endpoint", "ftp", "second-bad"],
)
def test_bad_endpoints(text: str, fragment: str) -> None:
    assert fragment in config_error(parse_endpoints, text).message


def test_from_environ_with_config_json() -> None:
    current = from_environ({"RENEWER_CONFIG": json.dumps(CONFIG)})

    assert [m.name for m in current.config.materials] == ["payments"]
    assert current.endpoints == {}
    assert current.default_endpoint is None
    assert current.endpoint("cn-hangzhou") is None


def test_from_environ_with_config_yaml_text() -> None:
    assert [m.name for m in from_environ({"RENEWER_CONFIG": YAML}).config.materials] == ["ledger"]


def test_from_environ_with_config_file(tmp_path: Path) -> None:
    path = tmp_path / "renewer.yml"
    path.write_text(YAML, encoding="utf-8")

    assert [m.name for m in from_environ({"RENEWER_CONFIG_FILE": str(path)}).config.materials] == ["ledger"]


def test_relative_config_file_is_looked_up_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "local.yml").write_text(YAML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    assert [m.name for m in from_environ({"RENEWER_CONFIG_FILE": "local.yml"}).config.materials] == ["ledger"]


def test_config_text_wins_over_config_file(tmp_path: Path) -> None:
    environ = {"RENEWER_CONFIG": json.dumps(CONFIG), "RENEWER_CONFIG_FILE": str(tmp_path / "missing.yml")}

    assert [m.name for m in from_environ(environ).config.materials] == ["payments"]


def test_blank_config_text_falls_back_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "renewer.yml"
    path.write_text(YAML, encoding="utf-8")

    environ = {"RENEWER_CONFIG": "  \n", "RENEWER_CONFIG_FILE": str(path)}
    assert [m.name for m in from_environ(environ).config.materials] == ["ledger"]


def test_no_configuration_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "renewer.yml"
    monkeypatch.setattr(settings, "DEFAULT_CONFIG_FILE", missing)

    error = config_error(from_environ, {})

    assert error.message.startswith(f"no configuration: RENEWER_CONFIG is unset and {missing} cannot be read (")
    assert isinstance(error.__cause__, OSError)


def test_config_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"

    error = config_error(from_environ, {"RENEWER_CONFIG_FILE": str(missing)})

    assert "RENEWER_CONFIG is unset" in error.message
    assert str(missing) in error.message


def test_invalid_configuration_text_is_a_config_error() -> None:
    assert config_error(from_environ, {"RENEWER_CONFIG": '{"materials": []}'}).message == (
        "materials: expected a non-empty list"
    )


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {"cn-hangzhou": None, "cn-shanghai": None}),
        ({"RENEWER_ALIBABA_ENDPOINT": "  "}, {"cn-hangzhou": None, "cn-shanghai": None}),
        (
            {"RENEWER_ALIBABA_ENDPOINT": "127.0.0.1:9000"},
            {"cn-hangzhou": Endpoint("127.0.0.1:9000", "http"), "cn-shanghai": Endpoint("127.0.0.1:9000", "http")},
        ),
        (
            {"RENEWER_ALIBABA_ENDPOINTS": "cn-shanghai=127.0.0.1:9001"},
            {"cn-hangzhou": None, "cn-shanghai": Endpoint("127.0.0.1:9001", "http")},
        ),
        (
            {"RENEWER_ALIBABA_ENDPOINTS": "cn-shanghai=127.0.0.1:9001", "RENEWER_ALIBABA_ENDPOINT": "kms.example.com"},
            {"cn-hangzhou": Endpoint("kms.example.com", "https"), "cn-shanghai": Endpoint("127.0.0.1:9001", "http")},
        ),
    ],
    ids=["none", "blank-default", "default-only", "per-region-only", "per-region-over-default"],
)
def test_endpoint_precedence(environ: dict[str, str], expected: dict[str, Endpoint | None]) -> None:
    current = from_environ({"RENEWER_CONFIG": json.dumps(CONFIG), **environ})

    assert {region: current.endpoint(region) for region in expected} == expected


def test_bad_default_endpoint_names_its_variable() -> None:
    environ = {"RENEWER_CONFIG": json.dumps(CONFIG), "RENEWER_ALIBABA_ENDPOINT": "ftp://x"}

    assert config_error(from_environ, environ).message.startswith("RENEWER_ALIBABA_ENDPOINT: expected http(s)://")


# --- Issue #10: the configuration file and the variables, within bounds. ---


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_config_file_that_is_a_device_is_refused_without_reading(device: str) -> None:
    error = config_error(from_environ, {"RENEWER_CONFIG_FILE": device})

    assert error.message == f"configuration file {device} is not a regular file"


def test_a_config_file_that_is_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    errors: list[ConfigError] = []
    reader = threading.Thread(
        target=lambda: errors.append(config_error(from_environ, {"RENEWER_CONFIG_FILE": str(fifo)})), daemon=True
    )

    reader.start()
    reader.join(timeout=10)

    assert not reader.is_alive(), "reading the configuration blocked on a FIFO"
    assert errors[0].message == f"configuration file {fifo} is not a regular file"


def test_a_config_file_over_1_mib_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "renewer.yml"
    path.write_text(YAML + "#" * (1024 * 1024), encoding="utf-8")

    error = config_error(from_environ, {"RENEWER_CONFIG_FILE": str(path)})

    assert error.message == f"configuration file {path} is larger than 1048576 bytes"


def test_a_config_file_of_exactly_1_mib_is_read(tmp_path: Path) -> None:
    path = tmp_path / "renewer.yml"
    path.write_text(YAML + "#" * (1024 * 1024 - len(YAML)), encoding="utf-8")

    assert [m.name for m in from_environ({"RENEWER_CONFIG_FILE": str(path)}).config.materials] == ["ledger"]


def test_config_text_over_1_mib_is_refused() -> None:
    error = config_error(from_environ, {"RENEWER_CONFIG": YAML + "#" * (1024 * 1024)})

    assert error.message == "configuration is larger than 1048576 bytes (1 MiB)"


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "renewer.yml"
    path.write_bytes(YAML.encode() + b"# \xff\n")

    error = config_error(from_environ, {"RENEWER_CONFIG_FILE": str(path)})

    assert error.message == f"configuration file {path} is not UTF-8 text (byte {len(YAML) + 2})"
    assert error.__cause__ is None


def test_duplicate_keys_in_the_config_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "renewer.yml"
    path.write_text(YAML + "materials: []\n", encoding="utf-8")

    error = config_error(from_environ, {"RENEWER_CONFIG_FILE": str(path)})

    assert error.message == (
        "configuration is not valid JSON or YAML: duplicate key 'materials' (first at line 1 column 1) "
        "at line 5 column 1"
    )


@pytest.mark.parametrize(
    ("call", "value"),
    [
        (parse_endpoints, "x" * 5000),
        (parse_endpoints, "cn-hangzhou=" + "/" * 5000),
        (parse_endpoints, "cn-" + "a" * 5000 + "=h/"),
        (lambda v: parse_endpoint(v, WHERE), "http://" + "h" * 5000 + "/path"),
        (lambda v: parse_endpoint(v, WHERE), "h/" * 5000),
    ],
    ids=["item", "endpoint", "region", "url", "host-path"],
)
def test_endpoint_messages_quote_at_most_an_excerpt(call: object, value: str) -> None:
    message = config_error(call, value).message

    assert len(message) < 250
    assert "…" in message


@pytest.mark.parametrize("value", ["http://[::1", "https://[::1:9443/"], ids=["unclosed", "unclosed-port"])
def test_an_invalid_ipv6_url_is_a_config_error(value: str) -> None:
    error = config_error(parse_endpoint, value, WHERE)

    assert error.message == f"{WHERE}: expected http(s)://HOST[:PORT], got {value!r}"


def test_a_relative_config_file_lists_every_place_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    error = config_error(from_environ, {"RENEWER_CONFIG_FILE": "conf/renewer.yml"})
    assert str(tmp_path / "conf/renewer.yml") in error.message
    assert str(settings.CODE_DIR / "conf/renewer.yml") in error.message
    assert " nor " in error.message


@pytest.mark.parametrize("value", ["/code/renewer.yml", "renewer.yaml", "./conf/prod.json", "  config.yml\n"])
def test_a_path_in_renewer_config_points_to_renewer_config_file(value: str) -> None:
    error = config_error(from_environ, {"RENEWER_CONFIG": value})
    assert "looks like a file name" in error.message and "RENEWER_CONFIG_FILE" in error.message


def test_a_tab_in_yaml_is_reported_with_its_line_and_column() -> None:
    error = config_error(from_environ, {"RENEWER_CONFIG": "materials:\n\t- name: x\n"})
    assert "found character '\\t' that cannot start any token at line 2 column 1" in error.message
