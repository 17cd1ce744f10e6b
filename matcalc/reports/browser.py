"""Open a report in headless Chromium over the DevTools protocol, and measure what it shows.

Used by the browser test and by ``scripts/report_screenshot.py`` (one code path for both): no
extra Python package, only Debian's ``chromium`` and ``--remote-debugging-pipe`` (NUL-terminated
JSON on file descriptors 3 and 4).  Every request of the page is paused (``Fetch``) and recorded,
and all but the page itself are failed; the console is read too, since a load blocked by the CSP
shows only there.  Chromium makes DNS queries of its own, so every host resolves to nothing and,
where ``unshare -n`` works, the browser has no network at all.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-component-update",
         "--disable-background-networking", "--disable-extensions", "--disable-sync", "--mute-audio",
         '--host-resolver-rules=MAP * ~NOTFOUND', "--remote-debugging-pipe"]

LAYOUT_JS = """(() => {
  const maths = [...document.querySelectorAll('math')];
  const empty = maths.filter(m => { const r = m.getBoundingClientRect(); return !(r.width > 0 && r.height > 0); });
  const fracs = [...document.querySelectorAll('mfrac')];
  const flat = fracs.filter(f => { const [a, b] = f.children; if (!a || !b) return true;
    return !(a.getBoundingClientRect().bottom <= b.getBoundingClientRect().top + 1); });
  const parens = [...document.querySelectorAll('mo[stretchy="false"]')].filter(o => o.textContent === '(');
  const widest = Math.max(0, ...parens.map(o => o.getBoundingClientRect().width));
  const overflow = document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;
  return {maths: maths.length, empty: empty.length, fracs: fracs.length, flat: flat.length,
          widest_paren: widest, overflow: overflow,
          font_loaded: document.fonts.check('16px "matcalc STIX Math"')};
})()"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _unshare_works() -> bool:
    exe = shutil.which("unshare")
    if not exe:
        return False
    try:
        return subprocess.run([exe, "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@dataclass
class PageFacts:
    """What the browser saw: every request, the console, the layout, and the fonts used."""
    url: str
    requests: list = field(default_factory=list)
    console: list = field(default_factory=list)
    layout: dict = field(default_factory=dict)
    fonts: list = field(default_factory=list)       # [{familyName, isCustomFont, glyphCount}] of the first <math>
    screenshot: bytes = b""
    seconds: float = 0.0

    @property
    def foreign_requests(self) -> list:
        return [u for u in self.requests if u != self.url and not u.startswith("data:")]


class DevTools:
    """A minimal DevTools-protocol client over Chromium's pipe."""

    def __init__(self, exe: str, profile: str, width: int, height: int):
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        # move the child's ends out of the way of 3 and 4 before they are put there
        child_in, child_out = fcntl.fcntl(to_r, fcntl.F_DUPFD, 50), fcntl.fcntl(from_w, fcntl.F_DUPFD, 51)
        for fd in (to_r, from_w):
            os.close(fd)

        def setup():
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        args = [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"]
        if _unshare_works():
            args = [shutil.which("unshare"), "-n", *args]
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=setup, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(child_in)
        os.close(child_out)
        self.out, self.inp = to_w, from_r
        self.buffer = b""
        self.next_id = 0
        self.replies: dict = {}
        self.events: list = []

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.inp], [], [], timeout)
        if not ready:
            return
        chunk = os.read(self.inp, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed the DevTools pipe")
        self.buffer += chunk
        while b"\0" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\0", 1)
            msg = json.loads(raw)
            if "id" in msg:
                self.replies[msg["id"]] = msg
            else:
                self.events.append(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.out, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30, on_event=None) -> dict:
        """Send and wait for the reply, handing events to ``on_event`` meanwhile (a paused
        request must be answered before ``Page.navigate`` replies)."""
        mid = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while mid not in self.replies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to {method}")
            self._read(0.05)
            if on_event:
                self.drain(on_event)
        reply = self.replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def drain(self, on_event) -> None:
        while self.events:
            on_event(self.events.pop(0))

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self.out)
            os.close(self.inp)


def open_page(path: str | Path, width: int = 1100, height: int = 1400, screenshot: bool = False,
              timeout: float = 60) -> PageFacts:
    """Load the file at ``path`` in headless Chromium and return what it requested and showed."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed")
    start = time.monotonic()
    url = Path(path).resolve().as_uri()
    facts = PageFacts(url)
    with tempfile.TemporaryDirectory(prefix="matcalc-chromium-") as profile:
        dt = DevTools(exe, profile, width, height)
        try:
            target = dt.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            loaded = []

            def on_event(ev):
                method, params = ev.get("method"), ev.get("params", {})
                if method == "Fetch.requestPaused":
                    req = params["request"]["url"]
                    facts.requests.append(req)
                    if req == url:
                        dt.send("Fetch.continueRequest", {"requestId": params["requestId"]}, session)
                    else:
                        dt.send("Fetch.failRequest", {"requestId": params["requestId"],
                                                      "errorReason": "BlockedByClient"}, session)
                elif method == "Network.requestWillBeSent":
                    req = params["request"]["url"]
                    if req not in facts.requests:
                        facts.requests.append(req)
                elif method == "Log.entryAdded":
                    facts.console.append(params["entry"].get("text", ""))
                elif method == "Runtime.consoleAPICalled":
                    facts.console.append(" ".join(str(a.get("value", "")) for a in params.get("args", [])))
                elif method == "Runtime.exceptionThrown":
                    facts.console.append(params.get("exceptionDetails", {}).get("text", "exception"))
                elif method == "Page.loadEventFired":
                    loaded.append(True)

            for method, params in (("Page.enable", {}), ("Runtime.enable", {}), ("Log.enable", {}),
                                   ("Network.enable", {}), ("DOM.enable", {}), ("CSS.enable", {}),
                                   ("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}),
                                   ("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})):
                dt.call(method, params, session, on_event=on_event)
            dt.call("Page.navigate", {"url": url}, session, on_event=on_event)
            deadline = time.monotonic() + timeout
            while not loaded:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not load")
                dt._read(0.05)
                dt.drain(on_event)
            dt.call("Runtime.evaluate", {"expression": "document.fonts.ready.then(() => true)",
                                         "awaitPromise": True}, session, on_event=on_event)
            facts.layout = dt.call("Runtime.evaluate", {"expression": LAYOUT_JS, "returnByValue": True},
                                   session, on_event=on_event)["result"]["value"]
            root = dt.call("DOM.getDocument", {"depth": 0}, session, on_event=on_event)["root"]["nodeId"]
            node = dt.call("DOM.querySelector", {"nodeId": root, "selector": "math mi"}, session,
                           on_event=on_event)["nodeId"]
            if node:
                facts.fonts = dt.call("CSS.getPlatformFontsForNode", {"nodeId": node}, session,
                                      on_event=on_event)["fonts"]
            if screenshot:
                shot = dt.call("Page.captureScreenshot", {"format": "png"}, session, on_event=on_event)
                facts.screenshot = base64.b64decode(shot["data"])
            dt._read(0.1)
            dt.drain(on_event)
        finally:
            dt.close()
    facts.seconds = time.monotonic() - start
    return facts
