"""JupyterLab driven by a real browser: one server per pytest process, Chromium through Playwright.

``lab`` (session) starts ``python -m jupyterlab`` from the running virtual environment on a free localhost port with
a random token, serving a scratch folder into which each test copies the notebook it opens (the repository's
notebooks are never opened, so JupyterLab never writes to them). Its settings, workspaces, runtime files and
IPython profile live in that scratch folder too, so nothing of the user's own Jupyter setup takes part. Under
pytest-xdist every worker that gets a browser test starts its own server, on its own port.

``chromium`` (session) launches the system Chromium (``CHROMIUM``) headless through Playwright; ``lab_notebook``
(per test) opens a notebook in its own browser context and, whatever happens, closes the page and shuts the
notebook's kernel down through the server's REST API. The server is stopped with ``/api/shutdown``, then its
process group and any process it started (kernels run in their own sessions) are terminated, and the port is
checked to be free again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import pytest
from lab_driver import CHROMIUM, NOTEBOOKS, SKIP_REASON, LabNotebook

SERVER_START_S = 180  # a loaded two-core machine can take a while to import JupyterLab
# JupyterLab settings of the scratch server: no autosave (the copy is thrown away anyway), no news pop-up.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # psutil missing or the process already gone
        return []


def _terminate_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGTERM a process group, SIGKILL what is left of it after ``timeout`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


class LabServer:
    """A JupyterLab server serving ``root`` on 127.0.0.1; REST calls carry the token."""

    def __init__(self, root: Path):
        self.root = root
        self.token = uuid.uuid4().hex + uuid.uuid4().hex
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log = root / "server.log"
        self._known_children: dict[int, object] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict:
        env = dict(os.environ)
        # The kernel must draw figures inline: `make test` exports MPLBACKEND=Agg for nbval, which would leave every
        # figure as "<Figure size ...>" text. Without MPLBACKEND, ipykernel selects the inline backend.
        env.pop("MPLBACKEND", None)
        env.pop("JUPYTER_TOKEN", None)
        scratch = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_RUNTIME_DIR": "runtime", "IPYTHONDIR": "ipython",
                   "JUPYTERLAB_SETTINGS_DIR": "lab-settings", "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces"}
        for key, sub in scratch.items():
            (self.root / sub).mkdir(parents=True, exist_ok=True)
            env[key] = str(self.root / sub)
        env.setdefault("OMP_NUM_THREADS", "1")
        return env

    def _write_settings(self) -> None:
        for rel, values in LAB_SETTINGS.items():
            path = self.root / "lab-settings" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def start(self, attempts: int = 3) -> None:
        (self.root / "notebooks").mkdir(parents=True, exist_ok=True)
        env = self._env()
        self._write_settings()
        errors = []
        for _ in range(attempts):  # a port found free can be taken before the server binds it: try another
            self.port = free_port()
            cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
                   "--ServerApp.shutdown_no_activity_timeout=3600", "--allow-root"]
            with open(self.log, "a") as log:
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             env=env, cwd=self.root, start_new_session=True)
            deadline = time.monotonic() + SERVER_START_S
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    self.api("GET", "/api/status", timeout=5)
                    return
                except (URLError, HTTPError, OSError):
                    time.sleep(0.5)
            errors.append(f"port {self.port}: exit code {self.proc.poll()}")
            self.stop(check_port=False)
        tail = self.log.read_text()[-3000:] if self.log.exists() else ""
        raise RuntimeError(f"JupyterLab did not start ({'; '.join(errors)}); log tail:\n{tail}")

    def api(self, method: str, path: str, data: dict | None = None, timeout: float = 30):
        body = json.dumps(data).encode() if data is not None else None
        req = Request(self.url + path, data=body, method=method,
                      headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def remember_children(self) -> None:
        """Note the server's current descendants (kernels are in their own sessions: killpg misses them)."""
        if self.proc is not None:
            for p in _descendants(self.proc.pid):
                self._known_children[p.pid] = p

    def kernel_state(self, kernel_id: str) -> str:
        try:
            return self.api("GET", f"/api/kernels/{kernel_id}", timeout=10)["execution_state"]
        except HTTPError as err:
            return "gone" if err.code == 404 else f"http {err.code}"

    def stop(self, check_port: bool = True) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        self.remember_children()
        if proc.poll() is None:
            try:
                self.api("POST", "/api/shutdown", timeout=10)  # shuts its kernels down too
            except (URLError, HTTPError, OSError):
                pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        _terminate_group(proc.pid)  # the server's own group (start_new_session=True: pgid == pid)
        proc.wait(timeout=10)
        for child in self._known_children.values():  # kernels left behind, each in its own session
            try:
                if child.is_running():
                    _terminate_group(os.getpgid(child.pid))
            except (ProcessLookupError, OSError):
                pass
            except Exception:
                pass
        self._known_children.clear()
        if check_port:
            deadline = time.monotonic() + 10
            while port_in_use(self.port) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not port_in_use(self.port), f"port {self.port} still in use after the server stopped"


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A JupyterLab server of this pytest process (one per xdist worker), stopped at the end of the session."""
    server = LabServer(tmp_path_factory.mktemp("jupyterlab"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium (the system one: `playwright install` cannot download browsers here)."""
    if CHROMIUM is None:
        pytest.skip(SKIP_REASON)
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    pw = sync_api.sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


@pytest.fixture
def lab_notebook(lab, chromium):
    """``open(name)`` opens notebooks/<name> (a fresh copy) in JupyterLab; closed and its kernel shut down after."""
    opened: list[LabNotebook] = []

    def open_notebook(name: str) -> LabNotebook:
        notebook = LabNotebook(lab, chromium, NOTEBOOKS / name)
        opened.append(notebook)
        notebook.open()
        return notebook

    try:
        yield open_notebook
    finally:
        for notebook in opened:
            notebook.close()
