# SPDX-License-Identifier: MIT
"""The CPython interpreters on this machine: the system python3 and every
pyenv install. Shared by the benchmarks."""
import glob
import os
import shutil
import subprocess


def pyenv_root():
    if shutil.which("pyenv"):
        try:
            return subprocess.check_output(["pyenv", "root"], text=True).strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))


def version_of(python):
    out = subprocess.check_output(
        [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], text=True)
    return out.strip()


def find_pythons():
    """[(label, path)]: 'system-3.11.2' first, then pyenv versions in order."""
    found = []
    if os.path.exists("/usr/bin/python3"):
        found.append(("system-" + version_of("/usr/bin/python3"), "/usr/bin/python3"))
    paths = glob.glob(os.path.join(pyenv_root(), "versions", "*", "bin", "python"))
    def key(p):
        v = os.path.basename(os.path.dirname(os.path.dirname(p)))
        return [int(x) if x.isdigit() else 0 for x in v.split(".")]
    for p in sorted(paths, key=key):
        found.append((version_of(p), p))
    return found
