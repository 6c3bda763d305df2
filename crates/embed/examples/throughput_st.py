"""sentence-transformers' throughput on the same sentences as `examples/throughput.rs`.

Usage: python3 throughput_st.py MODEL_DIR [SENTENCES_FILE] [N] [BATCH] [THREADS]

Embeds the first N (default 2,000) lines of SENTENCES_FILE (default
../shared/data/rustdoc-sentences.txt) on the CPU with batch size BATCH (default 64),
normalised, with torch's default thread count unless THREADS is given, and prints one line:
`sentence-transformers: N sentences in S s = R sentences/s`.
Needs `pip install sentence-transformers` (any CPU torch). The model is loaded from the
local directory only (no hub access).
"""

import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402


def main() -> None:
    model_dir = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/rustdoc-sentences.txt"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    if len(sys.argv) > 5:
        torch.set_num_threads(int(sys.argv[5]))
    with open(path, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for _, line in zip(range(n), f)]
    model = SentenceTransformer(model_dir, device="cpu")
    # Warm up, as the Rust side loads its model before timing.
    model.encode(sentences[:batch], batch_size=batch, normalize_embeddings=True)
    t0 = time.perf_counter()
    c0 = time.process_time()
    model.encode(sentences, batch_size=batch, normalize_embeddings=True)
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(
        f"sentence-transformers: {len(sentences)} sentences in {dt:.2f} s = "
        f"{len(sentences) / dt:.1f} sentences/s, {cpu:.2f} s CPU (torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, batch {batch})"
    )


if __name__ == "__main__":
    main()
