"""Generate the sync flavour of the engine from its async source, so the two can't drift apart.

python scripts/unasync.py          rewrite dualsessions/_sync_engine.py
python scripts/unasync.py --check  fail if it is out of date (CI runs this)
"""

from __future__ import annotations

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "dualsessions" / "_async_engine.py"
TARGET = ROOT / "dualsessions" / "_sync_engine.py"

SUBSTITUTIONS = [
    (r"\basync def\b", "def"),
    (r"\bawait\s+", ""),
    (r"\bAsyncEngine\b", "SyncEngine"),
    (r"\bAsyncSessionHandle\b", "SyncSessionHandle"),
    (r"\basync_store\b", "sync_store"),
    (r"\basync_serializer\b", "sync_serializer"),
    (r"in the async flavour", "in the sync flavour"),
    (r"This file is the source of ``_sync_engine.py``, which ``scripts/unasync.py`` generates from it.",
     "Generated from ``_async_engine.py`` by ``scripts/unasync.py``: edit that file, then run the script."),
]  # fmt: skip


def generate() -> str:
    text = SOURCE.read_text()
    for pattern, replacement in SUBSTITUTIONS:
        text = re.sub(pattern, replacement, text)
    return text


def main() -> int:
    text = generate()
    if "--check" in sys.argv[1:]:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(
                f"{TARGET.relative_to(ROOT)} is out of date: run python scripts/unasync.py", file=sys.stderr
            )
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
