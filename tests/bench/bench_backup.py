"""Backup and restore throughput of restic (as the backup role runs it) against a plain tar copy.

A generated sample (BENCH_BACKUP_MB, default 1024 MB: a few large files like ClickHouse parts,
many small ones like attachments and symbols, half of it compressible) is backed up into a
fresh encrypted local repository, restored, and compared; the restore time is compared with
extracting a plain tar archive of the same data (goal: restic within 2x of tar).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SAMPLE_MB = int(os.environ.get("BENCH_BACKUP_MB", "1024"))


def _generate(root: Path, total_mb: int) -> int:
    """Write the sample; returns its size in bytes."""
    rng = open("/dev/urandom", "rb")  # noqa: SIM115  (closed below)
    written = 0
    large = root / "clickhouse"
    small = root / "data" / "files"
    large.mkdir(parents=True)
    small.mkdir(parents=True)
    target = total_mb * 1024 * 1024
    # 60 % in 64 MB files (half random, half repetitive), 40 % in 64 KB files.
    index = 0
    while written < target * 0.6:
        chunk = rng.read(32 * 1024 * 1024) + (b"sentry-event-row;" * 2_000_000)[: 32 * 1024 * 1024]
        (large / f"part-{index:04d}.bin").write_bytes(chunk)
        written += len(chunk)
        index += 1
    index = 0
    while written < target:
        blob = rng.read(65536)
        directory = small / f"{index // 500:03d}"
        directory.mkdir(exist_ok=True)
        (directory / f"obj-{index:06d}").write_bytes(blob)
        written += len(blob)
        index += 1
    rng.close()
    return written


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def _timed(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> float:
    """Wall time of a command until what it wrote is on disk.

    Each timed step starts with no dirty pages of the previous one and ends with sync: without
    that, whichever step runs after a large write pays for the writeback of the one before it,
    and a step that fits in the page cache looks faster than the disk.
    """
    os.sync()
    started = time.monotonic()
    subprocess.run(argv, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.sync()
    return time.monotonic() - started


def run() -> list[dict]:
    if not shutil.which("restic"):
        return [{"metric": "restic not installed", "value": "", "unit": "", "target": None, "ok": False}]
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        work = Path(tmp)
        sample = work / "sample"
        size = _generate(sample, SAMPLE_MB)
        mb = size / 1024 / 1024
        (work / "password").write_text("bench-backup-password-not-secret")
        env = {
            **os.environ,
            "RESTIC_REPOSITORY": str(work / "repo"),
            "RESTIC_PASSWORD_FILE": str(work / "password"),
            "RESTIC_CACHE_DIR": str(work / "cache"),
        }
        subprocess.run(["restic", "init"], check=True, env=env, capture_output=True)
        backup_s = _timed(["restic", "backup", "--host", "bench", str(sample)], env)
        restore_s = _timed(["restic", "restore", "latest", "--target", str(work / "restored")], env)
        restored = work / "restored" / sample.relative_to("/")
        identical = _digest(restored) == _digest(sample)
        shutil.rmtree(work / "restored")
        subprocess.run(["tar", "-cf", str(work / "sample.tar"), "-C", str(work), "sample"], check=True)
        (work / "untar").mkdir()
        tar_s = _timed(["tar", "-xf", str(work / "sample.tar"), "-C", str(work / "untar")])
        ratio = restore_s / tar_s if tar_s else float("inf")
        return [
            {"metric": "sample size", "value": round(mb), "unit": "MB", "target": ">= 1024", "ok": mb >= 1024},
            {"metric": "restic backup throughput", "value": mb / backup_s, "unit": "MB/s", "target": None, "ok": None},
            {
                "metric": "restic restore throughput",
                "value": mb / restore_s,
                "unit": "MB/s",
                "target": None,
                "ok": None,
            },
            {"metric": "tar extract throughput", "value": mb / tar_s, "unit": "MB/s", "target": None, "ok": None},
            {
                "metric": "restore time / tar extract time",
                "value": ratio,
                "unit": "x",
                "target": "<= 2",
                "ok": ratio <= 2,
            },
            {"metric": "restored data identical", "value": identical, "unit": "", "target": "True", "ok": identical},
        ]
