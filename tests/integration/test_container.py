#!/usr/bin/env python3
"""Jobs with a container image (#SPAWN --container, the `container` key, a module mapped to an image) on the local
provider, against the built binary.

RealDocker: a private dockerd (containerlib.py; skipped, with the reason, only when it cannot start) and an image
made offline. The script runs inside the image (its /etc/os-release, a file only the image has), reads its input
from the working directory and writes its results back there, srun and module work inside, the job's environment
is there, the exit code comes back; cancel and a time limit end the container (none is left: `docker ps -a`).
A runtime killed outright (SIGKILL) leaves no container either: the provider removes it.
Always: the clear error when no container runtime can run the image; the exact command lines of docker, podman
and apptainer (GPUs included) through recorded fakes on PATH that run the command (no Podman or Apptainer here, and
no GPU: those real paths are untested); `slurm convert` shows the image and the runtime, and the parameter file
launches the same.

Usage: test_container.py --spawn build/spawn [unittest options]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import containerlib  # noqa: E402
from spawnlib import time_scale, wait_until  # noqa: E402

SPAWN = ""
IMAGE = "spawn-test/busybox-bash:1"


class Case(unittest.TestCase):
    docker_host = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spawn-container-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.work = os.path.join(self.dir, "work")
        os.makedirs(self.work)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SPAWN_", "SBATCH_", "SLURM_", "DOCKER_"))}
        self.env.update(SPAWN_HOME=os.path.join(self.dir, "home"), XDG_CONFIG_HOME=os.path.join(self.dir, "config"))
        if self.docker_host:
            self.env["DOCKER_HOST"] = self.docker_host

    def write(self, name, text, mode=None):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(text)
        if mode:
            os.chmod(path, mode)
        return path

    def read(self, name):
        with open(os.path.join(self.work, name)) as f:
            return f.read()

    def spawn(self, *args, timeout=120, check=False):
        p = subprocess.run([SPAWN, *args], cwd=self.work, env=self.env, capture_output=True, text=True,
                           timeout=timeout * time_scale(), stdin=subprocess.DEVNULL)
        if check:
            self.assertEqual(p.returncode, 0, f"spawn {' '.join(args)}\n{p.stdout}\n{p.stderr}")
        return p

    def status(self, job):
        return json.loads(self.spawn("status", str(job), "--json", check=True).stdout)

    def task(self, job):
        tasks = self.status(job)["tasks"]
        self.assertEqual(len(tasks), 1, tasks)
        return tasks[0]


class RealDocker(Case):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = containerlib.daemon_or_skip(IMAGE)
        cls.docker_host = cls.daemon.host

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()

    def assert_no_container_left(self):
        wait_until(lambda: not self.daemon.containers(), 30)

    def test_script_runs_inside_the_image_with_its_files_environment_and_exit_code(self):
        self.write("input.txt", "data from the working directory\n")
        self.write("job.sbatch", f"""#!/bin/bash
#SBATCH -J boxed
#SBATCH -t 5
#SPAWN --container {IMAGE}
. /etc/os-release
echo "os=$ID marker=$(cat {containerlib.IMAGE_MARKER}) job=$SLURM_JOB_ID name=$SLURM_JOB_NAME user_var=$JOB_TEST_VAR"
echo "pwd=$PWD uid=$(id -u)"
tr a-z A-Z < input.txt > result.txt
srun -n 2 bash -c 'echo "rank $SLURM_PROCID of $SLURM_NTASKS"' | sort
module load tool/1.0
echo "args $1 $2"
echo to-stderr >&2
exit 3
""")
        self.env["JOB_TEST_VAR"] = "passed-in"
        p = self.spawn("slurm", "submit", "job.sbatch", "one", "two")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        job = p.stdout.split("Submitted batch job ")[1].split()[0]
        out = self.read(f"slurm-{job}.out")
        self.assertIn(f"os={containerlib.IMAGE_OS_ID} marker=inside the image job={job} name=boxed user_var=passed-in",
                      out)
        self.assertIn(f"pwd={self.work} uid={os.getuid()}\n", out)
        self.assertIn("rank 0 of 2\nrank 1 of 2\n", out)
        self.assertIn("spawn: module: 'tool/1.0' is not mapped", out)
        self.assertIn("args one two\n", out)
        self.assertIn("to-stderr\n", out)
        self.assertEqual(self.read("result.txt"), "DATA FROM THE WORKING DIRECTORY\n")
        st = os.stat(os.path.join(self.work, "result.txt"))
        self.assertEqual((st.st_uid, st.st_gid), (os.getuid(), os.getgid()))
        task = self.task(job)
        self.assertEqual((task["state"], task["exit_code"]), ("FAILED", 3), task)
        self.assert_no_container_left()
        # The host is not the image: the same commands outside it see the machine.
        with open("/etc/os-release") as f:
            self.assertNotIn(f"ID={containerlib.IMAGE_OS_ID}", f.read())

    def test_cancel_sends_term_into_the_container_and_removes_it(self):
        self.write("job.sbatch", f"""#!/bin/bash
