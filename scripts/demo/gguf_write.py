"""gguf_write.py — a minimal GGUF v3 writer (numpy + struct), hearth's own.

Contract
    w = GGUFWriter()
    w.add("general.architecture", "gemma4")            # value type inferred: str, bool, int (u32, or i64 if
    w.add("x.y", 3, "u32"); w.add("x.z", [1.0, 2.0])    # it does not fit), float (f32), lists of those
    w.add_tensor("token_embd.weight", array)            # numpy float32 (written F32) or float16 (F16);
                                                        # shape [rows, cols] is stored as ne = [cols, rows]
    w.write(path)
Metadata keys are written in insertion order, tensors in insertion order, data aligned to 32 bytes
(general.alignment is left at its default). Only F32 and F16 tensors: quantized files are made by
`hearth quantize` from an F32 file.
"""
import struct

GGUF_MAGIC = b"GGUF"
ALIGN = 32

# metadata value types (gguf spec)
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
SCALAR_FMT = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i", T_F32: "<f",
              T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}
NAMED = {"u8": T_U8, "i8": T_I8, "u16": T_U16, "i16": T_I16, "u32": T_U32, "i32": T_I32, "f32": T_F32,
         "bool": T_BOOL, "str": T_STR, "u64": T_U64, "i64": T_I64, "f64": T_F64}
# tensor types (ggml)
GGML_F32, GGML_F16 = 0, 1


def _str(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def _infer(v):
    if isinstance(v, bool):
        return T_BOOL
    if isinstance(v, int):
        return T_U32 if 0 <= v < 2**32 else T_I64
    if isinstance(v, float):
        return T_F32
    if isinstance(v, (str, bytes)):
        return T_STR
    raise TypeError(f"cannot infer a GGUF type for {type(v).__name__}")


def _scalar(t, v):
    return _str(v) if t == T_STR else struct.pack(SCALAR_FMT[t], v)


class GGUFWriter:
    def __init__(self):
        self.kv = []        # (key, type, elem_type, value)
        self.tensors = []   # (name, ndarray, ggml_type)

    def add(self, key, value, type_name=None):
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"{key}: empty arrays are not written")
            et = NAMED[type_name] if type_name else _infer(value[0])
            if et != T_STR and not type_name and any(isinstance(x, int) and not isinstance(x, bool) for x in value):
                et = T_I32 if all(-2**31 <= x < 2**31 for x in value) else T_I64
            self.kv.append((key, T_ARR, et, list(value)))
        else:
            t = NAMED[type_name] if type_name else _infer(value)
            self.kv.append((key, t, None, value))

    def add_tensor(self, name, arr):
        import numpy as np      # only tensors need numpy: vocabulary-only files are written with the stdlib
        arr = np.ascontiguousarray(arr)
        if arr.dtype == np.float32:
            t = GGML_F32
        elif arr.dtype == np.float16:
            t = GGML_F16
        else:
            raise TypeError(f"{name}: dtype {arr.dtype} (only float32/float16)")
        if arr.ndim < 1 or arr.ndim > 4:
            raise ValueError(f"{name}: {arr.ndim} dimensions")
        self.tensors.append((name, arr, t))

    def write(self, path):
        head = bytearray()
        head += GGUF_MAGIC + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))
        for key, t, et, v in self.kv:
            head += _str(key) + struct.pack("<I", t)
            if t == T_ARR:
                head += struct.pack("<IQ", et, len(v))
                for x in v:
                    head += _scalar(et, x)
            else:
                head += _scalar(t, v)
        offset = 0
        offsets = []
        for name, arr, t in self.tensors:
            ne = list(reversed(arr.shape))      # ggml: ne[0] is the contiguous (last numpy) axis
            head += _str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
            head += struct.pack("<IQ", t, offset)
            offsets.append(offset)
            offset += arr.nbytes
            offset += (-offset) % ALIGN
        head += b"\0" * ((-len(head)) % ALIGN)
        with open(path, "wb") as f:
            f.write(head)
            pos = 0
            for (name, arr, t), off in zip(self.tensors, offsets):
                f.write(b"\0" * (off - pos))
                f.write(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
                pos = off + arr.nbytes
            f.write(b"\0" * ((-pos) % ALIGN))
