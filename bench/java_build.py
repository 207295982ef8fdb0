"""Build bench/java/ (the Java SDK contestant) on first use, and reuse it after.

    python bench/java_build.py     # builds if needed, prints the jar's path

``mvn -q package`` in bench/java/ writes target/statefun-bench-java.jar and
target/lib/ (the runtime jars its manifest names); git ignores target/. The
sha256 of pom.xml and every source file is kept in target/source.sha256, so a
changed source rebuilds and an unchanged one does not. Standard library only.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

JAVA_DIR = Path(__file__).resolve().parent / "java"
TARGET = JAVA_DIR / "target"
JAR = TARGET / "statefun-bench-java.jar"
STAMP = TARGET / "source.sha256"


def source_digest(root: Path = JAVA_DIR) -> str:
    """sha256 over pom.xml and src/, each file's relative path and bytes, in path order."""
    digest = hashlib.sha256()
    files = [root / "pom.xml", *sorted(p for p in (root / "src").rglob("*") if p.is_file())]
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_jar() -> Path:
    """The built jar, building it first if it is missing or older than its sources."""
    want = source_digest()
    if JAR.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return JAR
    for tool in ("mvn", "java"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: the Java SDK contestant needs a JDK 17 and Maven")
    print(f"building {JAVA_DIR.name}/ (mvn -q package)", file=sys.stderr)
    subprocess.run(["mvn", "-q", "-B", "package"], cwd=JAVA_DIR, check=True)
    if not JAR.exists():
        raise SystemExit(f"mvn package did not write {JAR}")
    STAMP.write_text(want + "\n")
    return JAR


def java_version() -> str:
    out = subprocess.run(["java", "-version"], capture_output=True, text=True)
    lines = (out.stderr or out.stdout).splitlines()
    return lines[0].strip() if lines else ""


if __name__ == "__main__":
    print(ensure_jar())
