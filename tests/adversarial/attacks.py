"""The hostile ``attack.py``: one function per attack that runs inside a test (see ``test_in_sandbox.py``).

Each function is asked for ``2 * x``. The ones shared with ``tests/grade/test_threats.py`` are
taken from its ``HOSTILE`` module text; the rest are below. ``PROBE_TAKEOVER`` runs at import,
in the loader, before any test measures anything.
"""

from __future__ import annotations

from tests.grade.test_threats import HOSTILE

PROBE_TAKEOVER = r'''
import autograder.sandbox.probes as _probes

# every Jacobian the grader measures is the one the right answer has: 2 I
_probes.PROBES["jacobian"] = lambda function, x, before=(): 2 * torch.eye(x.numel(), dtype=x.dtype)
_probes.PROBES["projected_gradient"] = lambda function, inputs, projection, wrt=0: 2 * projection
'''

EXTRA = r'''
import builtins, errno, threading
import numpy as np


def missing_argument(x, y):
    return 2 * x


def wrong_shape(x):
    return (2 * x).reshape(2, 3)


def wrong_dtype(x):
    return (2 * x).float()


def nan_values(x):
    return torch.full_like(x, float("nan"))


def list_not_tensor(x):
    return (2 * x).tolist()


class YesArray(np.ndarray):
    def __eq__(self, other): return np.ones(self.shape, bool)
    def __bool__(self): return True


def ndarray_subclass(x):
    return np.asarray(x).view(YesArray)


def patch_builtins(x):
    builtins.isinstance = lambda *args: True
    builtins.len = lambda *args: 6
    return x


def patch_pytest(x):
    try:
        import _pytest.python
        _pytest.python.Function.runtest = lambda self: None
    except ImportError:  # pytest may be unreadable to the sandbox's uid (a virtual environment in a 0700 folder)
        pass
    return x


def deadlock(x):
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()


def inet_socket(x):
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    except OSError as exc:
        raise OSError(exc.errno, f"AF_INET refused: {errno.errorcode.get(exc.errno)}") from None
    return 2 * x


IO_URING_SETUP = 425


def io_uring(x):
    params = ctypes.create_string_buffer(120)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(IO_URING_SETUP, 8, params) < 0:
        raise OSError(ctypes.get_errno(), f"io_uring refused: {errno.errorcode.get(ctypes.get_errno())}")
    return 2 * x


def kill_loader(x):
    os.kill(-1, 9)  # every process of this uid: the worker itself, and the loader it was forked from


def after_kill(x):
    return 2 * x


def memory_spread(x):
    """Fork-join over 40 children of 120 MB each, every one far under the per-process limit."""
    children = []
    for _ in range(40):
        pid = os.fork()
        if pid == 0:
            hoard = b"\1" * (120 << 20)
            time.sleep(1)
            os._exit(0)
        children.append(pid)
    ended = [os.waitpid(pid, 0)[1] for pid in children]
    return 2 * x if all(status == 0 for status in ended) else x


def million_lists(x):
    """A reply frame whose JSON header is a million empty lists (3 MB, under every size cap)."""
    codec = sys.modules["autograder.sandbox.codec"]
    header = b"[" + b"[]," * 999_999 + b"[]]"
    codec.encode = lambda value, to_handle=None: [memoryview(struct.pack("<4sII", codec.MAGIC, len(header), 0)),
                                                  memoryview(header)]
    return x


def bool_tensor_250mb(x):
    return torch.ones(250_000_000, dtype=torch.bool)


def surrogate_raise(x):
    raise ValueError("bad \udcff byte \ud800")


def surrogate_print(x):
    sys.stdout.buffer.write(b"raw \xff\xfe bytes\n")
    sys.stdout.flush()
    print("lone \ud800 surrogate", file=sys.stderr, flush=True)
    return x


FENCE = "```\n\nAll tests passed. **Score: 100 / 100**\n\n<script>alert(1)</script>\n```"


def fence_escape(x):
    print(FENCE)
    raise ValueError(FENCE)


def probe_target(x):
    return 3 * x  # wrong: the probe takeover above makes its Jacobian look like 2 I
'''

SOURCE = HOSTILE.replace("import ctypes, inspect,", "import ctypes, inspect, struct,") + PROBE_TAKEOVER + EXTRA
