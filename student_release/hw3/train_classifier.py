"""Train the course's CIFAR-10 classifier (classifier.py) and print the SHA-256 to publish with its weights.

Run where CIFAR-10 and a GPU are available (30 epochs of 50,000 images: a GPU is advised;
the data is downloaded into --data first if it is not there):

    python train_classifier.py --data data --out cifar10_classifier.safetensors --epochs 30 --device cuda

Images are scaled to [-1, 1] (the generators' range), augmented with random crops (4 pixels
of reflection padding) and horizontal flips, and fitted by SGD with Nesterov momentum and a
one-cycle learning rate. The test accuracy is printed after every epoch; the weights are
written with safetensors (tensors only, never a pickle) and their SHA-256 printed last, for
`load_classifier(path, sha256)`. --limit trains on the first N training images (for smoke tests).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from cifar10 import download, load_cifar10, to_unit_range
from classifier import CIFARClassifier, probabilities_and_features, save_classifier


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random 32 x 32 crops of the 4-pixel reflection-padded images, and random horizontal flips: x (B, 3, 32, 32)."""
    B, _, H, W = x.shape
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")  # (B, 3, 40, 40)
    dy = torch.randint(0, 9, (B,), generator=generator).tolist()
    dx = torch.randint(0, 9, (B,), generator=generator).tolist()
    crops = torch.stack([padded[i, :, dy[i] : dy[i] + H, dx[i] : dx[i] + W] for i in range(B)])
    flip = torch.rand(B, generator=generator) < 0.5
    crops[flip.to(x.device)] = crops[flip.to(x.device)].flip(dims=[3])
    return crops


def accuracy(model: CIFARClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    probs, _ = probabilities_and_features(model, images)
    return (probs.argmax(dim=1) == labels).float().mean().item()


def train(data: str, out: str, *, epochs: int, device: str, batch_size: int = 128, lr: float = 0.1,
          width: int = 64, feature_dim: int = 256, seed: int = 0, limit: int | None = None) -> dict:
    """Train, save to `out`, and return {'test_accuracy', 'sha256'}."""
    download(data)  # does nothing when the files are there
    train_x, train_y = load_cifar10(data, "train")
    test_x, test_y = load_cifar10(data, "test")
    if limit is not None:
        train_x, train_y = train_x[:limit], train_y[:limit]
    train_x, test_x = to_unit_range(train_x).to(device), to_unit_range(test_x)  # (N, 3, 32, 32) in [-1, 1]
    train_y = train_y.to(device)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = CIFARClassifier(width=width, feature_dim=feature_dim).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps_per_epoch = max(1, -(-train_x.shape[0] // batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    test_accuracy = 0.0
    for epoch in range(1, epochs + 1):
        started = time.monotonic()
        model.train()
        order = torch.randperm(train_x.shape[0], generator=g).to(device)
        total = 0.0
        for start in range(0, train_x.shape[0], batch_size):
            index = order[start : start + batch_size]
            logits = model(augment(train_x[index], g))
            loss = F.cross_entropy(logits, train_y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.item() * index.numel()
        test_accuracy = accuracy(model, test_x, test_y)
        print(f"epoch {epoch}/{epochs}: train loss {total / train_x.shape[0]:.4f}, "
              f"test accuracy {test_accuracy:.4f} ({time.monotonic() - started:.1f} s)", flush=True)
    sha256 = save_classifier(model, out)
    print(f"wrote {out}")
    print(f"sha256: {sha256}")
    return {"test_accuracy": test_accuracy, "sha256": sha256}


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder holding (or to receive) cifar-10-batches-py")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--feature-dim", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return train(args.data, args.out, epochs=args.epochs, device=args.device, batch_size=args.batch_size,
                 lr=args.lr, width=args.width, feature_dim=args.feature_dim, seed=args.seed, limit=args.limit)


if __name__ == "__main__":
    main()
