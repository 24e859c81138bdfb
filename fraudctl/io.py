"""File I/O that never leaves half-written outputs and never hides where input went wrong.

Writers produce the file (or directory) under a temporary name beside the target and
rename it into place, so a crash or a bad input leaves the previous output intact.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudctl.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def _staging_prefix(target: Path) -> str:
    """Temporary names carry the writer's pid, so a later run can tell a killed writer's
    leftovers (removed) from a live writer's (kept)."""
    return f".{target.name}.{os.getpid()}-"


def _leftovers(target: Path) -> Iterator[Path]:
    """Temporaries of ``target`` whose writer is gone (or whose name carries no pid)."""
    marker = f".{target.name}."
    for path in target.parent.glob(f"{glob.escape(marker)}*"):
        pid_text = path.name[len(marker) :].partition("-")[0]
        pid = int(pid_text) if pid_text.isdigit() else None
        if pid is not None and (pid == os.getpid() or _alive(pid)):
            continue
        yield path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_leftovers(target: Path) -> None:
    """Remove what a killed writer of ``target`` left beside it (files and folders)."""
    for leftover in _leftovers(Path(target)):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        elif leftover.name.endswith(".tmp"):
            leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it over ``target`` only on success.
    Temporaries a killed run left for the same target are removed first."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=_staging_prefix(target), suffix=".tmp", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600; files follow the umask
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


@functools.cache
def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a path (not yet created) for the new directory; swap it in for ``target`` only
    on success. A staging folder left by a killed run is removed on the next call."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)  # staging of a killed run: never tracked, never reused
    staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(target), dir=target.parent))
    building = staging / "content"
    old = staging / "old"
    try:
        yield building
        if target.exists():
            target.replace(old)
        building.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def staged_copy(target: Path) -> Iterator[Path]:
    """A copy of the directory ``target`` to write a stage's outputs into; it replaces
    ``target`` in one rename only when the block succeeds, so a failed or killed stage
    leaves every previous output as it was (not some new and some old)."""
    with atomic_directory(target) as building:
        if Path(target).exists():
            shutil.copytree(target, building, symlinks=True)
        else:
            building.mkdir()
        yield building


def relocated(outputs: list[Path], staging: Path, target: Path) -> list[Path]:
    """Where files written under ``staging`` live once it has replaced ``target``."""
    return [target / Path(p).relative_to(staging) for p in outputs]


def json_text(payload: Any) -> str:
    return json.dumps(payload, indent=2, sort_keys=False) + "\n"


def write_json(path: Path, payload: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(payload), encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Atomically write ``path`` with a callable that writes to the path it is given."""
    with atomic_path(path) as tmp:
        writer(tmp)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_table(path: Path, *, shared: bool = False) -> pd.DataFrame:
    """Read a CSV, CSV.gz or parquet file, turning every failure into a DataError naming it.

    ``shared``: a parquet file's columns stay in the memory Arrow read them into (read-only,
    one block per column) instead of being copied into pandas' 2-D blocks: a reader that
    checks and passes columns on (``fraudctl score``) saves a copy of the whole table.
    """
    import pandas as pd

    path = Path(path)
    if is_partitioned(str(path)):
        return read_partitions(partition_files(str(path)))
    if not path.exists():
        raise DataError(f"{path}: file not found")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")) and shared:
            import pyarrow.parquet as pq

            # One chunk per row group (the dataset reader cuts 128 Ki-row chunks, which
            # pandas must then join), so a column of one row group is never copied; the
            # file is mapped, not read into fresh memory first (a third of the CPU time of
            # a million-row score went to the kernel handing out that memory).
            table = pq.ParquetFile(path, memory_map=True).read(use_pandas_metadata=True)
            frame = table.to_pandas(split_blocks=True, self_destruct=True)
            del table
        elif name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
            release_arrow_memory()
        elif name.endswith((".csv", ".csv.gz")):
            _check_csv_header(path)
            frame = pd.read_csv(path, low_memory=False)
        else:
            raise DataError(
                f"{path}: unsupported file type; expected one of {', '.join(TABLE_SUFFIXES)}"
            )
    except DataError:
        raise
    except Exception as exc:
        problem = _describe_read_error(exc, parquet=name.endswith((".parquet", ".pq")))
        if problem is None:
            raise
        raise DataError(f"{path}: {problem}") from None
    return frame


def release_arrow_memory() -> None:
    """Hand the memory Arrow has freed back to the system.

    Arrow's allocator keeps freed pages for reuse: reading a 270 MB parquet split left
    the process 620 MB larger, and the train stage of a 1.76 M-row log peaked at 1.9 GiB
    of its 2 GiB budget. Releasing after reads and after dropping frames costs
    milliseconds.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def is_partitioned(source: str) -> bool:
    """A directory or a glob of parquet files (a day-partitioned log, or the outputs of
    ``compute.engine: dask``), rather than one file."""
    return any(c in source for c in "*?[") or Path(source).is_dir()


