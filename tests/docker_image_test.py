"""Checks deploy/docker/Dockerfile offline (no Docker engine runs here).

- The image ships exactly the programs the entry point offers, each built from
  an existing Bazel target (the test's data builds every one of them).
- The runtime stage installs the Debian package of every shared library `ldd`
  reports for those binaries (mapped with `dpkg -S` now, so a new dependency
  breaks the test).
- The build stage installs the packages of tools/bootstrap.sh (by running it)
  on the same Debian release as the runtime stage, and the image runs as a
  non-root user.
- The entry point starts the program its first argument names.
"""
import os
import re
import shlex
import shutil
import subprocess
import unittest

import mq_test_support as support

# Program name in the image -> Bazel target.
PROGRAMS = {
    "namesrv": "//services/namesrv:namesrv",
    "broker": "//services/broker:broker",
    "store": "//services/store:store",
    "standalone": "//services/standalone:standalone",
    "proxy": "//services/proxy:proxy",
    "mqadmin": "//tools/mqadmin:mqadmin",
}


def target_path(target):
    """//pkg:name -> pkg/name, where Bazel puts the binary."""
    package, _, name = target.lstrip("/").partition(":")
    return f"{package}/{name}"


class Dockerfile:
    """The instructions of a Dockerfile, grouped by stage."""

    def __init__(self, text):
        text = re.sub(r"\\\n", " ", text)
        self.args = {}
        self.stages = []  # [{"name", "image", "instructions": [(op, rest)]}]
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            op, _, rest = line.partition(" ")
            op = op.upper()
            if op == "ARG" and not self.stages:
                name, _, default = rest.partition("=")
                self.args[name] = default
            elif op == "FROM":
                words = rest.split()
                image = re.sub(r"\$\{(\w+)\}", lambda m: self.args[m.group(1)], words[0])
                name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
                self.stages.append({"name": name, "image": image, "instructions": []})
            else:
                self.stages[-1]["instructions"].append((op, rest.strip()))

    def runs(self, stage):
        return " && ".join(rest for op, rest in stage["instructions"] if op == "RUN")


def apt_packages(run_text):
    """Package names after `apt-get install` and its options."""
    match = re.search(r"apt-get install((?:\s+[^&;|]+)+)", run_text)
    if not match:
        return set()
    return {word for word in match.group(1).split() if not word.startswith("-")}


def ldd_libraries(binary):
    out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, text=True, check=True).stdout
    missing = [line for line in out.splitlines() if "not found" in line]
    if missing:
        raise AssertionError(f"{binary}: unresolved libraries {missing}")
    return sorted({m.group(1) for m in re.finditer(r"=> (/\S+)", out)})


