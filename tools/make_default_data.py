#!/usr/bin/env python3
"""Cut the embedded default data set (data/clipart-mini) out of clipart-det.

clipart-det (public domain / CC0, see ../shared/data/clipart-det/README.md) is a cut-paste
detection set in COCO format. This keeps the first N train and M val images with their
annotations, unchanged, so a plain clone can run the README's commands.

    python3 tools/make_default_data.py --src ../shared/data/clipart-det --out data/clipart-mini
"""
import argparse
import json
import shutil
from pathlib import Path


def subset(src: Path, out: Path, split: str, n: int) -> None:
    coco = json.loads((src / "annotations" / f"{split}.json").read_text())
    images = sorted(coco["images"], key=lambda im: im["id"])[:n]
    keep = {im["id"] for im in images}
    anns = [a for a in coco["annotations"] if a["image_id"] in keep]
    (out / split).mkdir(parents=True, exist_ok=True)
    for im in images:
        shutil.copyfile(src / split / im["file_name"], out / split / im["file_name"])
    small = {
        "info": {**coco.get("info", {}), "description": f"clipart-mini {split}: first {n} images of clipart-det {split}"},
        "licenses": coco.get("licenses", []),
        "images": images,
        "annotations": anns,
        "categories": coco["categories"],
    }
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    (out / "annotations" / f"{split}.json").write_text(json.dumps(small, indent=None, separators=(",", ":")) + "\n")
    print(f"{split}: {len(images)} images, {len(anns)} boxes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", type=Path, default=Path("../shared/data/clipart-det"))
    p.add_argument("--out", type=Path, default=Path("data/clipart-mini"))
    p.add_argument("--train", type=int, default=64)
    p.add_argument("--val", type=int, default=24)
    a = p.parse_args()
    subset(a.src, a.out, "train", a.train)
    subset(a.src, a.out, "val", a.val)


if __name__ == "__main__":
    main()
