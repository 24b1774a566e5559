"""A GPU session's archive, here: its results into the results folder (never over a different file), its tables and
logs into build/gpu-session/unpacked/, then the plan's status with the session's settings."""
from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

from .errors import UserError
from .files import REPO_ROOT, write_atomically
from .jobs import show_status
from .profiles import results_root

UNPACKED = REPO_ROOT / "build" / "gpu-session" / "unpacked"  # the session's tables and logs, here
RESULT = re.compile(r"results/full/[\w.+=-]+\.json")
SESSION_FILE = re.compile(r"(session|workers)/[\w.+=-]+")


def archive_members(archive: Path) -> dict[str, bytes]:
    """The archive's files whose names a session writes (results/full/*.json, session/*, workers/*), by name."""
    try:
        with tarfile.open(archive) as tar:
            return {m.name: tar.extractfile(m).read() for m in tar.getmembers()
                    if m.isfile() and (RESULT.fullmatch(m.name) or SESSION_FILE.fullmatch(m.name))}
    except (OSError, tarfile.TarError) as err:
        raise UserError(f"{archive} cannot be unpacked: {err}") from None


def store_results(members: dict[str, bytes], results_dir: Path) -> tuple[int, int]:
    """Write the archive's results that are new here; return (added, already there). Refused, with nothing written,
    if one differs from the file of the same name here (the same configuration and data, trained twice)."""
    results = {results_dir / name.rsplit("/", 1)[1]: data for name, data in members.items() if RESULT.fullmatch(name)}
    conflicts = [dest for dest, data in results.items() if dest.exists() and dest.read_bytes() != data]
    if conflicts:
        raise UserError("refused, nothing unpacked: these results differ from the archive's files of the same name (the "
                        "same configuration and data, trained twice); move them away to take the archive's:\n"
                        + "\n".join(f"  {dest}" for dest in conflicts))
    added = 0
    for dest, data in results.items():
        if not dest.exists():
            write_atomically(dest, lambda f, data=data: f.write(data))
            added += 1
    return added, len(results) - added


def unpack(archive: Path, data_root: Path, out=print) -> None:
    """Unpack a session's archive here and show where the plan stands with its settings."""
    members = archive_members(archive)
    results_dir = results_root() / "full"
    added, same = store_results(members, results_dir)
    unpacked = UNPACKED
    shutil.rmtree(unpacked, ignore_errors=True)
    for name, data in members.items():
        if SESSION_FILE.fullmatch(name):
            (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
            (unpacked / name).write_bytes(data)
    out(f"unpacked {added} new result(s) into {results_dir} ({same} there already, identical); the session's tables "
        f"and logs into {unpacked}")
    out(members.get("session/data-check.txt", b"data: the archive holds no data check").decode().strip())
    overrides = json.loads(members.get("session/overrides.json", b"{}") or b"{}")
    out(f"make status DATA_ROOT={data_root}" + (f" OVERRIDES='{json.dumps(overrides)}'" if overrides else "")
        + " (make pdf renders from these results with the same settings, without training, where every run is stored):")
    show_status("full", overrides, data_root)