#SPAWN --container {IMAGE}
trap 'echo "got TERM in $(cat {containerlib.IMAGE_MARKER})"; exit 0' TERM
echo started
sleep 300 &
wait
echo never
""")
        sub = json.loads(self.spawn("slurm", "submit", "job.sbatch", "--detach", "--json", check=True).stdout)
        job = sub["job_id"]
        wait_until(lambda: [c for c in self.daemon.containers() if c.startswith(f"spawn-{job}-") and " Up " in f" {c} "])
        wait_until(lambda: "started" in self.read(f"slurm-{job}.out"), 30)
        self.spawn("cancel", str(job), check=True)
        self.assertNotEqual(self.spawn("wait", str(job), timeout=90).returncode, 0)
        self.assertEqual(self.task(job)["state"], "CANCELLED")
        out = self.read(f"slurm-{job}.out")
        self.assertIn("got TERM in inside the image", out)
        self.assertNotIn("never", out)
        self.assert_no_container_left()

    def test_a_runtime_killed_outright_leaves_no_container(self):
        self.write("job.sbatch", f"#!/bin/bash\n#SPAWN --container {IMAGE}\necho started\nsleep 300\n")
        job = json.loads(self.spawn("slurm", "submit", "job.sbatch", "--detach", "--json", check=True).stdout)["job_id"]
        wait_until(lambda: any(c.startswith(f"spawn-{job}-") for c in self.daemon.containers()))
        claim = os.path.join(self.dir, "home", "jobs", str(job), "0.1", "claim")
        with open(claim) as f:
            runtime_pid = int(f.read().split(":")[0])
        os.kill(runtime_pid, 9)  # no trap, no cleanup: the provider finds the runtime gone
        self.spawn("wait", str(job), timeout=90)
        task = self.task(job)
        self.assertEqual(task["state"], "FAILED", task)
        self.assertIn("ended without writing an exit status", task["reason"])
        self.assert_no_container_left()

    def test_time_limit_ends_the_container(self):
        self.write("job.sbatch", f"""#!/bin/bash
