#!/usr/bin/env python3
"""Make the COCO-evaluation fixtures: random ground truth and detections, and the numbers
pycocotools' COCOeval gives for them (the reference that `montage evaluate` must equal).

    python3 -m venv /tmp/cocoenv && /tmp/cocoenv/bin/pip install pycocotools numpy
    /tmp/cocoenv/bin/python tools/make_coco_eval_fixtures.py --out crates/data/tests/fixtures/coco_eval
"""
import argparse
import contextlib
import io
import json
import random
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def make_case(seed, n_images, n_cats, crowd_p, fp_rate, many_dets, empty_cat):
    rng = random.Random(seed)
    images, anns, dets = [], [], []
    cats = [{"id": c * 2 + 1, "name": f"c{c}"} for c in range(n_cats)]
    aid = 1
    for i in range(1, n_images + 1):
        w, h = rng.choice([(320, 240), (640, 480), (500, 500)])
        images.append({"id": i * 3, "file_name": f"{i}.jpg", "width": w, "height": h})
        for _ in range(rng.randint(0, 6)):
            cat = rng.choice(cats[: n_cats - 1] if empty_cat else cats)["id"]
            side = rng.choice([rng.uniform(4, 30), rng.uniform(32, 95), rng.uniform(97, 250)])
            bw, bh = side * rng.uniform(0.5, 1.5), side * rng.uniform(0.5, 1.5)
            x, y = rng.uniform(0, max(1, w - bw)), rng.uniform(0, max(1, h - bh))
            bw, bh = min(bw, w - x), min(bh, h - y)
            crowd = 1 if rng.random() < crowd_p else 0
            area = bw * bh * rng.uniform(0.6, 1.0)
            anns.append({"id": aid, "image_id": i * 3, "category_id": cat, "bbox": [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)],
                         "area": round(area, 2), "iscrowd": crowd})
            aid += 1
            if rng.random() < 0.85:
                j = lambda v, s: v + rng.gauss(0, s)
                s = 0.08 * max(bw, bh)
                dets.append({"image_id": i * 3, "category_id": cat if rng.random() < 0.9 else rng.choice(cats)["id"],
                             "bbox": [round(j(x, s), 2), round(j(y, s), 2), round(max(1, j(bw, s)), 2), round(max(1, j(bh, s)), 2)],
                             "score": round(rng.choice([rng.random(), 0.5]), 3)})
        for _ in range(rng.randint(0, int(fp_rate))):
            bw, bh = rng.uniform(5, 200), rng.uniform(5, 200)
            dets.append({"image_id": i * 3, "category_id": rng.choice(cats)["id"],
                         "bbox": [round(rng.uniform(0, w - 5), 2), round(rng.uniform(0, h - 5), 2), round(bw, 2), round(bh, 2)],
                         "score": round(rng.random() * 0.6, 3)})
    if many_dets:
        for k in range(130):
            dets.append({"image_id": 3, "category_id": cats[0]["id"], "bbox": [k % 300, (k * 7) % 200, 20 + k % 30, 25], "score": round(rng.random(), 3)})
    gt = {"images": images, "annotations": anns, "categories": cats}
    return gt, dets


def evaluate(gt_path, dt_path):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_path))
        dt = coco.loadRes(str(dt_path))
        e = COCOeval(coco, dt, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    per_cat = []
    for k, cid in enumerate(e.params.catIds):
        p = e.eval["precision"][:, :, k, 0, 2]
        p = p[p > -1]
        per_cat.append([int(cid), float(np.mean(p)) if p.size else -1.0])
    return {"stats": dict(zip(NAMES, [float(v) for v in e.stats])), "per_category": per_cat}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("crates/data/tests/fixtures/coco_eval"))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    cases = {
        "mixed": dict(seed=1, n_images=25, n_cats=3, crowd_p=0.1, fp_rate=4, many_dets=True, empty_cat=False),
        "crowded": dict(seed=2, n_images=15, n_cats=2, crowd_p=0.4, fp_rate=2, many_dets=False, empty_cat=False),
        "empty_category": dict(seed=3, n_images=12, n_cats=4, crowd_p=0.0, fp_rate=6, many_dets=False, empty_cat=True),
        "perfect": dict(seed=4, n_images=10, n_cats=2, crowd_p=0.0, fp_rate=0, many_dets=False, empty_cat=False),
    }
    for name, kw in cases.items():
        gt, dets = make_case(**kw)
        if name == "perfect":
            dets = [{"image_id": x["image_id"], "category_id": x["category_id"], "bbox": x["bbox"], "score": 1.0} for x in gt["annotations"]]
        (a.out / f"{name}_gt.json").write_text(json.dumps(gt))
        (a.out / f"{name}_dt.json").write_text(json.dumps(dets))
        res = evaluate(a.out / f"{name}_gt.json", a.out / f"{name}_dt.json")
        (a.out / f"{name}_expected.json").write_text(json.dumps(res, indent=1) + "\n")
        print(name, len(gt["annotations"]), "gt", len(dets), "dt", {k: round(v, 4) for k, v in res["stats"].items()})


if __name__ == "__main__":
    main()
