"""One-off probe: the CNN's graphed SGD epoch at batches 64 and 256 on this GPU, or on the part of it that MPS allows
(`fill-probe.txt`). From the repository's root: PYTHONPATH=. python3 THIS_FILE DATA_ROOT cuda 1.0"""
import os
import sys
from dataclasses import replace

import torch

from helpers.calibrate import kinds, measure

root, device = sys.argv[1], sys.argv[2]
cnn = next(c for c in kinds(device, float(sys.argv[3]), 3, root) if (c.model, c.optimizer) == ("cnn", "SGD"))
share = os.environ.get("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "100")
for batch in (64, 256):
    row = measure(replace(cnn, batch_size=batch, device=device), root)
    print(f"fill-probe: MPS active threads {share} %, batch {batch}: train {row['train']:.3f} s per epoch "
          f"({row['images'][0]} images, graphed {row['graphed']}, {torch.cuda.get_device_name(0) if device == 'cuda' else 'cpu'})",
          flush=True)