#SBATCH -t 1
#SPAWN --container {IMAGE}
echo started
sleep 300
echo never
""")
        self.spawn("slurm", "convert", "job.sbatch", "-o", "job.json", check=True)
        with open(os.path.join(self.work, "job.json")) as f:
            params = json.load(f)
        self.assertEqual(params["defaults"]["container"], IMAGE)
        # A minute is the least a script can ask for. The limit counts from the runtime's start, before `docker run`
        # has made and started the container: 6 s leave a loaded machine the time to get to "started".
        params["job"]["time_limit"] = "6s"
        self.write("job.json", json.dumps(params))
        t0 = time.time()
        p = self.spawn("launch", "--param-file", "job.json", timeout=120)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertLess(time.time() - t0, 60 * time_scale(), "SIGTERM at the limit ends `sleep` in the container at once")
        job = p.stdout.split("Submitted batch job ")[1].split()[0] if "Submitted batch job " in p.stdout else "1"
        task = self.task(job)
        self.assertEqual(task["state"], "TIMEOUT", task)
        out = self.read(f"slurm-{job}.out")
        self.assertIn("started", out)
        self.assertIn("DUE TO TIME LIMIT", out)
        self.assertNotIn("never", out)
        self.assert_no_container_left()


class WithoutARuntime(Case):
    def test_docker_whose_daemon_is_unreachable_is_a_clear_error_before_launch(self):
        self.write("job.sbatch", "#!/bin/bash\n#SPAWN --container python:3.11\necho hi\n")
        self.env["DOCKER_HOST"] = "unix://" + os.path.join(self.dir, "no-daemon.sock")
        self.env["SPAWN_CONTAINER_RUNTIME"] = "docker"
        p = self.spawn("slurm", "submit", "job.sbatch")
        self.assertEqual(p.returncode, 1)
        if shutil.which("docker", path=self.env["PATH"]):
            why = (f"docker does not work here: Cannot connect to the Docker daemon at unix://{self.dir}/no-daemon.sock."
                   " Is the docker daemon running?")
        else:
            why = "docker is not installed"
        self.assertIn("spawn: error: job.sbatch: job \"job.sbatch\": container image python:3.11: no container runtime "
                      f"can run it on this machine ({os.uname().nodename.split('.')[0]}): {why}; install and start "
                      "Docker, Podman or Apptainer (container_runtime chooses one), or use another provider "
                      "(--provider aws)\n", p.stderr)
        self.assertNotIn("Submitted", p.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.work, "slurm-1.out")), "nothing ran")

    def test_missing_apptainer_is_named(self):
        bin_dir = os.path.join(self.dir, "bin")
        os.makedirs(bin_dir)
        self.env["PATH"] = bin_dir + ":/usr/bin:/bin"
        if shutil.which("apptainer", path=self.env["PATH"]) or shutil.which("singularity", path=self.env["PATH"]):
            self.skipTest("Apptainer is installed here")
        self.write("job.sbatch", "#!/bin/bash\n#SPAWN --container python:3.11 --container-runtime apptainer\necho hi\n")
        p = self.spawn("slurm", "submit", "job.sbatch")
        self.assertEqual(p.returncode, 1)
        self.assertIn(": container image python:3.11: no container runtime can run it on this machine (", p.stderr)
        self.assertIn("): apptainer is not installed; singularity is not installed; install", p.stderr)

    def test_unknown_runtime_names_the_setting(self):
        self.write("job.sbatch", "#!/bin/bash\n#SPAWN --container python:3.11 --container-runtime lxc\necho hi\n")
        p = self.spawn("slurm", "submit", "job.sbatch")
        self.assertEqual(p.returncode, 1)
        self.assertIn("job.sbatch:2: --container-runtime: expected docker, podman, apptainer or auto, got \"lxc\"",
                      p.stderr)


FAKE_APPTAINER = """#!/bin/bash
# A recorded stand-in for apptainer: writes its command line (NUL-separated) and PATH prefix, then runs the command
# as `apptainer exec` would (in --pwd, with APPTAINERENV_PREPEND_PATH first on the image's PATH).
if [[ $1 == --version ]]; then echo "apptainer version 1.2.5-fake"; exit 0; fi
printf '%s\\0' "$@" > "$FAKE_APPTAINER_LOG"
[[ $1 == exec ]] || exit 64
shift
pwd=$PWD
while [[ $1 == --* ]]; do
  case $1 in
  --pwd) pwd=$2; shift 2 ;;
  --bind) shift 2 ;;
  --nv) shift ;;
  *) exit 65 ;;
  esac
done
shift  # the image
cd "$pwd" || exit 66
export PATH=$APPTAINERENV_PREPEND_PATH:/usr/bin:/bin
exec "$@"
"""


FAKE_DAEMON_TOOL = """#!/bin/bash
# A recorded stand-in for docker/podman: answers version/info/image inspect, records `run`'s command line
# (NUL-separated) and runs its command in its -w directory, as the container would.
case $1 in
version | info) echo "fake"; exit 0 ;;
image) [[ $3 == --format ]] && printf 'HOME=/root\\nPATH=/opt/image/bin:/usr/bin:/bin\\n'; exit 0 ;;
inspect) exit 1 ;;
rm) exit 0 ;;
run) ;;
*) exit 64 ;;
esac
printf '%s\\0' "$@" > "$FAKE_TOOL_LOG"
shift
dir=$PWD
while [[ $1 == -* ]]; do
  case $1 in
  --rm | --sig-proxy=false | -i) shift ;;
  -w) dir=$2; shift 2 ;;
  -e) [[ $2 == PATH=* ]] && export "$2"; shift 2 ;;
  *) shift 2 ;;
  esac