def debian_packages(paths):
    """{path: Debian package owning it}, for the /usr-merged or the real path.

    One dpkg call for all paths: dpkg reads its whole database on each call.
    """
    candidates = {}
    for path in paths:
        options = {path, os.path.realpath(path)}
        for option in list(options):
            if option.startswith("/usr/lib/"):
                options.add(option[len("/usr"):])
            elif option.startswith("/lib/"):
                options.add("/usr" + option)
        candidates[path] = options
    queried = sorted(set().union(*candidates.values()))
    out = subprocess.run(["dpkg", "-S"] + queried, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    owner = {}
    for line in out.splitlines():
        packages, _, owned = line.partition(": ")
        owner[owned.strip()] = packages.split(",")[0].split(":")[0].strip()
    result = {}
    for path, options in candidates.items():
        found = [owner[o] for o in options if o in owner]
        if not found:
            raise AssertionError(f"no Debian package owns {path}")
        result[path] = found[0]
    return result


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(support.runfile("deploy/docker/Dockerfile")) as f:
            cls.dockerfile = Dockerfile(f.read())
        cls.build = cls.dockerfile.stages[0]
        cls.runtime = cls.dockerfile.stages[-1]

    def test_stages_are_debian_12(self):
        self.assertGreaterEqual(len(self.dockerfile.stages), 2)
        for stage in self.dockerfile.stages:
            self.assertRegex(stage["image"], r"^debian:(12|bookworm)(-slim)?$")

    def test_build_stage_uses_the_bootstrap_packages_and_builds_every_program(self):
        runs = self.dockerfile.runs(self.build)
        self.assertIn("bash tools/bootstrap.sh", runs)
        built = set(re.findall(r"(//[\w/]+:\w+)", runs))
        self.assertEqual(built, set(PROGRAMS.values()))
        copied = set(re.findall(r"bazel-bin/(\S+)", runs))
        self.assertEqual(copied, {target_path(t) for t in PROGRAMS.values()})

    def test_runtime_stage_holds_only_the_programs(self):
        copies = [rest for op, rest in self.runtime["instructions"] if op == "COPY"]
        from_build = {}
        for rest in copies:
            words = shlex.split(rest)
            if f"--from={self.build['name']}" in words:
                sources = [w for w in words if not w.startswith("--")]
                from_build[os.path.basename(sources[0])] = sources[1]
        self.assertEqual(sorted(from_build), sorted(PROGRAMS))
        for program, destination in from_build.items():
            self.assertEqual(destination, f"/usr/local/bin/{program}")
        # Every program is really built by Bazel (the test's data lists them all).
        for target in PROGRAMS.values():
            self.assertTrue(os.access(support.runfile(target_path(target)), os.X_OK), target)

    def test_runs_as_a_non_root_user(self):
        users = [rest for op, rest in self.runtime["instructions"] if op == "USER"]
        self.assertTrue(users, "no USER in the runtime stage")
        uid = users[-1].split(":")[0]
        self.assertNotIn(uid, ("0", "root"))
        self.assertIn(f"--uid {uid}", self.dockerfile.runs(self.runtime))
        entrypoint = [rest for op, rest in self.runtime["instructions"] if op == "ENTRYPOINT"]
        self.assertEqual(entrypoint, ['["/usr/local/bin/mq-entrypoint"]'])

    @unittest.skipIf(shutil.which("dpkg") is None or shutil.which("ldd") is None,
                     "dpkg or ldd missing: not a Debian system, cannot map libraries to packages")
    def test_runtime_packages_cover_every_linked_library(self):
        installed = apt_packages(self.dockerfile.runs(self.runtime))
        self.assertTrue(installed, "the runtime stage installs no packages")
        libraries = {library for target in PROGRAMS.values()
                     for library in ldd_libraries(support.runfile(target_path(target)))}
        needed = {}
        for library, package in debian_packages(libraries).items():
            needed.setdefault(package, set()).add(os.path.basename(library))
        missing = {p: sorted(libs) for p, libs in needed.items() if p not in installed}
        self.assertFalse(missing, f"the runtime stage lacks packages for {missing}")
        # Nothing beyond what the binaries link.
        self.assertEqual(sorted(installed - set(needed)), [])


class EntrypointTest(unittest.TestCase):
    def setUp(self):
        self.bin_dir = support.temp_dir("bin")
        for program, target in PROGRAMS.items():
            os.symlink(support.runfile(target_path(target)), os.path.join(self.bin_dir, program))
        self.script = support.runfile("deploy/docker/entrypoint.sh")

    def run_entrypoint(self, *args):
        return subprocess.run(["sh", self.script] + list(args),
                              env=dict(os.environ, MQ_BIN_DIR=self.bin_dir),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=60)

    def test_offers_exactly_the_programs(self):
        with open(self.script) as f:
            arms = re.search(r"^\s*([\w |]+)\)\s*\n\s*exec", f.read(), re.M).group(1)
        self.assertEqual(sorted(a.strip() for a in arms.split("|")), sorted(PROGRAMS))

    def test_starts_the_named_program(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                # The servers' absl usage starts "<program>: ..."; mqadmin
                # without a command prints "usage: mqadmin <command> ...".
                args = [] if program == "mqadmin" else ["--helpfull"]
                result = self.run_entrypoint(program, *args)
                self.assertRegex(result.stdout, rf"(?m)^(usage: )?{program}[: ]", result.stdout[:500])

    def test_refuses_an_unknown_program(self):
        self.assertEqual(self.run_entrypoint().returncode, 2)
        result = self.run_entrypoint("nameserver")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown program 'nameserver'", result.stdout)
