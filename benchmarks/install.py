"""What `make install` costs on disk, with PyTorch and without it.

    python -m benchmarks.install [--keep] [--cuda-torch VERSION]

Runs this checkout's `make install` into a scratch virtualenv, as Getting started tells a
newcomer to (the Makefile's TORCH_INDEX default: PyTorch's CPU index on Linux without an
NVIDIA GPU), and records its wall time, package count and size on disk, which PyTorch
build it got, and PyTorch's share: torch and the distributions only it needs, file by
file from their install records. "Without PyTorch" is that install less PyTorch's share
(what `pip install -e '.[gcs,experiments,serve,models,ui,dask,dev]'`, every extra but
`torch`, would leave).

With ``--cuda-torch VERSION`` it also installs ``torch==VERSION`` alone into a bare
virtualenv from pip's own indexes, PyTorch's CPU index not consulted: on Linux that is
the CUDA build, several gigabytes of NVIDIA libraries (it downloads them).

Writes benchmarks/results/install.json, which Getting started renders.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import results
from benchmarks.newcomer import clean_env, directory_mib

REPO = Path(__file__).resolve().parents[1]
# Run by the scratch virtualenv's Python: torch's build, and its share of the install
FOOTPRINT = r"""
import importlib.metadata as md, json, re, sys
from pip._vendor.packaging.requirements import Requirement

def key(name):
    return re.sub(r"[-_.]+", "-", name).lower()

dists = {key(d.metadata["Name"]): d for d in md.distributions()}
def requires(name):
    found = set()
    for text in dists[name].requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            if key(req.name) in dists:
                found.add(key(req.name))
    return found

def closure(name):
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += requires(current)
    return seen

only = closure("torch") if "torch" in dists else set()
changed = True
while changed:
    changed = False
    for name in set(dists) - only:
        for needed in requires(name) & only - {"torch"}:
            only -= closure(needed)
            changed = True
size = sum(
    (f.locate().stat().st_size if f.locate().exists() else 0)
    for name in only for f in (dists[name].files or [])
)
version = None
if "torch" in dists:
    version = dists["torch"].version
    cuda = [d for d in only if d.startswith("nvidia-")]
    version += f" (CUDA: {len(cuda)} NVIDIA packages)" if cuda else ""
print(json.dumps({"torch": version, "torch_mib": size / 2**20, "torch_packages": len(only)}))
"""


def footprint(python: Path) -> dict[str, object]:
    out = subprocess.run(
        [str(python), "-c", FOOTPRINT], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def packages(python: Path) -> int:
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len(listed.splitlines())


def make_install(venv: Path, env: dict[str, str]) -> list[dict[str, object]]:
    started = time.perf_counter()
    subprocess.run(["make", "install", f"VENV={venv}"], cwd=REPO, env=env, check=True)
    seconds = time.perf_counter() - started
    python = venv / "bin" / "python"
    size, count, torch = directory_mib(venv), packages(python), footprint(python)
    return [
        {
            "case": "make install",
            "torch": torch["torch"],
            "venv_mib": size,
            "torch_mib": torch["torch_mib"],
            "packages": count,
            "seconds": seconds,
        },
        {
            "case": "make install, less PyTorch's share",
            "torch": None,
            "venv_mib": size - float(torch["torch_mib"]),
            "torch_mib": 0.0,
            "packages": count - int(torch["torch_packages"]),
            "seconds": None,
        },
    ]


def torch_alone(venv: Path, version: str, env: dict[str, str]) -> dict[str, object]:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    bare = directory_mib(venv)
    started = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pip", "install", "--progress-bar", "off", f"torch=={version}"],
        env=env,
        check=True,
    )
    seconds = time.perf_counter() - started
    torch = footprint(python)
    return {
        "case": f"pip install torch=={version} (pip's default indexes)",
        "torch": torch["torch"],
        "venv_mib": directory_mib(venv) - bare,
        "torch_mib": torch["torch_mib"],
        "packages": torch["torch_packages"],
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the virtualenvs")
    parser.add_argument("--cuda-torch", metavar="VERSION", help="also measure this torch alone")
    args = parser.parse_args()
    env = clean_env()
    scratch = Path(tempfile.mkdtemp(prefix="fraudctl-install-"))
    try:
        rows = make_install(scratch / "venv", env)
        if args.cuda_torch:
            rows.append(torch_alone(scratch / "torch", args.cuda_torch, env))
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    for row in rows:
        print(
            f"{row['case']}: {row['venv_mib']:,.0f} MiB, {row['packages']} packages, "
            f"PyTorch {row['torch'] or 'none'} ({row['torch_mib']:,.0f} MiB)"
        )
    index = "the Makefile's TORCH_INDEX default" + (
        f" ({os.environ['TORCH_INDEX']!r} from the environment)"
        if "TORCH_INDEX" in os.environ
        else ""
    )
    conditions = f"a scratch virtualenv; PyTorch from {index}; sizes are files on disk"
    print(f"results: {results.write('install', rows, conditions)}")


if __name__ == "__main__":
    main()
