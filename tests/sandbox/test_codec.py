"""The plain-data codec: values survive a round trip, and hostile frames only ever raise CodecError."""

from __future__ import annotations

import json
import math
import pickle
import random
import struct

import numpy as np
import pytest
import torch

from autograder.sandbox.codec import ALIGN, MAGIC, CodecError, HandleRef, decode, encode

TORCH_DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
                torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128]
NUMPY_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
                "complex64", "complex128"]


def round_trip(value, **kwargs):
    to_handle = kwargs.pop("to_handle", None)
    return decode(bytearray(b"".join(encode(value, to_handle))), **kwargs)


def frame(header, buffers=(), *, magic=MAGIC, header_len=None, sizes=None) -> bytearray:
    """A frame built by hand: ``header`` is JSON-able (or raw bytes), buffers are raw bytes."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    sizes = [len(b) for b in buffers] if sizes is None else sizes
    data = struct.pack(f"<4sII{len(sizes)}Q", magic, len(head) if header_len is None else header_len,
                       len(sizes), *sizes) + head
    for buffer in buffers:
        data += bytes(-len(data) % ALIGN) + buffer
    return bytearray(data)


def tensor_frame(dtype="float32", shape=(2,), data=None, **extra) -> bytearray:
    data = bytes(8) if data is None else data
    return frame({"$tensor": {"dtype": dtype, "shape": list(shape), "buf": 0, **extra}}, [data])


# --- round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**70, 1.5, -0.0, 1e308, "", "héllo ✓",
                                   b"", b"\x00\xffraw", [], (), {}, [1, [2, (3, "x")]], (None, (True,)),
                                   {"a": [1, {"b": (2.5, b"z")}], "": None}])
def test_plain_values_round_trip_with_their_types(value):
    result = round_trip(value)
    assert result == value
    assert type(result) is type(value)


def test_nested_container_types_are_kept():
    result = round_trip({"t": (1, [2, (3,)])})
    assert type(result["t"]) is tuple and type(result["t"][1]) is list and type(result["t"][1][1]) is tuple


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_round_trip(value):
    result = round_trip([value])[0]
    assert type(result) is float
    assert (math.isnan(result) if math.isnan(value) else result == value)


def test_bytearray_comes_back_as_bytes():
    assert round_trip(bytearray(b"abc")) == b"abc"


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
def test_tensors_of_every_allowed_dtype_round_trip(dtype):
    tensor = torch.arange(-3, 9).reshape(3, 4).to(dtype)
    result = round_trip(tensor)
    assert type(result) is torch.Tensor
    assert result.dtype == dtype and result.shape == (3, 4)
    assert torch.equal(result, tensor)


def test_complex_values_survive_exactly():
    tensor = torch.tensor([1.25 + 2.5j, -3.0 - 0.125j], dtype=torch.complex128)
    assert torch.equal(round_trip(tensor), tensor)


@pytest.mark.parametrize("tensor", [
    torch.tensor(3.5), torch.tensor(True), torch.zeros(0), torch.zeros(3, 0, 2, dtype=torch.int64),
], ids=["0-d", "0-d bool", "empty", "empty 3-d"])
def test_zero_dim_and_empty_tensors_keep_their_shape(tensor):
    result = round_trip(tensor)
    assert result.shape == tensor.shape and result.dtype == tensor.dtype
    assert torch.equal(result, tensor)


def test_non_contiguous_tensors_round_trip():
    base = torch.arange(24.0).reshape(4, 6)
    for view in (base.t(), base[:, ::2], base[1:3, 1:5], base.expand(2, 4, 6)):
        assert not view.is_contiguous()
        result = round_trip(view)
        assert torch.equal(result, view) and result.shape == view.shape


def test_requires_grad_is_kept_on_a_fresh_leaf():
    tensor = torch.tensor([1.0, 2.0], requires_grad=True) * 3  # a non-leaf with history
    result = round_trip(tensor)
    assert result.requires_grad and result.is_leaf and result.grad_fn is None
    assert torch.equal(result.detach(), tensor.detach())
    assert not round_trip(torch.tensor([1.0])).requires_grad


def test_conjugate_and_negative_views_are_resolved_to_their_values():
    z = torch.tensor([1 + 2j, 3 - 4j])
    conj, neg = z.conj(), z.conj().imag  # a conj view and a negative view
    assert conj.is_conj() and neg.is_neg()
    assert torch.equal(round_trip(conj), torch.tensor([1 - 2j, 3 + 4j]))
    assert torch.equal(round_trip(neg), torch.tensor([-2.0, 4.0]))
    assert not round_trip(conj).is_conj()


def test_tensor_subclass_comes_back_as_a_plain_tensor_with_its_values():
    class AlwaysEqual(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func in (torch.Tensor.__eq__, torch.eq, torch.equal, torch.allclose, torch.isclose):
                return True
            return super().__torch_function__(func, types, args, kwargs or {})

    sneaky = torch.arange(4.0).as_subclass(AlwaysEqual)
    result = round_trip({"x": sneaky})["x"]
    assert type(result) is torch.Tensor
    assert torch.equal(result, torch.arange(4.0))
    assert not torch.equal(result, torch.zeros(4))


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_numpy_arrays_round_trip(dtype):
    array = np.arange(-2, 4).reshape(2, 3).astype(dtype)
    result = round_trip(array)
    assert type(result) is np.ndarray and result.dtype == array.dtype and result.shape == (2, 3)
    np.testing.assert_array_equal(result, array)


def test_numpy_zero_dim_empty_and_strided_arrays_keep_their_shape():
    for array in (np.array(2.5), np.zeros((0, 3), np.int32), np.arange(12.0).reshape(3, 4)[:, ::2].T):
        result = round_trip(array)
        assert result.shape == array.shape and result.dtype == array.dtype
        np.testing.assert_array_equal(result, array)


def test_numpy_big_endian_arrays_keep_their_values():
    array = np.array([1.5, -2.0, 3.25], dtype=">f8")
    np.testing.assert_array_equal(round_trip(array), [1.5, -2.0, 3.25])


@pytest.mark.parametrize("scalar", [np.float64(0.1), np.float32(2.5), np.int64(-3), np.int8(7), np.bool_(True),
                                    np.complex128(1 - 2j), np.float16(0.5)], ids=repr)
def test_numpy_scalars_come_back_as_the_same_numpy_scalars(scalar):
    result = round_trip(scalar)
    assert type(result) is type(scalar)
    assert result == scalar


def test_torch_special_values_round_trip():
    value = [torch.Size([2, 0, 5]), torch.float16, torch.bfloat16, torch.device("cpu"), slice(1, None, -2),
             slice(None), Ellipsis, 1.5 - 2j, complex(math.inf, math.nan)]
    result = round_trip(value)
    assert type(result[0]) is torch.Size and result[0] == torch.Size([2, 0, 5])
    assert result[1:7] == value[1:7]
    assert result[7] == 1.5 - 2j and type(result[7]) is complex
    assert result[8].real == math.inf and math.isnan(result[8].imag)


def test_generator_round_trip_reproduces_the_same_random_stream():
    generator = torch.Generator().manual_seed(1234)
    torch.rand(7, generator=generator)  # move it away from the seed's start
    copy = round_trip(generator)
    assert isinstance(copy, torch.Generator) and copy is not generator
    expected = torch.rand(5, generator=generator)
    assert torch.equal(torch.rand(5, generator=copy), expected)


def test_objects_become_handles_through_the_callbacks():
    class Model:
        def __call__(self):
            return 1

    model, seen = Model(), []

    def to_handle(value):
        seen.append(value)
        return HandleRef(id=41, type="Model", callable=True)

    result = round_trip({"m": model, "xs": [1]}, to_handle=to_handle, make_handle=lambda body: ("remote", body))
    assert seen == [model]
    assert result == {"m": ("remote", {"id": 41, "type": "Model", "callable": True}), "xs": [1]}


def test_a_handle_ref_is_sent_back_by_id():
    result = round_trip([HandleRef(id=3, type="Net")], make_handle=lambda body: body)
    assert result == [{"id": 3}]


def test_handles_are_refused_without_a_make_handle_callback():
    data = b"".join(encode(object(), lambda value: HandleRef(id=1)))
    with pytest.raises(CodecError, match="handle"):
        decode(bytearray(data))


@pytest.mark.parametrize("value", [object(), {1: "int key"}, {"a": lambda: 0}, memoryview(b"x"), {1, 2},
                                   np.array(["a"], dtype=object), torch.zeros(2, dtype=torch.uint16)],
                         ids=["object", "int key", "lambda", "memoryview", "set", "object array", "uint16"])
def test_values_without_a_handle_callback_raise_codec_error(value):
    with pytest.raises(CodecError):
        encode(value)


def test_encoding_refuses_values_nested_too_deeply():
    value: list = []
    for _ in range(70):
        value = [value]
    with pytest.raises(CodecError, match="nested"):
        encode(value)


# --- hostile frames -------------------------------------------------------------------------------

def nested(depth: int) -> object:
    node: object = 0
    for _ in range(depth):
        node = {"$tuple": [node]}
    return node


MALFORMED = {
    "empty": bytearray(),
    "wrong magic": frame(1, magic=b"PKL1"),
    "header longer than frame": frame(1, header_len=100),
    "buffer table longer than frame": frame(1, sizes=[1] * 50)[:30],
    "buffer beyond the end": frame({"$bytes": 0}, sizes=[100]),
    "buffer index out of range": frame({"$bytes": 3}, [b"abc"]),
    "buffer index not an int": frame({"$bytes": "0"}, [b"abc"]),
    "buffer index negative": frame({"$bytes": -1}, [b"abc"]),
    "header not JSON": frame(b"{nope"),
    "header not UTF-8": frame(b'"\xff\xfe"'),
    "header a pickle": frame(pickle.dumps([1, 2])),
    "integer with too many digits": frame(b"1" * 5000),
    "JSON nested past the recursion limit": frame(b"[" * 100_000 + b"]" * 100_000),
    "depth over 64": frame(nested(70)),
    "lists nested over 64": frame(json.loads("[" * 70 + "]" * 70)),
    "unknown tag": frame({"$pickle": "gASVAAAAAAAAAAA="}),
    "dict with two keys": frame({"$tuple": [], "$dict": {}}),
    "bad float": frame({"$float": "1.0"}),
    "tuple not a list": frame({"$tuple": {"a": 1}}),
    "dict not a dict": frame({"$dict": [1]}),
    "tensor dtype object": tensor_frame("object"),
    "tensor dtype unknown": tensor_frame("float128"),
    "tensor dtype a list": tensor_frame([]),
    "tensor too few bytes": tensor_frame("float32", (3,)),
    "tensor too many bytes": tensor_frame("float32", (1,)),
    "tensor dtype size mismatch": tensor_frame("float64", (2,)),
    "tensor negative dim": tensor_frame("float32", (-2,)),
    "tensor dim not int": tensor_frame("float32", (2.0,)),
    "tensor dim a bool": tensor_frame("uint8", (True,), b"\x01"),
    "tensor shape not a list": frame({"$tensor": {"dtype": "float32", "shape": 2, "buf": 0}}, [bytes(8)]),
    "tensor too many dims": tensor_frame("uint8", (1,) * 65, b"\x01"),
    "empty tensor with huge dims": tensor_frame("float32", (0, 2**40, 2**40), b""),
    "tensor body not a dict": frame({"$tensor": [1]}),
    "ndarray dtype object": frame({"$ndarray": {"dtype": "object", "shape": [1], "buf": 0}}, [bytes(8)]),
    "ndarray dtype bfloat16": frame({"$ndarray": {"dtype": "bfloat16", "shape": [1], "buf": 0}}, [bytes(2)]),
    "ndarray size mismatch": frame({"$ndarray": {"dtype": "int32", "shape": [3], "buf": 0}}, [bytes(8)]),
    "size with a float": frame({"$size": [2, 1.5]}),
    "size overflowing int64": frame({"$size": [2**70]}),
    "dtype not allowed": frame({"$dtype": "uint16"}),
    "dtype a list": frame({"$dtype": ["float32"]}),
    "device bad string": frame({"$device": "not-a-device:x"}),
    "device not a string": frame({"$device": 3}),
    "complex with one part": frame({"$complex": [1.0]}),
    "complex with a string": frame({"$complex": [1.0, "2"]}),
    "complex not a list": frame({"$complex": 1.0}),
    "slice with two parts": frame({"$slice": [1, 2]}),
    "slice with a float": frame({"$slice": [1, 2.5, None]}),
    "slice with a string": frame({"$slice": ["a", None, None]}),
    "generator state wrong size": frame({"$generator": {"state": {"dtype": "uint8", "shape": [3], "buf": 0}}},
                                        [b"abc"]),
    "generator state not a tensor": frame({"$generator": {"state": 5}}),
    "generator bad device": frame({"$generator": {"state": {"dtype": "uint8", "shape": [0], "buf": 0},
                                                  "device": "disk"}}, [b""]),
    "handle id not int": frame({"$handle": {"id": "1"}}),
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_frames_raise_codec_error(data):
    with pytest.raises(CodecError):
        decode(data, make_handle=lambda body: body)


def test_frame_builder_makes_frames_the_decoder_accepts():
    """The hostile frames above differ from valid ones only in the part each test names."""
    assert decode(tensor_frame("float32", (2,), struct.pack("<2f", 1.5, -2.0))).tolist() == [1.5, -2.0]
    assert decode(frame({"$dict": {"s": {"$size": [2]}, "b": {"$bytes": 0}}}, [b"xyz"])) == {
        "s": torch.Size([2]), "b": b"xyz"}
    assert decode(frame({"$handle": {"id": 1}}), make_handle=lambda body: body) == {"id": 1}


def test_too_many_items_raise_codec_error(monkeypatch):
    monkeypatch.setattr("autograder.sandbox.codec.MAX_ITEMS", 100)
    assert decode(frame(list(range(50)))) == list(range(50))
    with pytest.raises(CodecError):
        decode(frame(list(range(200))))


def test_every_truncation_of_a_valid_frame_raises_codec_error():
    data = bytearray(b"".join(encode({"n": 123456, "t": torch.arange(5.0), "a": np.zeros(0), "b": b""})))
    for length in range(len(data)):
        with pytest.raises(CodecError):
            decode(data[:length])


def test_random_corruption_raises_codec_error_or_decodes():
    value = {"a": [1, 2.5, None, "s", b"by"], "t": torch.arange(6.0).reshape(2, 3), "n": np.arange(4, dtype=np.int16),
             "g": torch.Generator().manual_seed(1), "c": 1 + 2j, "sl": slice(1, None, 2), "d": torch.float16,
             "sz": torch.Size([2, 3]), "e": ...}
    good = bytes(b"".join(encode(value)))
    rng = random.Random(0)
    for _ in range(500):
        data = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.choice(b'0123456789[]{}",:-.e$ ') if rng.random() < 0.7 \
                else rng.randrange(256)
        try:
            decode(data, make_handle=lambda body: body)
        except CodecError:
            pass


def test_decoding_never_unpickles(monkeypatch):
    class Trap:
        def __reduce__(self):
            return (print, ("unpickled!",))

    payload = pickle.dumps(Trap())
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("pickle.loads was called"))
    monkeypatch.setattr(pickle, "Unpickler", None)
    assert decode(frame({"$bytes": 0}, [payload])) == payload  # pickle bytes stay plain bytes
    assert decode(frame({"$ndarray": {"dtype": "uint8", "shape": [len(payload)], "buf": 0}}, [payload])).tobytes() \
        == payload
    for header in ({"$ndarray": {"dtype": "object", "shape": [1], "buf": 0}}, {"$pickle": 0}, {"$object": 0}):
        with pytest.raises(CodecError):
            decode(frame(header, [payload]))
    with pytest.raises(CodecError):
        decode(frame(payload))


def test_a_header_of_many_empty_lists_is_refused_before_it_is_parsed(monkeypatch):
    """A reply under the size cap whose header is a million empty lists made json.loads use
    6.6 GB; the values are counted in the raw header first, so nothing is built."""
    parsed = []
    monkeypatch.setattr("autograder.sandbox.codec.json.loads", lambda text: parsed.append(text))
    with pytest.raises(CodecError, match="more than"):
        decode(frame(b"[" + b"[]," * 2_000_000 + b"[]]"))
    assert parsed == []


def test_a_header_over_the_header_limit_is_refused(monkeypatch):
    monkeypatch.setattr("autograder.sandbox.codec.MAX_HEADER_BYTES", 1000)
    assert decode(frame("x" * 900)) == "x" * 900
    with pytest.raises(CodecError, match="header"):
        decode(frame("x" * 1100))


def test_array_elements_are_bounded_per_frame(monkeypatch):
    """Elements count over the whole frame (many small arrays add up), checked before a tensor is built."""
    monkeypatch.setattr("autograder.sandbox.codec.MAX_ELEMENTS", 1000)
    assert len(round_trip([torch.zeros(400, dtype=torch.bool)] * 2)) == 2
    with pytest.raises(CodecError, match="array elements"):
        round_trip([torch.zeros(400, dtype=torch.bool)] * 3)
    with pytest.raises(CodecError, match="array elements"):
        round_trip(np.zeros(1001, dtype=np.uint8))


def test_a_tensor_subclass_cannot_run_code_while_it_is_encoded():
    class Loud(torch.Tensor):
        calls = 0

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            Loud.calls += 1
            return super().__torch_function__(func, types, args, kwargs or {})

    value = torch.arange(3.0).as_subclass(Loud)
    Loud.calls = 0
    assert decode(b"".join(encode(value))).tolist() == [0.0, 1.0, 2.0]
    assert Loud.calls == 0
