"""Fashion-MNIST from Debian's `dataset-fashion-mnist` (idx files, gzip)."""
import gzip
import os
import struct

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class DataError(Exception):
    pass


def _read_idx(path):
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path} (install it with tools/train/setup.sh or pass --data-dir)")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path}: not an unsigned-byte idx file")
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: expected {int(np.prod(dims))} values, found {data.size}")
    return data.reshape(dims)


def load_split(split, data_dir=None):
    """Returns (images uint8 [N, 28, 28], labels uint8 [N])."""
    data_dir = data_dir or os.environ.get("FMNIST_DIR", DEFAULT_DIR)
    if split not in FILES:
        raise DataError(f"split must be one of {sorted(FILES)}, got {split!r}")
    img_name, lbl_name = FILES[split]
    images = _read_idx(os.path.join(data_dir, img_name))
    labels = _read_idx(os.path.join(data_dir, lbl_name))
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def to_model_range(images_u8):
    """uint8 [N, H, W] -> float32 [N, 1, H, W] in [-1, 1] (the range both stages train on)."""
    x = images_u8.astype(np.float32) / 127.5 - 1.0
    return x[:, None, :, :]
