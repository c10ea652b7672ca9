"""The kernel reports run on: always the interpreter that runs the renderer.

A kernelspec named ``python3`` found first on the Jupyter path (for instance one in
``~/.local/share/jupyter/kernels`` pointing at the system Python) could run a report with a
different environment, or one without ``kpi`` installed. :class:`CurrentPythonKernelManager`
ignores the installed kernelspecs: it starts ``sys.executable -m ipykernel_launcher`` directly,
over IPC sockets in a private directory (no TCP port, no network), with ``KPI_REPORT_RENDER=1``
in its environment so that :mod:`kpi.charts` emits compact chart outputs.

A kernel never outlives the process that started it: on Linux it asks for ``SIGKILL`` when its
parent ends (``PR_SET_PDEATHSIG``), elsewhere ipykernel's parent poller ends it within a second.
Every kernel started here is recorded, so :func:`kill_kernels` can end those still running
(with their process groups) when a render is stopped, and :func:`die_with_parent` gives render
workers the same tie to the ``kpi report`` process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from kpi.report._files import pid_alive

__all__ = [
    "KERNEL_NAME",
    "CurrentPythonKernelManager",
    "die_with_parent",
    "kernel_spec",
    "kill_kernels",
    "manager_for",
]

KERNEL_NAME = "python3"

#: ``prctl`` option: the signal a process receives when its parent ends (Linux).
_PR_SET_PDEATHSIG = 1

#: Run in the kernel (in a namespace of its own) before anything else: die with the parent.
#: ``JPY_PARENT_PID`` is the launching process (jupyter_client sets it); a parent already
#: gone by now is caught by comparing it with ``getppid``.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)\n"
    "parent = os.environ.get('JPY_PARENT_PID', '')\n"
    "if parent.isdigit() and os.getppid() != int(parent):\n"
    "    os._exit(1)\n"
)

#: Run in the kernel before the notebook. jsonschema (imported by altair) imports
#: ``rfc3987_syntax`` when it is installed, which compiles a grammar for ~2 s on every start;
#: reports never validate IRIs, so the report kernel skips it.
_STARTUP = [
    'import sys; sys.modules.setdefault("rfc3987_syntax", None)',
    f"exec({_DIE_WITH_PARENT!r}, {{}})",
]

#: The kernels this process started and has not seen end, by pid (with their private dirs).
_LIVE: dict[int, tuple[subprocess.Popen, str]] = {}
_LIVE_LOCK = threading.RLock()  # re-entrant: kill_kernels may run in a signal handler


#: Private directories of kernels: ``<tmp>/kpi-kernel-<pid of the renderer>-<random>``.
_PRIVATE_PREFIX = "kpi-kernel-"


def _remove_stale_private_dirs() -> None:
    """Remove the private directories left by renderers that were killed (``kill -9``)."""
    root = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for name in os.listdir(root):
            if not name.startswith(_PRIVATE_PREFIX):
                continue
            pid = name[len(_PRIVATE_PREFIX) :].split("-", 1)[0]
            if not pid.isdigit():
                continue
            if not pid_alive(int(pid)):  # gone, or ended and not yet reaped
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def die_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> None:
    """Receive ``signum`` when the parent process ends (Linux); exit now if it already has.

    Call it first thing in a child process. Elsewhere than Linux the caller needs its own
    watch (``kpi.report._many`` watches a pipe from the parent).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def kill_kernels(processes: Iterable[subprocess.Popen] | None = None) -> int:
    """Kill kernels still running, with everything in their process groups.

    Parameters
    ----------
    processes
        The kernels to end (default: every kernel this process started).

    Returns
    -------
    int
        How many were still running.
    """
    with _LIVE_LOCK:
        chosen = [p for p, _ in _LIVE.values()] if processes is None else list(processes)
    killed = 0
    for process in chosen:
        if process.poll() is not None:  # ended (and reaped: its pid cannot be reused)
            continue
        killed += 1
        try:
            if hasattr(os, "killpg"):
                # the kernel leads a session of its own (jupyter_client starts it so)
                os.killpg(process.pid, signal.SIGKILL)
            else:  # pragma: no cover - Windows
                process.kill()
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(OSError):
                process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    with _LIVE_LOCK:
        for process in chosen:
            if process.poll() is not None:
                _, private_dir = _LIVE.pop(process.pid, (None, ""))
                if private_dir:  # connection file and sockets of a kernel that was killed
                    shutil.rmtree(private_dir, ignore_errors=True)
    return killed


def kernel_spec() -> KernelSpec:
    """A kernelspec for ``sys.executable`` (no file on disk needed)."""
    return KernelSpec(
        argv=[
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            f"--IPKernelApp.exec_lines={_STARTUP!r}",
        ],
        display_name=f"Python 3 ({sys.prefix})",
        language="python",
        env={"KPI_REPORT_RENDER": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
        metadata={"debugger": False},
    )


class CurrentPythonKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` bound to the current interpreter (see the module docstring).

    The kernel's own standard output and error (start-up banners, the shutdown interrupt
    notice) go to ``kernel.log`` in its private directory, not to the user's terminal.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _remove_stale_private_dirs()
        self._private_dir = tempfile.mkdtemp(prefix=f"{_PRIVATE_PREFIX}{os.getpid()}-")
        self._log: Any = None
        self.connection_file = os.path.join(self._private_dir, "connection.json")
        if os.name == "posix":
            self.transport = "ipc"
            self.ip = os.path.join(self._private_dir, "kernel")
        self._kernel_spec = kernel_spec()

    @property
    def kernel_spec(self) -> KernelSpec:
        """The spec of the current interpreter, whatever ``kernel_name`` says."""
        return self._kernel_spec

    #: Working directory of the kernel (set by :func:`manager_for`); ``None``: inherited.
    kernel_cwd: str | None = None
    #: Where the kernel processes started by managers of this class are recorded (set by
    #: :func:`manager_for`), for :func:`kill_kernels`.
    launched: list[subprocess.Popen] | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if self.kernel_cwd:
            kw["cwd"] = self.kernel_cwd
        self._log = open(os.path.join(self._private_dir, "kernel.log"), "ab")  # noqa: SIM115
        kw.setdefault("stdout", self._log)
        kw.setdefault("stderr", self._log)
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = getattr(self.provisioner, "process", None)
        if isinstance(process, subprocess.Popen):
            with _LIVE_LOCK:
                _LIVE[process.pid] = (process, self._private_dir)
            if self.launched is not None:
                self.launched.append(process)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:  # noqa: FBT001, FBT002 - jupyter_client's signature
        """Remove connection files, then the private directory."""
        await super()._async_cleanup_resources(restart=restart)
        with _LIVE_LOCK:
            for pid, (process, _) in list(_LIVE.items()):
                if process.poll() is not None:
                    del _LIVE[pid]
        if not restart:
            if self._log is not None:
                self._log.close()
            shutil.rmtree(self._private_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def manager_for(
    cwd: str | os.PathLike, *, launched: list[subprocess.Popen] | None = None
) -> type[CurrentPythonKernelManager]:
    """A manager class whose kernels start in ``cwd`` (and are recorded in ``launched``).

    Papermill's own ``cwd`` option changes the working directory of the whole calling
    process while a notebook runs; starting the kernel in the directory instead leaves the
    caller (and its other threads) alone.
    """
    return type(
        "CurrentPythonKernelManager",
        (CurrentPythonKernelManager,),
        {"kernel_cwd": os.fspath(cwd), "launched": launched},
    )
