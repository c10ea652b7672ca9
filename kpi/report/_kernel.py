"""The kernel reports run on: always the interpreter that runs the renderer.

A kernelspec named ``python3`` found first on the Jupyter path (for instance one in
``~/.local/share/jupyter/kernels`` pointing at the system Python) could run a report with a
different environment, or one without ``kpi`` installed. :class:`CurrentPythonKernelManager`
ignores the installed kernelspecs: it starts ``sys.executable -m ipykernel_launcher`` directly,
over IPC sockets in a private directory (no TCP port, no network), with ``KPI_REPORT_RENDER=1``
in its environment so that :mod:`kpi.charts` emits compact chart outputs.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

__all__ = ["KERNEL_NAME", "CurrentPythonKernelManager", "kernel_spec", "manager_for"]

KERNEL_NAME = "python3"

#: Run in the kernel before the notebook. jsonschema (imported by altair) imports
#: ``rfc3987_syntax`` when it is installed, which compiles a grammar for ~2 s on every start;
#: reports never validate IRIs, so the report kernel skips it.
_STARTUP = ['import sys; sys.modules.setdefault("rfc3987_syntax", None)']


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
        self._private_dir = tempfile.mkdtemp(prefix="kpi-kernel-")
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

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if self.kernel_cwd:
            kw["cwd"] = self.kernel_cwd
        self._log = open(os.path.join(self._private_dir, "kernel.log"), "ab")  # noqa: SIM115
        kw.setdefault("stdout", self._log)
        kw.setdefault("stderr", self._log)
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:  # noqa: FBT001, FBT002 - jupyter_client's signature
        """Remove connection files, then the private directory."""
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            if self._log is not None:
                self._log.close()
            shutil.rmtree(self._private_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def manager_for(cwd: str | os.PathLike) -> type[CurrentPythonKernelManager]:
    """A manager class whose kernels start in ``cwd``.

    Papermill's own ``cwd`` option changes the working directory of the whole calling
    process while a notebook runs; starting the kernel in the directory instead leaves the
    caller (and its other threads) alone.
    """
    return type(
        "CurrentPythonKernelManager",
        (CurrentPythonKernelManager,),
        {"kernel_cwd": os.fspath(cwd)},
    )
