"""PyTorch reference for `pnpm bench --compare-pytorch`: the same models, batch and steps as
packages/core/bench/cases.ts, on CPU with torch threads = cores. Prints progress to stderr and one
JSON line (milliseconds per step, medians) to stdout.

Debian: `apt-get install python3-torch libopenblas0-pthread` (without the OpenBLAS package torch
falls back to the reference BLAS, ~50x slower on products). The BLAS in use is reported."""

import argparse
import copy
import json
import re
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 256


def blas_in_use():
    """Which BLAS library this process actually loaded (the config string only says what torch was built against)."""
    libs = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                name = line.strip().split("/")[-1]
                if any(k in name for k in ("blas", "mkl", "lapack")):
                    libs.add(name)
    except OSError:
        pass
    config = torch.__config__.show()
    built = re.findall(r"\b(BLAS_INFO=[^,\s]+|LAPACK_INFO=[^,\s]+)", config)
    return ", ".join(sorted(libs)) or "unknown", "; ".join(built)


class MultiTask(nn.Module):
    def __init__(self, trunk, z, classes=10, tasks=2):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.ModuleList([nn.Linear(z, classes) for _ in range(tasks)])


def mlp():
    return MultiTask(nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU()), 128)


def lenet():
    trunk = nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(10, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(20 * 6 * 6, 50), nn.ReLU(),
    )
    return MultiTask(trunk, 50)


def data(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.rand((BATCH, *shape), generator=g)
    ys = [torch.randint(0, 10, (BATCH,), generator=g) for _ in range(2)]
    return x, ys


def per_task_step(model, x, ys, space, lr=0.01):
    """Per-task gradients (parameter or representation space), summed, SGD: as @mtl's bench."""
    shared = list(model.trunk.parameters())
    grads = {p: torch.zeros_like(p) for p in model.parameters()}
    if space == "parameters":
        # One trunk forward, one backward per task through it (retain_graph keeps the graph), as
        # @mtl's computeTaskGradients: 1 forward + T backward passes on both sides.
        rows = []
        z = model.trunk(x)
        for t, (head, y) in enumerate(zip(model.heads, ys)):
            loss = F.cross_entropy(head(z), y)
            g = torch.autograd.grad(loss, shared + list(head.parameters()), retain_graph=t < len(ys) - 1)
            rows.append(torch.cat([t.reshape(-1) for t in g[: len(shared)]]))
            for p, t in zip(head.parameters(), g[len(shared):]):
                grads[p] += t
        direction = torch.stack(rows).sum(0)
        offset = 0
        for p in shared:
            grads[p] += direction[offset: offset + p.numel()].view_as(p)
            offset += p.numel()
    else:
        z = model.trunk(x)
        zd = z.detach().requires_grad_()
        rows = []
        for head, y in zip(model.heads, ys):
            loss = F.cross_entropy(head(zd), y)
            g = torch.autograd.grad(loss, [zd] + list(head.parameters()))
            rows.append(g[0].reshape(-1))
            for p, t in zip(head.parameters(), g[1:]):
                grads[p] += t
        direction = torch.stack(rows).sum(0).view_as(z)
        for p, t in zip(shared, torch.autograd.grad(z, shared, direction)):
            grads[p] += t
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * grads[p]


def summed_step(model, x, ys, lr=0.01):
    z = model.trunk(x)
    loss = sum(F.cross_entropy(h(z), y) for h, y in zip(model.heads, ys))
    model.zero_grad(set_to_none=True)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad


def cases():
    def matmul():
        g = torch.Generator().manual_seed(1)
        a, b = torch.rand(512, 512, generator=g), torch.rand(512, 512, generator=g)
        return lambda: a @ b

    def per_task(make, shape, space):
        def setup():
            model, (x, ys) = make(), data(shape)
            return lambda: per_task_step(model, x, ys, space)
        return setup

    def branches():
        base, (x, ys) = mlp(), data([784])
        clones = [copy.deepcopy(base), copy.deepcopy(base)]
        return lambda: [summed_step(m, x, ys) for m in clones]

    return {
        "matmul512": matmul,
        "mlp-per-task": per_task(mlp, [784], "parameters"),
        "lenet": per_task(lenet, [1, 36, 36], "parameters"),
        "mlp-rep-grad": per_task(mlp, [784], "representation"),
        "branches-2": branches,
    }


def serve(header):
    """`--serve`: interleaved rounds driven by packages/core/bench. Prints the header line, then answers
    each request line {"name", "steps", "warmup"} with {"name", "samples"} (ms per step). A case is
    set up on its first request and kept, so every round of it times the same warm model."""
    print(json.dumps(header), flush=True)
    ready = {}
    for line in sys.stdin:
        request = json.loads(line)
        name = request["name"]
        if name not in ready:
            ready[name] = cases()[name]()
        step = ready[name]
        for _ in range(request.get("warmup", 0)):
            step()
        samples = []
        for _ in range(request["steps"]):
            t0 = time.perf_counter()
            step()
            samples.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"name": name, "samples": samples}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--only", default="")
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    loaded, built = blas_in_use()
    if args.serve:
        # The BLAS is loaded lazily by some builds: run one product before reading the maps.
        torch.rand(64, 64) @ torch.rand(64, 64)
        loaded, built = blas_in_use()
        serve({"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": loaded, "built": built})
        return
    print(f"torch {torch.__version__}, {threads} threads, BLAS loaded: {loaded} (built with: {built})", file=sys.stderr)
    if "openblas" not in loaded and "mkl" not in loaded:
        print("WARNING: torch runs on the reference BLAS (~50x slower); install libopenblas0-pthread for a fair comparison", file=sys.stderr)
    wanted = [n for n in args.only.split(",") if n] or list(cases())
    results = {}
    for name, setup in cases().items():
        if name not in wanted:
            continue
        step = setup()
        for _ in range(3):
            step()
        samples = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step()
            samples.append((time.perf_counter() - t0) * 1000)
        results[name] = statistics.median(samples)
        print(f"  pytorch {name}: {results[name]:.2f} ms", file=sys.stderr)
    print(json.dumps({"torch": torch.__version__, "threads": threads, "blas": loaded, "results": results}))


if __name__ == "__main__":
    main()
