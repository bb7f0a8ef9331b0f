"""SHA-256 manifests of a pipeline output directory, for byte-identity checks.

A manifest lists one ``<sha256>  <path>`` line per file under the output
directory, sorted by path, in the format ``sha256sum --check`` reads (run it
from the output directory). Files under ``logs/`` are left out because log
lines carry timestamps. Every other file counts, including a stray
``.*.partial`` file that an interrupted writer left behind.

Usage::

    python -m dspgd.manifest write quick quick.sha256   # after one run
    python -m dspgd.manifest check quick quick.sha256   # after a second run from scratch
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from dspgd.io import file_sha256, write_text

__all__ = ["EXCLUDED_DIRS", "build_manifest", "compare_manifests", "format_manifest", "parse_manifest"]

#: Top-level directories of an output directory that manifests leave out.
EXCLUDED_DIRS = ("logs",)


def build_manifest(root: str | os.PathLike[str], excluded: Sequence[str] = EXCLUDED_DIRS) -> dict[str, str]:
    """Return ``{relative POSIX path: SHA-256}`` of every file under ``root`` outside ``excluded``.

    Raises:
        FileNotFoundError: if ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"output directory {str(root)!r} not found; run the pipeline first")
    manifest = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in excluded or not path.is_file():
            continue
        manifest[relative.as_posix()] = file_sha256(path)
    return manifest


def format_manifest(manifest: Mapping[str, str]) -> str:
    """Render a manifest in ``sha256sum`` format, sorted by path."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(manifest.items()))


def parse_manifest(text: str) -> dict[str, str]:
    """Parse the output of :func:`format_manifest` (or of ``sha256sum``)."""
    manifest = {}
    for number, line in enumerate(text.splitlines(), start=1):
        digest, separator, path = line.partition("  ")
        if not separator or len(digest) != 64:
            raise ValueError(f"manifest line {number} is invalid: {line!r}; expected '<sha256>  <path>'")
        manifest[path] = digest
    return manifest


def compare_manifests(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """Return one line per difference between two manifests; an empty list means byte-identical outputs."""
    problems = []
    for path in sorted(expected.keys() | actual.keys()):
        if path not in actual:
            problems.append(f"missing in the second run: {path}")
        elif path not in expected:
            problems.append(f"only in the second run: {path}")
        elif expected[path] != actual[path]:
            problems.append(f"bytes differ: {path}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dspgd.manifest",
        description="Write or check a SHA-256 manifest of a pipeline output directory (logs/ excluded).",
    )
    parser.add_argument("command", choices=("write", "check"),
                        help="write a manifest, or check a directory against one")
    parser.add_argument("output_dir", help="pipeline output directory, e.g. quick")
    parser.add_argument("manifest", help="manifest file to write or to check against")
    args = parser.parse_args(argv)

    actual = build_manifest(args.output_dir)
    if args.command == "write":
        write_text(args.manifest, format_manifest(actual))
        print(f"wrote {len(actual)} checksums of {args.output_dir} to {args.manifest}")
        return 0

    expected = parse_manifest(Path(args.manifest).read_text(encoding="utf-8"))
    problems = compare_manifests(expected, actual)
    if problems:
        print(f"{args.output_dir} differs from {args.manifest} in {len(problems)} file(s):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{len(actual)} files of {args.output_dir} are byte-identical to {args.manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
