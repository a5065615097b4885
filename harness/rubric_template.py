"""Rendering a submitter's rubric template without letting it stop the worker.

A rubric template is Jinja2 from anyone holding a token, rendered once per judgment. Jinja2's sandbox keeps it
away from Python internals but not from the CPU and memory: ``{{ 9 ** 9999999 }}`` burned 92 s of CPU per
render, ``'a' * 10**7`` grows without limit, and a template that raises (``SecurityError``, ``UndefinedError``,
``ZeroDivisionError``) took its worker down. So a template renders:

- in the sandbox, with its binary operators intercepted (no power with an exponent above
  :data:`MAX_EXPONENT`, no string or list repeated or joined beyond :data:`MAX_CHARS`) and ``range`` capped at
  :data:`MAX_RANGE`: the common attacks refused with a message that names them;
- in a child process with at most :data:`MEMORY_BYTES` of address space, killed when a render takes longer
  than :data:`RENDER_SECONDS` or a job's renders :data:`BUDGET_SECONDS` in all: what the interception misses
  (``|center(10**8)``, nested loops, doubling with ``~``) costs the job, never the worker;
- to at most :data:`MAX_CHARS` characters.

Every failure is a :class:`TemplateRefused` naming the problem: a 422 at submission (:func:`check_template`
renders once with sample values), a recorded failure of the job at run time.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

MAX_EXPONENT = 100
MAX_CHARS = 100_000
MAX_RANGE = 10_000
RENDER_SECONDS = 1.0
#: Rendering time a job may spend in all (a render of a millisecond is normal; thousands of judgments).
BUDGET_SECONDS = 120.0
STARTUP_SECONDS = 60.0
MEMORY_BYTES = 1 << 30
_HUGE_FORMAT = re.compile(r"%[-+ #0]*(\d{6,}|\d*\.\d{6,})")  # width/precision of 6+ digits
#: What :func:`check_template` renders at submission.
SAMPLE = {"question": "Which shape is red? (A) circle (B) square (C) star (D) triangle", "candidate": "(B) square"}


class TemplateRefused(ValueError):
    """A rubric template that cannot be rendered within the limits (or at all); the message says why."""


def _sized(value) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _make_environment():
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class LimitedSandbox(SandboxedEnvironment):
        intercepted_binops = frozenset({"**", "*", "+", "%"})

        def call_binop(self, context, operator, left, right):
            if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"a power with exponent {right} (at most {MAX_EXPONENT})")
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    n = _sized(seq)
                    if n is not None and isinstance(times, int) and n * times > MAX_CHARS:
                        raise SecurityError(f"repeating a sequence of {n} {times} times (at most {MAX_CHARS} long)")
            if operator == "+" and (_sized(left) or 0) + (_sized(right) or 0) > MAX_CHARS:
                raise SecurityError(f"joining sequences longer than {MAX_CHARS}")
            if operator == "%" and isinstance(left, str) and _HUGE_FORMAT.search(left):
                raise SecurityError("a %-format width or precision of a million or more")
            return super().call_binop(context, operator, left, right)

    def limited_range(*args):
        r = range(*args)
        if len(r) > MAX_RANGE:
            raise SecurityError(f"range of {len(r)} items (at most {MAX_RANGE})")
        return r

    env = LimitedSandbox(autoescape=False, keep_trailing_newline=True)
    env.globals["range"] = limited_range
    return env


def _render_one(compiled, question: str, candidate: str) -> str:
    text = compiled.render(question=question, candidate=candidate)
    if len(text) > MAX_CHARS:
        raise TemplateRefused(f"it rendered {len(text)} characters (at most {MAX_CHARS})")
    return text


def _serve(conn, template: str) -> None:
    """The child process: compile once, then render each (question, candidate) it is sent."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    try:
        compiled = _make_environment().from_string(template)
    except Exception as err:  # a template the parent validated cannot fail here, but say so if it does
        conn.send(("error", f"{type(err).__name__}: {err}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            question, candidate = conn.recv()
        except EOFError:  # the parent is gone or done
            return
        try:
            conn.send(("ok", _render_one(compiled, question, candidate)))
        except MemoryError:
            conn.send(("error", f"it needs more than {MEMORY_BYTES >> 20} MiB"))
        except Exception as err:
            conn.send(("error", f"{type(err).__name__}: {err}"))


class RubricRenderer:
    """Renders one template in a child process (see the module docstring); a context manager that stops the
    child. Calls are one round trip each (tens of microseconds)."""

    def __init__(self, template: str, seconds: float = RENDER_SECONDS, budget: float = BUDGET_SECONDS) -> None:
        try:
            _make_environment().parse(template)
        except Exception as err:
            raise TemplateRefused(f"not valid Jinja2: {err}") from None
        self.seconds, self.budget, self.spent = seconds, budget, 0.0
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, template), name="rubric-renderer", daemon=True)
        self._proc.start()
        child.close()
        # Start-up (a fresh interpreter importing jinja2) is not the template's time: wait for it apart.
        ready = self._conn.poll(STARTUP_SECONDS) and self._receive()
        if ready != ("ready", None):
            self.close()
            raise TemplateRefused(ready[1] if ready else f"the renderer did not start in {STARTUP_SECONDS:g} s")

    def _receive(self):
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            return ("error", "the renderer process died while starting")

    def __call__(self, question: str, candidate: str) -> str:
        if self._proc is None:
            raise TemplateRefused("the renderer was stopped by an earlier failure")
        t0 = time.monotonic()
        try:
            self._conn.send((question, candidate))
            limit = min(self.seconds, max(self.budget - self.spent, 0.0))
            if not self._conn.poll(limit):
                self.close()
                raise TemplateRefused(f"a render took longer than {self.seconds:g} s" if limit == self.seconds
                                      else f"this job's renders took more than {self.budget:g} s in all")
            status, value = self._conn.recv()
        except (EOFError, OSError):  # the child is gone: killed for memory, or it could not start
            self.close()
            raise TemplateRefused("the renderer process died (out of memory?)") from None
        self.spent += time.monotonic() - t0
        if status != "ok":
            raise TemplateRefused(value)
        return value

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._conn.close()
            self._proc = None

    def __enter__(self) -> RubricRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_template(template: str) -> None:
    """Render ``template`` once with sample values under the run-time limits; :class:`TemplateRefused` if it
    cannot be. Used at submission, so a bad template is a 422, not a failed job."""
    with RubricRenderer(template) as render:
        render(**SAMPLE)


def render_in_process(template: str) -> Callable[[str, str], str]:
    """A renderer with the sandbox's limits but no child process, for the protocol's own (trusted) template."""
    compiled = _make_environment().from_string(template)
    return lambda question, candidate: _render_one(compiled, question, candidate)
