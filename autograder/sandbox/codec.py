"""The plain-data wire format between the grader and the sandbox: JSON plus raw array bytes.

Both sides use this module. Nothing here can run code while decoding: a frame is a JSON
header (tagged values) followed by aligned raw buffers; arrays are rebuilt from bytes with
an allow-listed dtype and a checked shape. No pickle anywhere.

Tagged values (every other JSON value stands for itself)::

    {"$float": "nan"}                          non-finite float
    {"$tuple": [...]}  {"$dict": {...}}        containers (dict keys are strings)
    {"$tensor": {...}} {"$ndarray": {...}}     dtype, shape, buffer index (+ device, grad)
    {"$bytes": i}  {"$dtype": "float32"}  {"$device": "cpu"}  {"$size": [...]}
    {"$generator": {...}}                      a torch.Generator, sent as its state
    {"$complex": [re, im]}  {"$slice": [a, b, c]}  {"$ellipsis": null}
    {"$handle": {"id": n, ...}}                an object that stays in the sandbox

Objects the encoder cannot express become handles through the ``to_handle`` callback
(the sandbox side registers them); the grader side has no callback and refuses them.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

MAGIC = b"AGW1"
ALIGN = 64
MAX_DEPTH = 64
MAX_ITEMS = 1_000_000
# Decoding is bounded before it allocates: a JSON header of 16 MB at most, whose values are
# counted (commas and brackets) before json.loads builds them (a header of a million empty
# lists took 6.6 GB and 44 CPU-s to parse), and at most 2**25 array elements per frame, so a
# test converting a reply to float64 holds at most 256 MB (a 250 MB bool tensor was 2 GB).
MAX_HEADER_BYTES = 16 << 20
MAX_ELEMENTS = 1 << 25

_TORCH_DTYPES = {
    "bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16,
    "int32": torch.int32, "int64": torch.int64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
    "complex64": torch.complex64, "complex128": torch.complex128,
}
_NUMPY_DTYPES = {name: np.dtype(name) for name in _TORCH_DTYPES if name != "bfloat16"}
_TORCH_DTYPE_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}


class CodecError(ValueError):
    """A value cannot be encoded, or a frame is malformed."""


@dataclass(frozen=True)
class HandleRef:
    """A reference to an object living in the sandbox (decoded form on the grader side)."""

    id: int
    type: str = ""
    callable: bool = False


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class _Encoder:
    def __init__(self, to_handle: Callable[[Any], HandleRef] | None):
        self.to_handle = to_handle
        self.buffers: list[memoryview] = []
        self.items = 0

    def buffer(self, data: memoryview) -> int:
        self.buffers.append(data)
        return len(self.buffers) - 1

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise CodecError("value is nested too deeply or has too many items")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, np.generic):
            return int(value)
        if isinstance(value, float) and not isinstance(value, np.generic):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, (list, tuple)) and type(value) in (list, tuple) or isinstance(value, torch.Size):
            items = [self.encode(v, depth + 1) for v in value]
            if isinstance(value, torch.Size):
                return {"$size": items}
            return items if isinstance(value, list) else {"$tuple": items}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"$dict": {k: self.encode(v, depth + 1) for k, v in value.items()}}
        if isinstance(value, torch.Tensor):
            return {"$tensor": self.tensor(value)}
        if isinstance(value, (np.ndarray, np.generic)) and value.dtype.name in _NUMPY_DTYPES:
            return {"$ndarray": self.ndarray(value)}
        if isinstance(value, torch.Generator):
            state = self.tensor(value.get_state())
            return {"$generator": {"state": state, "device": str(value.device)}}
        if isinstance(value, torch.dtype) and value in _TORCH_DTYPE_NAMES:
            return {"$dtype": _TORCH_DTYPE_NAMES[value]}
        if isinstance(value, torch.device):
            return {"$device": str(value)}
        if isinstance(value, (bytes, bytearray)):
            return {"$bytes": self.buffer(memoryview(bytes(value)))}
        if isinstance(value, complex) and not isinstance(value, np.generic):
            return {"$complex": [self.encode(value.real), self.encode(value.imag)]}
        if isinstance(value, slice):
            return {"$slice": [self.encode(v, depth + 1) for v in (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"$ellipsis": None}
        if isinstance(value, HandleRef):
            return {"$handle": {"id": value.id}}
        if self.to_handle is not None:
            ref = self.to_handle(value)
            return {"$handle": {"id": ref.id, "type": ref.type, "callable": ref.callable}}
        raise CodecError(f"cannot send a {type(value).__name__} across the sandbox boundary")

    def tensor(self, value: torch.Tensor) -> dict[str, Any]:
        with torch._C.DisableTorchFunctionSubclass():  # a subclass's __torch_function__ is not consulted
            plain = torch.Tensor.detach(value)
            requires_grad = bool(value.requires_grad)
        if plain.dtype not in _TORCH_DTYPE_NAMES:
            raise CodecError(f"tensor dtype {plain.dtype} is not supported")
        device = str(plain.device)
        plain = plain.to("cpu").resolve_conj().resolve_neg().contiguous()
        raw = plain.reshape(-1).view(torch.uint8).numpy() if plain.numel() else np.empty(0, np.uint8)
        return {
            "dtype": _TORCH_DTYPE_NAMES[plain.dtype],
            "shape": list(plain.shape),
            "buf": self.buffer(memoryview(raw).cast("B")),
            "device": device,
            "requires_grad": requires_grad,
        }

    def ndarray(self, value: np.ndarray | np.generic) -> dict[str, Any]:
        # asarray keeps 0-d shapes (ascontiguousarray makes them 1-d); "=" is native byte order
        array = np.asarray(value, dtype=value.dtype.newbyteorder("="), order="C")
        return {
            "dtype": array.dtype.name,
            "shape": list(array.shape),
            "buf": self.buffer(memoryview(array.reshape(-1).view(np.uint8))),
            "scalar": isinstance(value, np.generic),
        }


def encode(value: Any, to_handle: Callable[[Any], HandleRef] | None = None) -> list[memoryview]:
    """Encode ``value`` as a list of byte chunks forming one frame (see :func:`decode`)."""
    encoder = _Encoder(to_handle)
    header = json.dumps(encoder.encode(value), allow_nan=False, separators=(",", ":")).encode()
    sizes = [b.nbytes for b in encoder.buffers]
    table = struct.pack(f"<4sII{len(sizes)}Q", MAGIC, len(header), len(sizes), *sizes)
    chunks = [memoryview(table), memoryview(header)]
    offset = len(table) + len(header)
    for data in encoder.buffers:
        padding = _align(offset) - offset
        if padding:
            chunks.append(memoryview(bytes(padding)))
        chunks.append(data)
        offset = _align(offset) + data.nbytes
    return chunks


class _Decoder:
    def __init__(self, frame: bytearray | memoryview, make_handle: Callable[[dict], Any] | None):
        self.frame = memoryview(frame)
        self.make_handle = make_handle
        self.items = 0
        self.elements = 0
        if len(self.frame) < 12 or bytes(self.frame[:4]) != MAGIC:
            raise CodecError("not a sandbox frame")
        header_len, nbuf = struct.unpack_from("<II", self.frame, 4)
        if header_len > MAX_HEADER_BYTES:
            raise CodecError(f"the frame's header of {header_len} bytes is over the {MAX_HEADER_BYTES}-byte limit")
        table_len = 12 + 8 * nbuf
        if table_len + header_len > len(self.frame):
            raise CodecError("frame is truncated")
        sizes = struct.unpack_from(f"<{nbuf}Q", self.frame, 12)
        self.header = bytes(self.frame[table_len : table_len + header_len])
        self.spans: list[tuple[int, int]] = []
        offset = table_len + header_len
        for size in sizes:
            start = _align(offset)
            if start + size > len(self.frame):
                raise CodecError("frame is truncated")
            self.spans.append((start, size))
            offset = start + size

    def span(self, index: Any) -> tuple[int, int]:
        if not isinstance(index, int) or not 0 <= index < len(self.spans):
            raise CodecError(f"bad buffer index {index!r}")
        return self.spans[index]

    def count_elements(self, shape: tuple[int, ...]) -> int:
        count = math.prod(shape)
        self.elements += count
        if self.elements > MAX_ELEMENTS:
            raise CodecError(f"the reply holds more than {MAX_ELEMENTS} array elements")
        return count

    def decode(self, node: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise CodecError("value is nested too deeply or has too many items")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise CodecError("malformed value")
        (tag, body), = node.items()
        decoder = self.TAGS.get(tag)
        if decoder is None:
            raise CodecError(f"unknown tag {tag!r}")
        return decoder(self, body, depth + 1)

    def _float(self, body: Any, depth: int) -> float:
        if body not in ("nan", "inf", "-inf"):
            raise CodecError(f"bad float {body!r}")
        return float(body)

    def _tuple(self, body: Any, depth: int) -> tuple:
        return tuple(self.decode(v, depth) for v in _expect(body, list))

    def _size(self, body: Any, depth: int) -> torch.Size:
        values = [self.decode(v, depth) for v in _expect(body, list)]
        if not all(type(v) is int and -2**63 <= v < 2**63 for v in values):
            raise CodecError("torch.Size holds 64-bit integers")
        return torch.Size(values)

    def _dict(self, body: Any, depth: int) -> dict:
        return {str(k): self.decode(v, depth) for k, v in _expect(body, dict).items()}

    def _tensor(self, body: Any, depth: int) -> torch.Tensor:
        body = _expect(body, dict)
        dtype = _TORCH_DTYPES.get(body.get("dtype")) if isinstance(body.get("dtype"), str) else None
        if dtype is None:
            raise CodecError(f"tensor dtype {body.get('dtype')!r} is not allowed")
        shape = _shape(body.get("shape"))
        start, size = self.span(body.get("buf"))
        count = self.count_elements(shape)
        if size != count * dtype.itemsize:
            raise CodecError(f"tensor of shape {shape} and dtype {dtype} needs {count * dtype.itemsize} bytes, got {size}")
        if count == 0:
            tensor = torch.empty(shape, dtype=dtype)
        else:
            tensor = torch.frombuffer(self.frame, dtype=dtype, count=count, offset=start).reshape(shape)
        device = body.get("device", "cpu")
        if isinstance(device, str) and device.startswith("cuda") and torch.cuda.is_available():
            tensor = tensor.to(device)
        if body.get("requires_grad") is True and (dtype.is_floating_point or dtype.is_complex):
            tensor.requires_grad_(True)
        return tensor

    def _ndarray(self, body: Any, depth: int) -> np.ndarray | np.generic:
        body = _expect(body, dict)
        dtype = _NUMPY_DTYPES.get(body.get("dtype")) if isinstance(body.get("dtype"), str) else None
        if dtype is None:
            raise CodecError(f"array dtype {body.get('dtype')!r} is not allowed")
        shape = _shape(body.get("shape"))
        start, size = self.span(body.get("buf"))
        self.count_elements(shape)
        if size != math.prod(shape) * dtype.itemsize:
            raise CodecError(f"array of shape {shape} and dtype {dtype} needs {math.prod(shape) * dtype.itemsize} bytes")
        array = np.frombuffer(self.frame, dtype=dtype, count=math.prod(shape), offset=start).reshape(shape)
        return array[()] if body.get("scalar") is True else array

    def _bytes(self, body: Any, depth: int) -> bytes:
        start, size = self.span(body)
        return bytes(self.frame[start : start + size])

    def _generator(self, body: Any, depth: int) -> torch.Generator:
        body = _expect(body, dict)
        state = self._tensor(body.get("state"), depth)
        device = body.get("device", "cpu")
        if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
            raise CodecError(f"bad generator device {device!r}")
        if device != "cpu" and not torch.cuda.is_available():
            device = "cpu"
        try:
            generator = torch.Generator(device=device)
            generator.set_state(state.to(torch.uint8).contiguous())
        except (RuntimeError, TypeError) as exc:
            raise CodecError(f"bad generator state: {exc}") from None
        return generator

    def _dtype(self, body: Any, depth: int) -> torch.dtype:
        if not isinstance(body, str) or body not in _TORCH_DTYPES:
            raise CodecError(f"dtype {body!r} is not allowed")
        return _TORCH_DTYPES[body]

    def _device(self, body: Any, depth: int) -> torch.device:
        try:
            return torch.device(_expect(body, str))
        except RuntimeError:
            raise CodecError(f"bad device {body!r}") from None

    def _complex(self, body: Any, depth: int) -> complex:
        parts = [self.decode(v, depth) for v in _expect(body, list)]
        if len(parts) != 2 or not all(isinstance(p, (int, float)) for p in parts):
            raise CodecError("complex needs two numbers")
        return complex(*parts)

    def _slice(self, body: Any, depth: int) -> slice:
        parts = [self.decode(v, depth) for v in _expect(body, list)]
        if len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
            raise CodecError("slice needs three integers or nulls")
        return slice(*parts)

    def _ellipsis(self, body: Any, depth: int) -> Any:
        return Ellipsis

    def _handle(self, body: Any, depth: int) -> Any:
        body = _expect(body, dict)
        if self.make_handle is None or type(body.get("id")) is not int:
            raise CodecError("handles are not accepted here")
        return self.make_handle(body)

    TAGS = {
        "$float": _float, "$tuple": _tuple, "$size": _size, "$dict": _dict, "$tensor": _tensor,
        "$ndarray": _ndarray, "$bytes": _bytes, "$generator": _generator, "$dtype": _dtype,
        "$device": _device, "$complex": _complex, "$slice": _slice, "$ellipsis": _ellipsis,
        "$handle": _handle,
    }


def _expect(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise CodecError(f"malformed value: expected {kind.__name__}")
    return value


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > 64 or not all(type(d) is int and d >= 0 for d in value):
        raise CodecError(f"bad shape {value!r}")
    if math.prod(d for d in value if d) >= 2**59:  # even an empty array's strides and bytes fit in int64
        raise CodecError(f"shape {value!r} is too large")
    return tuple(value)


def decode(frame: bytearray | memoryview, make_handle: Callable[[dict], Any] | None = None) -> Any:
    """Rebuild a value from one frame. Arrays share the frame's memory (one frame, one value)."""
    decoder = _Decoder(frame, make_handle)
    values = sum(decoder.header.count(c) for c in (b",", b"[", b"{"))  # strings' commas too: an upper bound
    if values > MAX_ITEMS:
        raise CodecError(f"the reply holds more than {MAX_ITEMS} values")
    try:
        header = json.loads(decoder.header)
    except (ValueError, RecursionError) as exc:  # ValueError: bad UTF-8 or JSON, too many digits
        raise CodecError(f"bad frame header: {exc}") from None
    return decoder.decode(header)
