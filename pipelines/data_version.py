"""DVC wiring: make sure the exact tracked data version is on disk, and report its digest."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.errors import StepstoneError


@dataclass(frozen=True)
class DataVersion:
    """What identifies the input data of a run."""

    path: str
    md5: str  # md5 of the file's bytes (DVC's own file hash)
    dvc_file: str | None  # the .dvc file that tracks it, if any
    dvc_md5: str | None  # the md5 recorded there (a `.dir` hash for a tracked folder)

    def with_files(self, files: list[Path]) -> DataVersion:
        """This version with `md5` covering `files` too (the images a manifest names)."""
        if not files:
            return self
        digest = hashlib.md5(self.md5.encode())
        for file in files:  # a missing file is left to the validate stage to report
            digest.update(str(file).encode())
            digest.update(file_md5(file).encode() if file.is_file() else b"missing")
        return DataVersion(self.path, digest.hexdigest(), self.dvc_file, self.dvc_md5)

    def tags(self) -> dict[str, str]:
        return {
            "data_md5": self.md5,
            "dvc_md5": self.dvc_md5 or "untracked",
            "data_path": self.path,
        }


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_dvc_file(path: Path) -> Path | None:
    """The `.dvc` file tracking `path` or one of its parent folders (`data.dvc` for `data/x.csv`)."""
    path = path.resolve()
    for candidate in [path, *path.parents]:
        if candidate.name and candidate.with_name(candidate.name + ".dvc").is_file():
            return candidate.with_name(candidate.name + ".dvc")
    return None


def _repo_root(dvc_file: Path) -> Path:
    for parent in dvc_file.parents:
        if (parent / ".dvc").is_dir():
            return parent
    raise StepstoneError(f"{dvc_file} is not inside a DVC repository (no .dvc/ folder above it).")


def ensure_data(path: Path) -> DataVersion:
    """Fetch DVC-tracked data that is missing (`dvc pull`), refuse data that differs from its
    `.dvc` record, and return the version that the run will use."""
    dvc_file = find_dvc_file(path)
    dvc_md5 = None
    if dvc_file is not None:
        _retry_while_locked(lambda: _check_or_pull(path, dvc_file))
        dvc_md5 = yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"]
    if not path.exists():
        raise StepstoneError(
            f"data not found: {path}. Set data.path in the scenario YAML to an existing table, "
            "image manifest or image folder."
        )
    md5 = file_md5(path) if path.is_file() else hashlib.md5(b"folder").hexdigest()
    return DataVersion(str(path), md5, str(dvc_file) if dvc_file else None, dvc_md5)


def _check_or_pull(path: Path, dvc_file: Path) -> None:
    """`dvc pull` missing data; refuse data that differs from its `.dvc` record."""
    from dvc.lock import LockError
    from dvc.repo import Repo  # slow import, only when the data is DVC-tracked

    with Repo(str(_repo_root(dvc_file))) as repo:
        if not path.exists():
            try:
                repo.pull(targets=[str(dvc_file)])
            except LockError:
                raise  # another run holds the repository: _retry_while_locked waits
            except Exception as exc:  # DVC raises many kinds; all mean "could not fetch"
                raise StepstoneError(
                    f"{path} is missing and `dvc pull {dvc_file.name}` failed: {exc}. "
                    "Check the DVC remote (`dvc remote list`)."
                ) from exc
        elif repo.status(targets=[str(dvc_file)]):
            raise StepstoneError(
                f"{path} differs from the version recorded in {dvc_file.name}. Run "
                f"`dvc add {dvc_file.with_suffix('').name}` to version your change, or "
                f"`dvc checkout {dvc_file.name}` to restore the recorded data."
            )


def _retry_while_locked(action, attempts: int = 8):
    """Run `action`, retrying with backoff (0.5 s doubling, at most 5 s a wait) while another
    process holds the DVC repository lock: overlapping runs on one repository take turns."""
    from dvc.lock import LockError

    for attempt in range(attempts):
        try:
            return action()
        except LockError:
            if attempt == attempts - 1:
                raise StepstoneError(
                    "the DVC repository stayed locked by another process for about 30 s; "
                    "if no other stepstone or dvc command is running, remove .dvc/tmp/lock."
                ) from None
            time.sleep(min(5.0, 0.5 * 2**attempt))
