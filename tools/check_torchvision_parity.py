#!/usr/bin/env python3
"""Check montage's weights against torchvision: the exported safetensors load into
torchvision's ResNet with only fc.* missing, and `montage features` equals torchvision's
stride-32 map on the same image (with `--input`, on montage's own resized and normalised
input, so that only the networks are compared).

Usage (needs torch, torchvision, safetensors, numpy, pillow):
    montage export --checkpoint runs/pretrain --out /tmp/r18.safetensors
    montage features --weights /tmp/r18.safetensors --backbone resnet18 --image IMG --out /tmp/f.npy \
        --save-input /tmp/x.npy
    python tools/check_torchvision_parity.py --weights /tmp/r18.safetensors --backbone resnet18 \
        --image IMG --features /tmp/f.npy --input /tmp/x.npy
"""
import argparse

import numpy as np
import torch
import torchvision
from PIL import Image
from safetensors.torch import load_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--image", required=True)
    ap.add_argument("--features", required=True)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--input", help="montage's own normalised input (montage features --save-input); "
                    "without it the image is resized here with PIL")
    a = ap.parse_args()

    net = getattr(torchvision.models, a.backbone)()
    res = net.load_state_dict(load_file(a.weights), strict=False)
    print("missing:", res.missing_keys, "unexpected:", res.unexpected_keys)
    assert sorted(res.missing_keys) == ["fc.bias", "fc.weight"] and not res.unexpected_keys

    if a.input:
        x = torch.from_numpy(np.load(a.input))
    else:
        img = Image.open(a.image).convert("RGB").resize((a.size, a.size), Image.BILINEAR)
        x = np.asarray(img, dtype=np.float32) / 255.0
        x = (x - np.array([0.485, 0.456, 0.406], dtype=np.float32)) / np.array([0.229, 0.224, 0.225], dtype=np.float32)
        x = torch.from_numpy(x.transpose(2, 0, 1)[None].copy())
    net.eval()
    with torch.no_grad():
        body = torch.nn.Sequential(*list(net.children())[:-2])
        ref = body(x).numpy()
    ours = np.load(a.features)
    print("shape", ours.shape, ref.shape)
    diff = np.abs(ours - ref)
    scale = np.abs(ref).max()
    print(f"max |ours - torchvision| = {diff.max():.3e} (max |ref| {scale:.3e}, relative {diff.max() / scale:.3e}); mean {diff.mean():.3e}")


if __name__ == "__main__":
    main()
