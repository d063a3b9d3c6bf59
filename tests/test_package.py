"""The package step refuses to build without a configuration the function would accept (issue #12, part 4).

scripts/build-package.sh validates CONFIG with the function's own code (scripts/check_config.py) before
it writes anything, and puts the validated file beside index.py as renewer.yml, in build/RUNTIME/ (the
folder s.yaml deploys) and build/function/ (for fun). These runs lay the package out without its
dependencies (no --deps): nothing is downloaded; `make package` adds them from PyPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from renewer import settings
from renewer.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
BUILD_PACKAGE = REPO / "scripts" / "build-package.sh"
EXAMPLE = REPO / "function" / "renewer.example.yml"
AWS_CONFIG = """\
materials:
  - name: payments
    source: {type: env, var: PAYMENTS_MATERIAL}
    keys: [{cloud: aws, region: us-east-1, key_id: alias/payments}]
"""


def build(
    out: Path, *args: str, config: Path | None = None, script: Path = BUILD_PACKAGE, **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHON": sys.executable, "BUILD_DIR": str(out), **env}
    if config is not None:
        full_env["CONFIG"] = str(config)
    command = ["bash", str(script), *args]
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=120, check=False)


def function_message(path: Path) -> str:
    """What the function itself says about this configuration file."""
    with pytest.raises(ConfigError) as refused:
        settings.from_environ({"RENEWER_CONFIG_FILE": str(path)})
    return refused.value.message


@pytest.mark.parametrize("runtime", ["python3.10", "python3.12"])
def test_a_valid_configuration_is_packaged_beside_index_py(tmp_path: Path, runtime: str) -> None:
    result = build(tmp_path / "build", config=EXAMPLE, RUNTIME=runtime)

    assert result.returncode == 0, result.stderr
    code = tmp_path / "build" / runtime  # s.yaml: code: ./build/${vars.runtime}
    assert (code / "index.py").read_bytes() == (REPO / "function" / "index.py").read_bytes()
    assert (code / "renewer" / "entry" / "handler.py").is_file()
    assert (code / "renewer.yml").read_bytes() == EXAMPLE.read_bytes()
    assert (tmp_path / "build" / "function" / "renewer.yml").read_bytes() == EXAMPLE.read_bytes()
    assert not list(code.rglob("__pycache__"))
    assert not (code / "yaml").exists()  # dependencies only with --deps


def test_the_packaged_configuration_is_what_the_function_reads(tmp_path: Path) -> None:
    assert build(tmp_path / "build", config=EXAMPLE).returncode == 0
    # On Function Compute: RENEWER_CONFIG_FILE=renewer.yml (s.yaml), relative to the code folder.
    packaged = tmp_path / "build" / "python3.10" / settings.DEFAULT_CONFIG_FILE.name
    expected = settings.from_environ({"RENEWER_CONFIG_FILE": str(EXAMPLE)}).config
    assert settings.from_environ({"RENEWER_CONFIG_FILE": str(packaged)}).config == expected


@pytest.mark.parametrize(
    "text",
    [
        "materials: []\n",  # the document's rules
        "materials:\n  - name: a\n    source: {type: env, var: X}\n    keys: [{region: cn-hangzhou, key_id: k}]\n"
        "    validity_days: 3000000\n",  # a typo the function refuses
        "defaults: {verify: always}\nmaterials: []\n",  # unknown value, reported where it is
        "{not yaml: [\n",
        "materials: x\n" + "#" * (1024 * 1024),  # over the 1 MiB the function reads
    ],
    ids=["no materials", "validity typo", "bad default", "not YAML", "over 1 MiB"],
)
def test_an_invalid_configuration_is_refused_with_the_functions_message(tmp_path: Path, text: str) -> None:
    config = tmp_path / "renewer.yml"
    config.write_text(text, encoding="utf-8")

    result = build(tmp_path / "build", config=config)

    assert result.returncode == 2
    assert f"InvalidConfiguration: {function_message(config)}" in result.stderr
    assert "nothing was built" in result.stderr
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize("missing", ["absent.yml", "a-folder"])
def test_no_configuration_is_refused(tmp_path: Path, missing: str) -> None:
    (tmp_path / "a-folder").mkdir()
    result = build(tmp_path / "build", config=tmp_path / missing)

    assert result.returncode == 2
    assert "no configuration" in result.stderr
    assert not (tmp_path / "build").exists()


def test_without_config_it_wants_function_renewer_yml_and_builds_what_s_yaml_deploys(tmp_path: Path) -> None:
    # A copy of what the script needs, so that a developer's own function/renewer.yml plays no part.
    repo = tmp_path / "repo"
    for name in ("scripts/build-package.sh", "scripts/check_config.py", "template.yml"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "renewer.yml")
    shutil.copytree(REPO / "function", repo / "function", ignore=ignore)
    script = repo / "scripts" / "build-package.sh"

    def build() -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHON": sys.executable}
        return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=120, check=False)

    refused = build()
    assert refused.returncode == 2
    assert "CONFIG=function/renewer.yml is not a file" in refused.stderr
    assert not (repo / "build").exists()

    shutil.copy(EXAMPLE, repo / "function" / "renewer.yml")
    built = build()
    assert built.returncode == 0, built.stderr
    assert (repo / "build" / "python3.10" / "index.py").is_file()  # s.yaml's ./build/python3.10


def test_a_configuration_needing_an_extra_the_package_lacks_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "renewer.yml"
    config.write_text(AWS_CONFIG, encoding="utf-8")

    refused = build(tmp_path / "refused", config=config)
    assert refused.returncode == 2
    assert "the 'aws' extra" in refused.stderr
    assert not (tmp_path / "refused").exists()

    built = build(tmp_path / "built", "aws", config=config)
    assert built.returncode == 0, built.stderr
    assert "boto3" in (tmp_path / "built" / "function" / "requirements.txt").read_text(encoding="utf-8")


def test_the_configurations_warnings_are_shown(tmp_path: Path) -> None:
    config = tmp_path / "renewer.yml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8").replace("validity_days: 90", "validity_days: 0"))

    result = build(tmp_path / "build", config=config)

    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr and "never expire" in result.stderr


@pytest.mark.parametrize("runtime", ["python3.9", "python3.11", "custom"])
def test_a_runtime_without_a_package_is_refused(tmp_path: Path, runtime: str) -> None:
    result = build(tmp_path / "build", config=EXAMPLE, RUNTIME=runtime)

    assert result.returncode == 2
    assert f"RUNTIME={runtime} is not supported" in result.stderr
    assert not (tmp_path / "build").exists()
