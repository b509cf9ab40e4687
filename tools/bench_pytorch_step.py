#!/usr/bin/env python3
"""The PyTorch reference for `montage bench train`: ResNet-18 body + 1x1 head, batch 16,
224 x 224, dense soft-label cross-entropy, backward, SGD(momentum 0.9, wd 1e-4) step.
Prints the median seconds per step of --steps timed steps after one warm-up."""
import argparse
import statistics
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    body = torch.nn.Sequential(*list(torchvision.models.resnet18().children())[:-2])
    head = torch.nn.Conv2d(512, 11, 1)
    params = list(body.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.size, a.size)
    side = (a.size + 31) // 32
    target = torch.softmax(torch.randn(a.batch, 11, side, side), 1)
    times = []
    for step in range(a.steps + 1):
        t = time.perf_counter()
        logits = head(body(x))
        loss = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step > 0:
            times.append(time.perf_counter() - t)
    print({"engine": "pytorch " + torch.__version__, "threads": torch.get_num_threads(), "s_per_step": statistics.median(times), "runs": times})


if __name__ == "__main__":
    main()