done
shift  # the image
cd "$dir" || exit 66
exec "$@"
"""


class FakeTools(Case):
    """The exact command lines for docker, podman and apptainer, GPUs included (no GPU here: the task directory
    of a run is given CUDA_VISIBLE_DEVICES=0,1 as a GPU job's is, and its runtime run again)."""

    def tool(self, name, text):
        bin_dir = os.path.join(self.dir, "fakebin")
        os.makedirs(bin_dir, exist_ok=True)
        with open(os.path.join(bin_dir, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(bin_dir, name), 0o755)
        self.log = os.path.join(self.dir, name + ".args")
        self.env.update(PATH=bin_dir + ":" + self.env["PATH"], FAKE_TOOL_LOG=self.log, FAKE_APPTAINER_LOG=self.log)
        self.env.pop("DOCKER_HOST", None)

    def args(self):
        with open(self.log) as f:
            return f.read().split("\0")[:-1]

    def rerun_with_gpus(self, task_dir):
        with open(os.path.join(task_dir, "job.env"), "ab") as f:
            f.write(b"CUDA_VISIBLE_DEVICES=0,1\0")
        for name in ("marker", "claim", "uses-claim"):  # a fresh attempt in the same directory
            os.remove(os.path.join(task_dir, name))
        os.remove(self.log)
        r = subprocess.run(["bash", os.path.join(task_dir, "runtime.sh"), "run", task_dir], env=self.env,
                           capture_output=True, text=True, timeout=60 * time_scale())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return self.args()

    def test_docker_run_command_line(self):
        self.tool("docker", FAKE_DAEMON_TOOL)
        self.env["JOB_TEST_VAR"] = "multi\nline"
        self.write("job.sbatch", "#!/bin/bash\n#SPAWN --container img:1 --container-runtime docker\n"
                                 "printf '%s|' \"$PWD\" \"$PATH\" \"$JOB_TEST_VAR\" \"$1\"\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "x y")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        task_dir = os.path.join(self.dir, "home", "jobs", "1", "0.1")
        cksum = subprocess.run(["cksum"], input=task_dir, capture_output=True, text=True).stdout.split()[0]
        argv = self.args()
        envs = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
        head = [a for i, a in enumerate(argv) if a != "-e" and (i == 0 or argv[i - 1] != "-e")]
        self.assertEqual(head, ["run", "--rm", "--name", f"spawn-1-{cksum}", "--network", "host", "--pid", "host",
                                "--sig-proxy=false", "--entrypoint", "", "-v", f"{task_dir}:{task_dir}", "-w", self.work,
                                "-v", f"{self.work}:{self.work}", "--user", f"{os.getuid()}:{os.getgid()}", "img:1",
                                f"{task_dir}/slurm_script", "x y"])
        self.assertEqual(envs[-1], f"PATH={task_dir}/bin:/opt/image/bin:/usr/bin:/bin")
        self.assertIn("SLURM_JOB_ID", envs)
        self.assertIn("JOB_TEST_VAR", envs)
        self.assertIn("BASH_FUNC_module%%", envs)
        self.assertNotIn("PATH", envs)
        self.assertEqual(self.read("slurm-1.out"),
                         f"{self.work}|{task_dir}/bin:/opt/image/bin:/usr/bin:/bin|multi\nline|x y|")
        gpu = self.rerun_with_gpus(task_dir)
        self.assertIn("--gpus", gpu)
        self.assertEqual(gpu[gpu.index("--gpus") + 1], '"device=0,1"')

    def test_podman_gpus_are_cdi_devices(self):
        self.tool("podman", FAKE_DAEMON_TOOL)
        self.write("job.sbatch", "#!/bin/bash\n#SPAWN --container img:1 --container-runtime podman\necho ok\n")
        p = self.spawn("slurm", "submit", "job.sbatch")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.args()[0], "run")
        gpu = self.rerun_with_gpus(os.path.join(self.dir, "home", "jobs", "1", "0.1"))
        devices = [gpu[i + 1] for i, a in enumerate(gpu) if a == "--device"]
        self.assertEqual(devices, ["nvidia.com/gpu=0", "nvidia.com/gpu=1"])
        self.assertNotIn("--gpus", gpu)

    def test_apptainer_exec_command_line_and_run(self):
        self.tool("apptainer", FAKE_APPTAINER)
        self.env["JOB_TEST_VAR"] = "kept"
        self.write("job.sbatch", """#!/bin/bash
#SPAWN --container bio/tool:2.1 --container-runtime apptainer
echo "in $PWD var=$JOB_TEST_VAR job=$SLURM_JOB_ID path0=${PATH%%:*}"
srun -n 2 bash -c 'echo rank $SLURM_PROCID' | sort
exit 4
""")
        p = self.spawn("slurm", "submit", "job.sbatch", "a1")
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        argv = self.args()
        task_dir = os.path.join(self.dir, "home", "jobs", "1", "0.1")
        self.assertTrue(os.path.isdir(task_dir), os.listdir(os.path.join(self.dir, "home", "jobs", "1")))
        self.assertEqual(argv, ["exec", "--bind", task_dir, "--bind", self.work, "--pwd", self.work,
                                "docker://bio/tool:2.1", task_dir + "/slurm_script", "a1"])
        out = self.read("slurm-1.out")
        self.assertIn(f"in {self.work} var=kept job=1 path0={task_dir}/bin\n", out)
        self.assertIn("rank 0\nrank 1\n", out)
        self.assertEqual(self.task(1)["exit_code"], 4)

    def test_apptainer_gets_nv_for_gpus(self):
        self.tool("apptainer", FAKE_APPTAINER)
        self.write("job.sbatch", "#!/bin/bash\n#SPAWN --container /images/tool.sif --container-runtime apptainer\n"
                                 "echo ok\n")
        p = self.spawn("slurm", "submit", "job.sbatch")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        task_dir = os.path.join(self.dir, "home", "jobs", "1", "0.1")
        self.assertNotIn("--nv", self.args())
        self.assertEqual(self.rerun_with_gpus(task_dir),
                         ["exec", "--bind", task_dir, "--bind", self.work, "--pwd", self.work, "--nv", "/images/tool.sif",
                          task_dir + "/slurm_script"])


class Convert(Case):
    def test_module_mapped_to_an_image_becomes_the_container_and_round_trips(self):
        self.write("mapping.yaml", "modules:\n  bio/bwa:\n    container: quay.io/biocontainers/bwa:0.7.17\n"
                                   "  bio/samtools:\n    container: quay.io/biocontainers/samtools:1.17\n")
        self.write("job.sbatch", "#!/bin/bash\n#SPAWN --container-runtime podman\nmodule load bio/bwa\n"
                                 "module load bio/samtools\nbwa mem ref.fa reads.fq > out.sam\n")
        p = self.spawn("slurm", "convert", "job.sbatch", "--config", "mapping.yaml", "-o", "job.json", check=True)
        self.assertIn("mapped:      job.sbatch:3: module bio/bwa -> container quay.io/biocontainers/bwa:0.7.17\n",
                      p.stdout)
        self.assertIn("not honoured: job.sbatch:4: module load bio/samtools=quay.io/biocontainers/samtools:1.17: the "
                      "task runs in one image only: quay.io/biocontainers/bwa:0.7.17 (set `container` to choose)\n",
                      p.stdout)
        self.assertIn("from job.sbatch:2: container_runtime = podman\n", p.stdout)
        self.assertIn("container:   the batch script runs in quay.io/biocontainers/bwa:0.7.17 (container_runtime podman, "
                      "docs/runtime.md)\n", p.stdout)
        with open(os.path.join(self.work, "job.json")) as f:
            params = json.load(f)
        self.assertEqual(params["defaults"]["container"], "quay.io/biocontainers/bwa:0.7.17")
        self.assertEqual(params["defaults"]["container_runtime"], "podman")
        # The file reads back to the same plan.
        dry = self.spawn("launch", "--param-file", "job.json", "--dry-run", "--json", check=True)
        again = json.loads(dry.stdout)
        text = json.dumps(again)
        self.assertIn('"container": "quay.io/biocontainers/bwa:0.7.17"', text)
        self.assertIn('"container_runtime": "podman"', text)

    def test_bad_runtime_in_a_parameter_file_names_the_key(self):
        self.write("job.sbatch", "#!/bin/bash\n#SPAWN --container python:3.11\necho hi\n")
        self.spawn("slurm", "convert", "job.sbatch", "-o", "job.json", check=True)
        with open(os.path.join(self.work, "job.json")) as f:
            params = json.load(f)
        params["defaults"]["container_runtime"] = "rkt"
        self.write("job.json", json.dumps(params))
        p = self.spawn("launch", "--param-file", "job.json", "--dry-run")
        self.assertEqual(p.returncode, 1)
        self.assertIn("defaults.container_runtime: expected docker, podman, apptainer or auto, got \"rkt\"", p.stderr)


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    parser = argparse.ArgumentParser()
    parser.add_argument("--spawn", default=os.path.join(HERE, "..", "..", "build", "spawn"))
    args, rest = parser.parse_known_args()
    SPAWN = os.path.abspath(args.spawn)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
