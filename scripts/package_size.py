"""How large the function's code package is, per variant: Alibaba only, with each extra, with both.

For each variant, pip installs its requirements file(s) from function/ into a fresh folder
(``pip install --target``, as ``fun build`` fills the package), the function's own code is added,
and the folder is measured unpacked and as a deflated zip (what Function Compute receives).
Bytecode is not compiled (``--no-compile``): the runtime compiles on import.

pip uses its configured index (or cache): run it where ``make`` can install. The interpreter is this
one (``make package-size`` uses .venv's, Python 3.10 like the runtime); wheels are picked for this
machine, which can differ a little from the python3.10 runtime's.

    python scripts/package_size.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUNCTION = REPO / "function"
VARIANTS: dict[str, tuple[str, ...]] = {
    "alibaba": ("requirements.txt",),
    "aws": ("requirements-aws.txt",),
    "pkcs11": ("requirements-pkcs11.txt",),
    "aws+pkcs11": ("requirements-aws.txt", "requirements-pkcs11.txt"),
    "sm2": ("requirements-sm2.txt",),
}
MIB = 1024 * 1024


def code_files() -> list[Path]:
    """The function's own files in the package: its Python code (no bytecode, no requirements files)."""
    files = [*FUNCTION.glob("*.py"), *FUNCTION.glob("renewer/**/*.py")]
    return sorted(path for path in files if "__pycache__" not in path.parts)


def install(requirements: tuple[str, ...], target: Path) -> None:
    args = [arg for name in requirements for arg in ("-r", str(FUNCTION / name))]
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target), *args]
    subprocess.run(command, check=True)


def tree_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def zipped_size(folder: Path, code: list[Path], archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder))
        for path in code:
            zf.write(path, path.relative_to(FUNCTION))
    return archive.stat().st_size


def largest(folder: Path, count: int = 4) -> list[tuple[str, int]]:
    """The largest top-level entries (packages), skipping the *.dist-info metadata folders."""
    entries = [entry for entry in folder.iterdir() if not entry.name.endswith(".dist-info")]
    sizes = [(entry.name, tree_size(entry) if entry.is_dir() else entry.stat().st_size) for entry in entries]
    return sorted(sizes, key=lambda item: -item[1])[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="install into DIR/<variant> and keep it (default: a temporary one)")
    args = parser.parse_args(argv)

    code = code_files()
    code_bytes = sum(path.stat().st_size for path in code)
    with tempfile.TemporaryDirectory(prefix="package-size-") as scratch:
        root = args.keep or Path(scratch)
        print(f"function code: {code_bytes / MIB:.2f} MiB ({len(code)} files); interpreter {sys.version.split()[0]}")
        print(f"{'variant':<12} {'unpacked MiB':>12} {'zip MiB':>8}  largest packages")
        for name, requirements in VARIANTS.items():
            target = root / name
            install(requirements, target)
            unpacked = tree_size(target) + code_bytes
            zipped = zipped_size(target, code, Path(scratch) / f"{name}.zip")
            top = ", ".join(f"{entry} {size / MIB:.1f}" for entry, size in largest(target))
            print(f"{name:<12} {unpacked / MIB:>12.1f} {zipped / MIB:>8.1f}  {top}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
