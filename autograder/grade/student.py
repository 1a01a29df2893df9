"""What tests hold: proxies that reach the student's code in the sandbox.

``student.sampling.box_muller(u1, u2)`` fetches the attribute (a handle) and calls it in
the test's own worker; the result comes back as fresh plain values. Objects the student's
code creates (an ``nn.Module``) stay in the sandbox as :class:`RemoteObject` handles that
the test can call, index and read attributes of, and pass back as arguments.
"""

from __future__ import annotations

from typing import Any

from autograder import clock
from autograder.errors import GraderError, SubmissionError
from autograder.grade import verify
from autograder.sandbox import client, codec, protocol


class StudentSession:
    """One test's connection to the sandbox: a worker spawned on first use, killed at teardown."""

    def __init__(self, runner: "SandboxRunner", *, time_limit: float):
        self.runner = runner
        self.time_limit = time_limit
        self.deadline = clock.monotonic() + time_limit
        self.worker: client.Worker | None = None
        self.failure: client.SandboxFailure | None = None  # sticky: a dead worker stays dead
        self.output = ""

    def request(self, message: dict) -> Any:
        if self.failure is not None:
            raise self.failure
        self.runner.check_submission()
        if self.worker is None:  # waiting for the sandbox to start (importing torch) is not the student's time
            started = clock.monotonic()
            try:
                self.worker = self.runner.sandbox.spawn()
            except client.LoadError as failure:  # bounded by its own limit, reported once
                self.failure = failure
                if failure.sticky:
                    self.runner.load_failure = failure
                self.output += failure.output
                raise
            waited = clock.monotonic() - started
            self.deadline += waited
            self.runner.deadline += waited
        deadline, reason = self.deadline, f"timed out after {self.time_limit:g} s"
        if self.runner.deadline < deadline:
            deadline, reason = self.runner.deadline, self.runner.total_limit_message
        try:
            reply = self.worker.request(message, deadline=deadline, make_handle=self._handle, to_handle=_send_handle)
        except protocol.ChannelTimeout:
            self._fail(client.TimedOut(reason), restart=True)
        except protocol.ChannelClosed:
            if not self.runner.sandbox.alive():  # the student's code cannot reach its server (another uid, outside)
                self._collect_output()
                raise GraderError("the sandbox server was killed from outside while this test ran") from None
            exits = self.runner.sandbox.reset()
            self._fail(client.SandboxDied(_death_message(exits.get(str(self.worker.pid)), self.runner)))
        except (protocol.FrameTooLarge, codec.CodecError) as exc:
            self._fail(client.BadReply(f"your code returned something the grader cannot read: {exc}"))
        if not isinstance(reply, dict) or not ("ok" in reply or "error" in reply):
            self._fail(client.BadReply("the sandbox sent a malformed reply"))
        if "error" in reply:
            error = reply["error"]
            if not isinstance(error, dict):
                self._fail(client.BadReply("the sandbox sent a malformed error"))
            raise client.StudentCodeError(str(error.get("type", "")), str(error.get("message", "")),
                                          str(error.get("traceback", "")))
        return reply["ok"]

    def _fail(self, failure: client.SandboxFailure, *, restart: bool = False) -> None:
        self.failure = failure
        if restart:  # the worker may be anywhere (a busy loop, a fork bomb): end the whole sandbox
            self.runner.sandbox.restart()
        else:
            self.runner.sandbox.reset()
        self._collect_output()
        raise failure

    def _handle(self, body: dict) -> RemoteObject:
        return RemoteObject(self, {"handle": body["id"]}, str(body.get("type", "object")), bool(body.get("callable")))

    def _collect_output(self) -> None:
        if self.worker is not None and self.worker.open:
            self.output += self.worker.drain_output()
            self.worker.close()

    def fresh_sandbox(self) -> None:
        """End this test's worker and its whole sandbox; the next request starts in a new one.

        A new sandbox has fresh scratch folders and a fresh copy of the submission, so
        nothing one part of a test left behind (a file in /tmp, a cache) reaches the next.
        """
        if self.failure is not None:
            raise self.failure
        self.runner.check_submission()
        self._collect_output()
        self.runner.sandbox.restart()
        self.worker = None

    def close(self) -> str:
        """End the test's worker; returns what the student's code printed.

        The worker flushed its output before its last reply, so the output is read without
        waiting for the kill to finish (how the worker ended is of no interest here).
        """
        if self.worker is not None and self.worker.open:
            self.runner.sandbox.reset(wait=False)
            self._collect_output()
        return self.output


