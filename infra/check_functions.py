#!/usr/bin/env python3
"""Checks that template.yaml's Lambda functions and the crates under functions/ match one to one.

Every AWS::Serverless::Function must be built by cargo-lambda (Metadata.BuildMethod:
rust-cargolambda) from a named binary (Metadata.BuildProperties.Binary); each Binary must be the
[package] name of exactly one crate functions/<dir>/Cargo.toml, and every such crate must be
used by exactly one function. Prints every mismatch and exits 1 if there is any.

    python3 infra/check_functions.py [--root DIR] [--template FILE]

Defaults: the repository root (this file's parent's parent) and <root>/template.yaml.

Standard library only, except that PyYAML is used when importable (the .venv-sam interpreter
has it through cfn-lint; infra/tools.sh's validate_template runs this script with it).
Without PyYAML a small reader of block-style YAML takes over: it understands the nested
`key: value` mappings this check needs (Resources -> Type, Metadata) and skips sequences and
flow collections it does not need.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
BUILD_METHOD = "rust-cargolambda"


# --------------------------------------------------------------------------------------------
# Reading template.yaml
# --------------------------------------------------------------------------------------------


def load_template(text: str) -> dict:
    try:
        import yaml  # type: ignore[import-not-found]
    except ImportError:
        return BlockYaml(text).parse()

    class Loader(yaml.SafeLoader):
        """SafeLoader that accepts CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, ...)."""

    def tagged(loader, tag_suffix, node):  # noqa: ANN001 - PyYAML's constructor signature
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {f"!{tag_suffix}": value}

    Loader.add_multi_constructor("!", tagged)
    data = yaml.load(text, Loader=Loader)  # noqa: S506 - SafeLoader subclass
    return data if isinstance(data, dict) else {}


class BlockYaml:
    """A tolerant reader for the block-mapping part of a YAML document.

    Returns nested dicts of `key: value` lines (scalars as strings, quotes removed). Sequence
    items, flow collections, tags and multi-line scalars are kept as raw text or skipped; that is
    enough to read each resource's Type and Metadata.
    """

    KEY = re.compile(r"""^(?P<key>"[^"]*"|'[^']*'|[^\s#'"][^:#]*?)\s*:(?:\s+(?P<value>.*))?$""")

    def __init__(self, text: str) -> None:
        self.lines = []
        block_indent = None  # inside a `|` / `>` scalar: lines deeper than this are its text
        for raw in text.splitlines():
            stripped = raw.strip()
            indent = len(raw) - len(raw.lstrip(" "))
            if block_indent is not None:
                if not stripped or indent > block_indent:
                    continue
                block_indent = None
            if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
                continue
            self.lines.append((indent, stripped))
            m = self.KEY.match(stripped)
            value = (m.group("value") or "") if m else ""
            if re.match(r"^[|>][+-]?\d*\s*(#.*)?$", value):
                block_indent = indent

    def parse(self) -> dict:
        root: dict = {}
        stack = [(-1, root)]  # (indent of the owning key, mapping)
        for indent, text in self.lines:
            while stack and indent <= stack[-1][0]:
                stack.pop()
            parent = stack[-1][1]
            if text.startswith("- ") or text == "-":
                stack.append((indent, {}))  # a sequence item and all under it: not needed
                continue
            m = self.KEY.match(text)
            if not m or not isinstance(parent, dict):
                continue
            key = self.unquote(m.group("key"))
            value = self.strip_comment(m.group("value") or "")
            if value == "" or re.match(r"^[|>]", value):
                child: dict = {}
                parent[key] = child
                stack.append((indent, child))
            else:
                parent[key] = self.unquote(value)
                stack.append((indent, {}))  # anything deeper belongs to no mapping we keep
        return root

    @staticmethod
    def strip_comment(value: str) -> str:
        if value[:1] in ("'", '"'):
            end = value.find(value[0], 1)
            return value[: end + 1] if end > 0 else value
        return re.sub(r"\s+#.*$", "", value).strip()

    @staticmethod
    def unquote(value: str) -> str:
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in ("'", '"'):
            return value[1:-1]
        return value


# --------------------------------------------------------------------------------------------
# Reading the crates
# --------------------------------------------------------------------------------------------


def package_name(cargo_toml: Path) -> str | None:
    text = cargo_toml.read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        tomllib = None
    if tomllib is not None:
        try:
            name = tomllib.loads(text).get("package", {}).get("name")
            return name if isinstance(name, str) else None
        except tomllib.TOMLDecodeError:
            return None
    in_package = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            in_package = line == "[package]"
        elif in_package:
            m = re.match(r"""^name\s*=\s*["']([^"']+)["']""", line)
            if m:
                return m.group(1)
    return None


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------


def check(root: Path, template_path: Path) -> list[str]:
    problems: list[str] = []

    try:
        template = load_template(template_path.read_text(encoding="utf-8"))
    except OSError as e:
        return [f"cannot read {template_path}: {e}"]
    except Exception as e:  # noqa: BLE001 - a YAML error of any kind is a finding
        return [f"cannot parse {template_path}: {e}"]

    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return [f"{template_path.name}: no Resources mapping"]

    # Binary name -> functions building it.
    binaries: dict[str, list[str]] = {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        metadata = resource.get("Metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        method = metadata.get("BuildMethod")
        if method != BUILD_METHOD:
            problems.append(
                f"function {logical_id}: Metadata.BuildMethod is {method!r}, expected {BUILD_METHOD!r}"
            )
        props = metadata.get("BuildProperties")
        binary = props.get("Binary") if isinstance(props, dict) else None
        if not isinstance(binary, str) or not binary:
            problems.append(f"function {logical_id}: Metadata.BuildProperties.Binary is missing")
            continue
        binaries.setdefault(binary, []).append(logical_id)

    # Package name -> crate manifests with that name.
    crates: dict[str, list[str]] = {}
    functions_dir = root / "functions"
    for manifest in sorted(functions_dir.glob("*/Cargo.toml")):
        rel = manifest.relative_to(root).as_posix()
        try:
            name = package_name(manifest)
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"crate {rel}: cannot read: {e}")
            continue
        if not name:
            problems.append(f"crate {rel}: no [package] name")
            continue
        crates.setdefault(name, []).append(rel)

    for binary, functions in sorted(binaries.items()):
        if len(functions) > 1:
            problems.append(
                f"binary {binary}: built by {len(functions)} functions ({', '.join(functions)}); "
                "each crate serves exactly one function"
            )
        owners = crates.get(binary, [])
        if not owners:
            problems.append(
                f"function {', '.join(functions)}: binary {binary} is the package name of no "
                "crate functions/*/Cargo.toml"
            )
        elif len(owners) > 1:
            problems.append(
                f"binary {binary}: {len(owners)} crates have this package name ({', '.join(owners)})"
            )

    for name, manifests in sorted(crates.items()):
        if name not in binaries:
            for rel in manifests:
                problems.append(
                    f"crate {rel} (package {name}): used by no AWS::Serverless::Function in "
                    f"{template_path.name} (add a function with BuildProperties.Binary: {name})"
                )

    return problems


def main(argv: list[str] | None = None) -> int:
    default_root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_root, help="repository root")
    parser.add_argument("--template", type=Path, help="template (default <root>/template.yaml)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    template = args.template or root / "template.yaml"

    problems = check(root, template)
    if problems:
        print(f"check_functions: {len(problems)} mismatch(es) between {template} and functions/*:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(f"check_functions: every function in {template.name} has its own crate under functions/, and back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
