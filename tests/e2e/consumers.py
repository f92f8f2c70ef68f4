# SPDX-License-Identifier: MIT
"""The real programs that read pytrace's file formats, for the tests:
go tool pprof, speedscope (its JSON schema through ajv, and the app itself
in headless Chromium), and Chromium rendering an SVG. Each function skips
the test (pytest.skip) with the reason when its consumer is missing, so
a machine without them says what it did not check.

Installed by tools/ensure-deps (golang-go, chromium) and
tools/install-consumers (speedscope and ajv from npm into
/var/cache/pytrace/npm, or PYTRACE_NPM_CACHE). flow's tests can use the
same functions."""

import contextlib
import functools
import http.server
import os
import re
import shutil
import socketserver
import struct
import subprocess
import tempfile
import threading
import zlib

import pytest

NPM_CACHE = os.environ.get("PYTRACE_NPM_CACHE", "/var/cache/pytrace/npm")
SPEEDSCOPE = os.path.join(NPM_CACHE, "node_modules", "speedscope", "dist", "release")
SCHEMA = os.path.join(SPEEDSCOPE, "file-format-schema.json")
AJV = os.path.join(NPM_CACHE, "node_modules", "ajv")
TIMEOUT = 120


def _need(path_or_cmd, why):
    if os.path.isabs(path_or_cmd):
        if not os.path.exists(path_or_cmd):
            pytest.skip("%s: %s missing (%s)" % (why, path_or_cmd, "run tools/install-consumers"))
        return path_or_cmd
    found = shutil.which(path_or_cmd)
    if not found:
        pytest.skip("%s: %s not found (run tools/ensure-deps as root)" % (why, path_or_cmd))
    return found


# --- pprof -----------------------------------------------------------------

def pprof_raw(path):
    """go tool pprof -raw: (sample type names, [(values, location ids)],
    {location id: function name})."""
    go = _need("go", "go tool pprof")
    out = subprocess.run([go, "tool", "pprof", "-raw", path], capture_output=True, text=True,
                         timeout=TIMEOUT, env=dict(os.environ, HOME=os.environ.get("HOME", "/tmp")))
    assert out.returncode == 0, "go tool pprof -raw failed:\n%s" % out.stderr
    lines = out.stdout.splitlines()
    types, samples, names, section = [], [], {}, None
    for line in lines:
        if line.startswith("Samples:"):
            section = "head"
            continue
        if line.startswith("Locations"):
            section = "loc"
            continue
        if line.startswith("Mappings"):
            section = None
            continue
        if section == "head":
            types = [t.split("/")[0].replace("[dflt]", "") for t in line.split()]
            section = "samples"
        elif section == "samples" and ":" in line:
            values, locs = line.split(":", 1)
            samples.append(([int(v) for v in values.split()], [int(l) for l in locs.split()]))
        elif section == "loc":
            m = re.match(r"\s*(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(.*)$", line)
            if m:
                names[int(m.group(1))] = m.group(2)
    return types, samples, names


def pprof_top_total(path, sample_index=None):
    """The total go tool pprof -top reports ("... of N total"), as text."""
    go = _need("go", "go tool pprof")
    args = [go, "tool", "pprof", "-top"]
    if sample_index:
        args.append("-sample_index=%s" % sample_index)
    out = subprocess.run(args + [path], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, "go tool pprof -top failed:\n%s" % out.stderr
    m = re.search(r"of ([0-9.]+)(\w*) total", out.stdout)
    assert m, "no total in go tool pprof -top:\n%s" % out.stdout
    return m.group(1), m.group(2), out.stdout


# --- speedscope ------------------------------------------------------------

def speedscope_validate(path):
    """Validates against the JSON schema speedscope's npm package ships:
    None, or ajv's errors."""
    node = _need("node", "speedscope schema check")
    _need(SCHEMA, "speedscope schema check")
    _need(AJV, "speedscope schema check")
    script = ("const Ajv = require(%r); const fs = require('fs');"
              "const ajv = new Ajv({allErrors: true, strict: false});"
              "const v = ajv.compile(JSON.parse(fs.readFileSync(%r)));"
              "if (!v(JSON.parse(fs.readFileSync(%r)))) {"
              " console.log(JSON.stringify(v.errors.slice(0, 5))); process.exit(1); }"
              % (AJV, SCHEMA, os.path.abspath(path)))
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=TIMEOUT)
    return None if out.returncode == 0 else (out.stdout + out.stderr)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory):
    """An HTTP server on localhost for directory; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=directory)
    with socketserver.TCPServer(("127.0.0.1", 0), handler) as httpd:
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            yield "http://127.0.0.1:%d" % httpd.server_address[1]
        finally:
            httpd.shutdown()


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("headless Chromium not found (apt-get install chromium)")


def _chromium_run(url, extra, workdir):
    args = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir=" + os.path.join(workdir, "profile"), "--enable-logging=stderr",
            "--v=0"] + extra + [url]
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)


def speedscope_load(path):
    """Loads the file in speedscope itself (served from the npm package on
    localhost) in headless Chromium: (ok, what it said). ok means the
    page's title became the profile's and speedscope logged no failure."""
    _need(os.path.join(SPEEDSCOPE, "index.html"), "speedscope in Chromium")
    browser_dir = tempfile.mkdtemp(prefix="pytrace-speedscope-")
    try:
        site = os.path.join(browser_dir, "site")
        shutil.copytree(SPEEDSCOPE, site)
        shutil.copy(path, os.path.join(site, "profile.json"))
        with serve(site) as base:
            out = _chromium_run("%s/index.html#profileURL=%s/profile.json" % (base, base),
                                ["--virtual-time-budget=4000", "--dump-dom"], browser_dir)
        title = re.search(r"<title>([^<]*)</title>", out.stdout)
        console = [l for l in out.stderr.splitlines() if "CONSOLE" in l]
        failed = [l for l in console if re.search(r"Failed|Uncaught|TypeError|Error:", l)]
        said = "title %r; console:\n%s" % (title.group(1) if title else None, "\n".join(console))
        ok = (title is not None and title.group(1).endswith(" - speedscope") and not failed and
              "Something went wrong" not in out.stdout and
              any("Importing as speedscope json file" in l for l in console))
        return ok, said
    finally:
        shutil.rmtree(browser_dir, True)


# --- SVG in Chromium -----------------------------------------------------------

def svg_render(path, png_path, width=1200, height=800, scale=1.0, fragment=""):
    """Renders the SVG in headless Chromium (one launch): (the DOM after
    its script ran, the screenshot's path); scale < 1 draws it smaller
    (fewer pixels to look at)."""
    browser_dir = tempfile.mkdtemp(prefix="pytrace-svg-")
    try:
        url = "file://" + os.path.abspath(path) + fragment
        out = _chromium_run(url, ["--hide-scrollbars", "--window-size=%d,%d" % (width, height),
                                  "--force-device-scale-factor=%g" % scale,
                                  "--screenshot=" + os.path.abspath(png_path), "--dump-dom"],
                            browser_dir)
        assert os.path.exists(png_path), "no screenshot:\n%s" % out.stderr[-2000:]
        return out.stdout
    finally:
        shutil.rmtree(browser_dir, True)


def png_pixels(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB/RGBA PNG (what
    Chromium writes), decoded here: the tests need no imaging library."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and not interlace, "PNG kind %d/%d" % (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xff
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xff
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows
