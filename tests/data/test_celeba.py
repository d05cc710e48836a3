"""CelebA in torchvision's layout: a fake built file for file, read, refused, searched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nas.app.cli import main
from nas.data import BenchmarkError, load_benchmark
from tests import NO_PEERS

HEADER = (  # the published header, in order
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
    "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes "
    "No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling "
    "Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace "
    "Wearing_Necktie Young"
)
NAMES = HEADER.split()


def write_celeba(root: Path, parts: tuple[int, int, int] = (8, 4, 4)) -> Path:
    """``root/celeba/``: JPEG faces 178 wide, 218 high, and the two text files as published."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(0)
    files = [f"{i:06d}.jpg" for i in range(1, sum(parts) + 1)]
    attr = [str(len(files)), " ".join(NAMES) + " "]
    partition = []
    for k, name in enumerate(files):
        pixels = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name, quality=90)
        values = rng.choice([-1, 1], size=len(NAMES))
        values[:3] = (-1, 1, -1) if k % 2 else (1, -1, 1)  # both classes in every split
        attr.append(name + " " + " ".join(f"{v:2d}" for v in values))  # " 1" padded as published
        partition.append(f"{name} {0 if k < parts[0] else 1 if k < parts[0] + parts[1] else 2}")
    (folder / "list_attr_celeba.txt").write_text("\n".join(attr) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return folder


def test_celeba_reads_the_published_layout(tmp_path: Path) -> None:
    write_celeba(tmp_path)
    bench = load_benchmark("celeba", root=str(tmp_path))
    assert bench.task_names == tuple(NAMES) and bench.input_shape == (3, 64, 64)
    assert (len(bench.train), len(bench.val), len(bench.test)) == (8, 4, 4)
    x, y = bench.train[1]
    assert x.dtype == torch.float32 and float(x.min()) >= 0 and float(x.max()) <= 1
    assert (int(y["5_o_Clock_Shadow"]), int(y["Arched_Eyebrows"])) == (0, 1)  # -1 -> 0, 1 -> 1
    full = load_benchmark("celeba", root=str(tmp_path / "celeba"), image_size=0,
                          attributes="Smiling, Male")  # fmt: skip
    assert full.task_names == ("Smiling", "Male") and full.input_shape == (3, 218, 178)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda f: (f / "img_align_celeba" / "000003.jpg").unlink(),
         r"img_align_celeba/000003\.jpg is missing"),
        (lambda f: (f / "img_align_celeba" / "000002.jpg").write_bytes(b"not a jpeg"),
         r"cannot read .*000002\.jpg"),
        (lambda f: (f / "list_eval_partition.txt").unlink(), "list_eval_partition.txt is missing"),
        (lambda f: (f / "list_attr_celeba.txt").write_text("16\nA B\n000001.jpg 1 0\n"),
         r"list_attr_celeba\.txt, line 3: expected an image name and 2 values of -1 or 1"),
        (lambda f: (f / "list_eval_partition.txt").write_text("000001.jpg 3\n"),
         r"list_eval_partition\.txt, line 1: expected an image name and 0, 1 or 2"),
    ],
)  # fmt: skip
def test_bad_celeba_data_is_one_line_naming_the_file(
    tmp_path: Path, spoil: object, message: str
) -> None:
    folder = write_celeba(tmp_path)
    spoil(folder)  # type: ignore[operator]
    with pytest.raises(BenchmarkError, match=message) as err:
        load_benchmark("celeba", root=str(tmp_path))
    assert "\n" not in str(err.value)


def test_celeba_options_are_checked(tmp_path: Path) -> None:
    write_celeba(tmp_path)
    with pytest.raises(BenchmarkError, match=r"unknown attributes \['Smiles'\]"):
        load_benchmark("celeba", root=str(tmp_path), attributes=["Smiles"])
    with pytest.raises(BenchmarkError, match="image_size is a side of at least 8"):
        load_benchmark("celeba", root=str(tmp_path), image_size=2)


def test_the_celeba_fake_runs_a_tiny_streamed_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_celeba(tmp_path / "data", parts=(16, 6, 6))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MTLNAS_DATA", "streamed")
    args = ["search", "--benchmark", "celeba", "--data", str(tmp_path / "data"), "--epochs", "1",
            "--n-trials", "3", "--benchmark-option", 'attributes=["Smiling", "Male", "Young"]',
            "--benchmark-option", "image_size=32", "--device", "cpu", "--quiet",
            "--confirm-top", "1", "--confirm-seeds", "2",
            "--confirm-latency-repeats", "0", *NO_PEERS]  # fmt: skip
    assert main(args) == 0
    assert main(["export", "celeba-branched", "-o", str(tmp_path / "m.onnx")]) == 0