def partition_files(source: str) -> list[Path]:
    """The parquet files of a directory (searched recursively) or glob, in name order:
    a log partitioned by day, named by date, is then in time order."""
    import glob

    if Path(source).is_dir():
        files = sorted(
            p for p in Path(source).rglob("*") if p.name.lower().endswith((".parquet", ".pq"))
        )
        what = "directory"
    else:
        matches = glob.glob(source, recursive=True)  # noqa: PTH207 - absolute patterns too
        files = sorted(Path(p) for p in matches if Path(p).is_file())
        what = "pattern"
    if not files:
        raise DataError(f"{source}: the {what} holds no parquet files (*.parquet)")
    wrong = [f for f in files if not f.name.lower().endswith((".parquet", ".pq"))]
    if wrong:
        raise DataError(
            f"{wrong[0]}: partitions must be parquet files; {source} matches other files"
        )
    return files


def read_partitions(files: list[Path]) -> pd.DataFrame:
    """Every partition in one frame, in file order; a damaged file is named."""
    import pandas as pd

    frames = []
    for file in files:
        try:
            frames.append(pd.read_parquet(file))
        except Exception as exc:
            problem = _describe_read_error(exc, parquet=True)
            if problem is None:
                raise
            raise DataError(f"{file}: {problem}") from None
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _describe_read_error(exc: Exception, parquet: bool) -> str | None:
    """What went wrong reading a table, in the user's terms; None for a bug of ours."""
    import csv

    import pandas as pd

    if parquet:  # pyarrow has its own exception hierarchy for damaged files
        return f"not a readable parquet file: {_first_line(exc)}"
    if isinstance(exc, pd.errors.EmptyDataError):
        return "the file is empty (no header, no rows)"
    if isinstance(exc, pd.errors.ParserError):
        return f"malformed CSV: {_first_line(exc)}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not a text CSV file ({exc.reason} at byte {exc.start})"
    if isinstance(exc, csv.Error):
        return f"not a CSV text file ({exc})"
    if isinstance(exc, OSError | ValueError | EOFError):
        return f"cannot be read: {_first_line(exc)}"
    return None


def _check_csv_header(path: Path) -> None:
    """Catch the CSV mistakes pandas would read silently: another encoding or delimiter,
    and repeated column names (pandas renames the second ``Amount`` to ``Amount.1``)."""
    import csv

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        head = handle.read(64 * 1024)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:200].count(b"\x00") > 10:
        raise DataError(f"{path}: UTF-16 text is not supported; save the file as UTF-8")
    line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        header = next(csv.reader([line]), [])
    except csv.Error as exc:
        raise DataError(f"{path}: not a CSV text file ({exc})") from None
    if len(header) <= 1 and line.count(";") >= 2:
        raise DataError(
            f"{path}: the header has one column and {line.count(';')} semicolons; "
            "the delimiter looks like ';' but fraudctl reads comma-separated files"
        )
    names = [name.strip() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: repeated column name(s) in the header: {', '.join(repeated)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
