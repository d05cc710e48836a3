"""Dense scene data sets stored as one ``.npy`` file per sample and label, as MTAN and LibMTL do.

    ROOT/train/image/0.npy   (H, W, 3) float in [0, 1]      ROOT/val/...   same layout
    ROOT/train/label/0.npy   (H, W) class index, -1 = ignore
    ROOT/train/depth/0.npy   (H, W, 1) or (H, W) float, 0 = unknown
    ROOT/train/normal/0.npy  (H, W, 3) unit vectors in [-1, 1], 0 = unknown   (NYUv2 only)

A split is a map-style Dataset that reads a sample's files when the sample is asked for, so a
folder of any size streams. When the benchmark loads, every file's header is read (a missing
file, an unreadable one, a wrong shape or channels-first images stop the load in one line
naming the file) and the first samples of each split are read whole and their values checked,
which catches the usual storage mistakes (0-255 images, normals in [0, 1]) before any training.
Every other file's values are checked as it is read: a bad one stops training in one line
naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from nas.data._augment import ScaleCropFlip
from nas.data._benchmark import Benchmark, BenchmarkError
from nas.data._tasks import Task
from nas.model.backbones._registry import BackboneSpec

__all__ = ["FolderSpec", "NpyFolder", "folder_benchmark", "hold_out", "scan"]

CHECKED_ON_LOAD = 16  # samples per split whose values are checked when the benchmark loads


@dataclass(frozen=True)
class FolderSpec:
    """One layout: its name, sub-folder per task, and the label classes.

    Attributes:
        name: the benchmark's name (for messages).
        tasks: task name -> sub-folder holding its target files.
        classes: segmentation classes (labels 0..classes-1, and -1 ignored).
    """

    name: str
    tasks: Mapping[str, str]
    classes: int

    @property
    def folders(self) -> tuple[str, ...]:
        """Every sub-folder a sample has a file in: the image first."""
        return ("image", *self.tasks.values())


def _kind(sub: str) -> str:
    return "label" if sub.startswith("label") else sub


def _channels(sub: str) -> int | None:
    return {"image": 3, "label": None, "depth": 1, "normal": 3}[_kind(sub)]


def _open(path: Path, where: str) -> np.ndarray:
    try:
        a: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise BenchmarkError(f"{where}: cannot read {path}: {err}") from None
    return a


def _check_shape(a: np.ndarray, path: Path, sub: str, hw: tuple[int, int], where: str) -> None:
    if _kind(sub) == "image" and a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3:
        raise BenchmarkError(
            f"{where}: {path} has shape {a.shape}, channels first; this layout stores images "
            "as (H, W, 3): transpose it with a.transpose(1, 2, 0)"
        )
    channels = _channels(sub)
    want = hw if channels is None else (*hw, channels)
    depth_2d = _kind(sub) == "depth" and a.shape == hw  # (H, W) depth is read as (H, W, 1)
    if a.shape != want and not depth_2d:
        raise BenchmarkError(f"{where}: {path} has shape {a.shape}, expected {want}")
    if not np.issubdtype(a.dtype, np.number):
        raise BenchmarkError(f"{where}: {path} holds {a.dtype} values, not numbers")


def _check_values(a: np.ndarray, path: Path, sub: str, classes: int, where: str) -> None:
    kind = _kind(sub)
    if not np.isfinite(a).all():
        raise BenchmarkError(f"{where}: {path} holds NaN or infinite values")
    if kind == "image" and (a.min() < 0 or a.max() > 1):
        hint = "; it looks like 0-255: divide by 255" if a.max() > 1 else ""
        raise BenchmarkError(
            f"{where}: {path} has values in [{a.min():g}, {a.max():g}]; this layout stores "
            f"images as floats in [0, 1]{hint}"
        )
    if kind == "label" and (
        (a != np.round(a)).any() or ((a != -1) & ((a < 0) | (a >= classes))).any()
    ):
        raise BenchmarkError(
            f"{where}: {path} holds labels other than the classes 0..{classes - 1} and -1 (ignored)"
        )
    if kind == "depth" and (a < 0).any():
        raise BenchmarkError(f"{where}: {path} has negative depth (0 is unknown)")
    if kind == "normal" and (np.abs(a) > 1 + 1e-3).any():
        raise BenchmarkError(
            f"{where}: {path} has normal components outside [-1, 1]; this layout stores unit "
            "vectors (0 = unknown)"
        )


def _sorted_ids(ids: set[str]) -> list[str]:
    # Numeric order where the names are numbers, as the layout names them (0.npy, 1.npy, ...).
    return sorted(ids, key=lambda i: (not i.isdigit(), int(i) if i.isdigit() else 0, i))


def scan(folder: Path, spec: FolderSpec) -> tuple[list[str], tuple[int, int]]:
    """Every sample id of ``folder`` and the image size, each file's header checked.

    Raises:
        BenchmarkError: a missing sub-folder or file, an unreadable file, a wrong shape.
    """
    where = f"{spec.name} folder {folder}"
    for sub in spec.folders:
        if not (folder / sub).is_dir():
            raise BenchmarkError(
                f"{where}: missing sub-folder {sub!r} (expected {list(spec.folders)})"
            )
    found = {sub: {p.stem for p in (folder / sub).glob("*.npy")} for sub in spec.folders}
    every = set().union(*found.values())
    if not every:
        raise BenchmarkError(f"{where}: no .npy files in {folder / 'image'}")
    ids = _sorted_ids(every)
    for i in ids:
        lacking = [sub for sub in spec.folders if i not in found[sub]]
        if lacking:
            have = next(sub for sub in spec.folders if i in found[sub])
            raise BenchmarkError(
                f"{where}: {folder / lacking[0] / (i + '.npy')} is missing "
                f"({have}/{i}.npy exists); every sample needs {', '.join(spec.folders)}"
            )
    first = _open(folder / "image" / f"{ids[0]}.npy", where)
    hw = (int(first.shape[0]), int(first.shape[1])) if first.ndim >= 2 else (0, 0)
    for i in ids:  # headers only: memory maps read no data
        for sub in spec.folders:
            path = folder / sub / f"{i}.npy"
            _check_shape(_open(path, where), path, sub, hw, where)
    return ids, hw


class NpyFolder(Dataset[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    """The samples ``ids`` of one folder, each read (and its values checked) when asked for.

    Items: the image (3, H, W) float32, ``segmentation`` (H, W) int64, ``depth`` (1, H, W)
    and ``normals`` (3, H, W) float32, for the tasks ``spec`` has.
    """

    def __init__(self, folder: Path, ids: Sequence[str], spec: FolderSpec) -> None:
        self.folder, self.ids, self.spec = folder, list(ids), spec
        self.where = f"{spec.name} folder {folder}"

    def __len__(self) -> int:
        return len(self.ids)

    def _array(self, sub: str, i: int) -> np.ndarray:
        path = self.folder / sub / f"{self.ids[i]}.npy"
        try:
            a: np.ndarray = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise BenchmarkError(f"{self.where}: cannot read {path}: {err}") from None
        _check_values(a, path, sub, self.spec.classes, self.where)
        return a

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image = torch.from_numpy(self._array("image", i).astype(np.float32)).permute(2, 0, 1)
        targets: dict[str, torch.Tensor] = {}
        for task, sub in self.spec.tasks.items():
            a = self._array(sub, i)
            if _kind(sub) == "label":
                targets[task] = torch.from_numpy(a.astype(np.int64))
            else:
                t = torch.from_numpy(a.astype(np.float32))
                targets[task] = (t[..., None] if t.ndim == 2 else t).permute(2, 0, 1)
        return image.contiguous(), {k: v.contiguous() for k, v in targets.items()}

    def check_first(self, n: int | None = None) -> None:
        """Read the first ``n`` samples whole: their values, and how normals are stored.

        ``n`` defaults to :data:`CHECKED_ON_LOAD`.
        """
        n = CHECKED_ON_LOAD if n is None else n
        normals = [self[i][1]["normals"] for i in range(min(n, len(self)))
                   if "normals" in self.spec.tasks]  # fmt: skip
        if normals:
            stacked = torch.stack(normals)
            if stacked.min() >= 0 and stacked.max() > 0:
                # Unit normals point both ways along x and y; none below zero means [0, 1].
                raise BenchmarkError(
                    f"{self.where}: every normal component in the first {len(normals)} files "
                    f"of {self.folder / self.spec.tasks['normals']} is >= 0, as when unit "
                    "vectors are stored in [0, 1]; this layout stores them in [-1, 1]: convert "
                    "with 2 * n - 1 (keeping 0 for unknown pixels)"
                )
        else:
            for i in range(min(n, len(self))):
                self[i]


def hold_out(
    name: str, ids: Sequence[str], val_fraction: float, seed: int, held: str = "train/"
) -> tuple[list[str], list[str] | None]:
    """``ids`` split into (training, validation) by a seeded ``val_fraction`` share.

    0 gives (all of them, None): MTAN's protocol, where the test split validates too.

    Raises:
        BenchmarkError: ``val_fraction`` outside [0, 1), or too few ids to split.
    """
    share = isinstance(val_fraction, (int, float)) and not isinstance(val_fraction, bool)
    if not share or not 0 <= val_fraction < 1:
        raise BenchmarkError(
            f"benchmark {name!r}: val_fraction must be a share in [0, 1) of {held} held out "
            f"for validation (0: MTAN's protocol, validating on the test split), got "
            f"{val_fraction!r}"
        )
    if val_fraction == 0:
        return list(ids), None
    n_val = max(1, round(val_fraction * len(ids)))
    if n_val >= len(ids):
        raise BenchmarkError(f"benchmark {name!r}: too few training images ({len(ids)}) to split")
    perm = np.random.default_rng(seed).permutation(len(ids))
    return [ids[k] for k in perm[n_val:]], [ids[k] for k in perm[:n_val]]


def folder_benchmark(
    spec: FolderSpec,
    tasks: tuple[Task, ...],
    root: str | None,
    seed: int,
    val_fraction: float,
    augment: bool,
    backbone: BackboneSpec,
) -> Benchmark:
    """A benchmark of ``root/train`` (less a seeded validation share) and ``root/val`` (test).

    ``val_fraction=0`` is MTAN's protocol: all of ``train/`` trains and ``val/`` is both the
    validation and the test split (the benchmark says so: ``val_is_test``).
    """
    name = spec.name
    hold_out(name, ["a", "b"], val_fraction, seed)  # the share checked before any file is read
    if not isinstance(augment, bool):
        raise BenchmarkError(f"benchmark {name!r}: augment is true or false, got {augment!r}")
    if root is None:
        raise BenchmarkError(f"benchmark {name!r} needs the path of its folder: --data PATH")
    base = Path(root)
    if not base.is_dir():
        raise BenchmarkError(f"{name} folder {base} does not exist")
    ids, hw = scan(base / "train", spec)
    test_ids, test_hw = scan(base / "val", spec)
    if test_hw != hw:
        raise BenchmarkError(
            f"{name} folder {base}: val/ images are {test_hw}, train/ images {hw}; "
            "both splits need one size"
        )
    test = NpyFolder(base / "val", test_ids, spec)
    train_ids, val_ids = hold_out(name, ids, val_fraction, seed)
    train = NpyFolder(base / "train", train_ids, spec)
    val = test if val_ids is None else NpyFolder(base / "train", val_ids, spec)
    for split in (train, val, test):
        split.check_first()
    return Benchmark(
        name=name,
        input_shape=(3, *hw),
        tasks=tasks,
        train=train,
        val=val,
        test=test,
        backbone=backbone,
        augment=ScaleCropFlip(tasks) if augment else None,
        val_is_test=val_fraction == 0,
    )
