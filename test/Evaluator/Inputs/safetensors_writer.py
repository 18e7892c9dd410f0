"""Writes a safetensors file with the standard library (plus the arrays'
bytes), independently of resnetc's writer.

Format: an 8-byte little-endian header length, a JSON header mapping each
name to dtype, shape and data offsets, then the raw little-endian data. The
header is padded with spaces to a multiple of 8 bytes, so that every tensor
starts aligned.
"""
import json
import struct

_DTYPES = {"float32": "F32", "int32": "I32", "int64": "I64"}


def write_safetensors(path, tensors):
    """tensors: dict of name -> numpy array (float32, int32 or int64)."""
    header = {}
    chunks = []
    offset = 0
    for name, array in tensors.items():
        data = array.astype(array.dtype.newbyteorder("<")).tobytes(order="C")
        header[name] = {
            "dtype": _DTYPES[str(array.dtype)],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in chunks:
            f.write(data)