class RemoteObject:
    """Something living in the sandbox: a module, a function, an object the student made."""

    def __init__(self, session: StudentSession, target: dict, remote_type: str, remote_callable: bool = True):
        self._session = session
        self._target = target
        self._remote_type = remote_type
        self._remote_callable = remote_callable

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._session.request({"op": "getattr", "target": self._target, "name": name})

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):  # the proxy's own fields
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"cannot set {name!r} on the student's {self._remote_type} from a test: assignments "
                             "would change only this proxy; call a method of the object instead")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.request({"op": "call", "target": self._target, "args": list(args), "kwargs": kwargs})

    def __getitem__(self, key: Any) -> Any:
        return self._session.request({"op": "getitem", "target": self._target, "key": key})

    def __len__(self) -> int:
        length = self._session.request({"op": "len", "target": self._target})
        if type(length) is not int or length < 0:
            raise client.BadReply(f"len() of your object returned {length!r}")
        return length

    def __repr__(self) -> str:
        return f"<student's {self._remote_type}>"


def _send_handle(value: Any) -> codec.HandleRef:
    """Lets the codec send a RemoteObject back into the sandbox as the handle it stands for."""
    if isinstance(value, RemoteObject) and "handle" in value._target:
        return codec.HandleRef(value._target["handle"])
    raise codec.CodecError(f"cannot send a {type(value).__name__} into the sandbox")


class StudentModules:
    """The ``student`` fixture: ``student.<module>`` is the submission's module of that name."""

    def __init__(self, session: StudentSession):
        self._session = session

    def __getattr__(self, name: str) -> RemoteObject:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteObject(self._session, {"module": name}, f"module {name}")

    def probe(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run an instructor probe (autograder.sandbox.probes) next to the student's objects.

        Student code may have replaced the probe in its process: derivatives are checked here
        against the function's own outputs before a test sees them (:mod:`autograder.grade.verify`).
        """
        result = self._session.request({"op": "probe", "name": name, "args": list(args), "kwargs": kwargs})
        return verify.checked(name, list(args), kwargs, result)

    def fresh_sandbox(self) -> None:
        """Continue this test in a new sandbox: the handles held so far are gone, and so is
        everything the student's code wrote or cached (see :meth:`StudentSession.fresh_sandbox`)."""
        self._session.fresh_sandbox()


class SandboxRunner:
    """A submission's sandbox and its whole-submission time limit, shared by all its tests."""

    def __init__(self, sandbox: client.Sandbox | None, *, total_limit: float, invalid: str | None = None,
                 grader_failure: str | None = None):
        self.sandbox = sandbox
        self.total_limit = total_limit
        self.deadline = clock.monotonic() + total_limit
        self.invalid = invalid
        self.grader_failure = grader_failure  # the grader could not prepare the submission: no test can run
        self.total_limit_message = f"the submission's total time limit of {total_limit:g} s was used up"
        self.load_failure: client.LoadError | None = None  # the first test that needed the sandbox saw it

    def check_submission(self) -> None:
        if self.grader_failure is not None:
            raise GraderError(self.grader_failure)
        if self.invalid is not None:
            raise SubmissionError(f"invalid submission: {self.invalid}")
        if self.load_failure is not None:
            raise type(self.load_failure)(f"not run: {self.load_failure}")
        if clock.monotonic() >= self.deadline:
            raise client.TimedOut(f"not run: {self.total_limit_message}")


def _death_message(exit: dict | None, runner: SandboxRunner) -> str:
    if not exit:
        return "your code ended the process running it before it replied"
    if "signal" in exit:
        import signal

        try:
            name = signal.Signals(exit["signal"]).name
        except ValueError:
            name = f"signal {exit['signal']}"
        hint = ""
        if name == "SIGKILL":
            hint = " (usually the memory limit of the sandbox)"
        return f"your code crashed the process running it with {name}{hint}"
    return f"your code exited early (exit code {exit['code']}) before it replied"
