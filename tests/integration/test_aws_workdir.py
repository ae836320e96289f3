#!/usr/bin/env python3
"""The job's files travel with it, end to end against the local EC2+S3+IMDS endpoint (user data really run in its
sandbox): a `python3 train.py --input data/1.txt` job reads its inputs from the submit directory and its results
come back there; array tasks each bring back their own; a second submission uploads only the changed file;
.spawnignore is honoured; stage-in/stage-out and S3/EFS path mappings; the estimate shows the upload; a large
upload and a link leading outside the directory are refused before anything starts."""
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_aws_provider as base  # noqa: E402  (the endpoint fixture)
from test_aws_provider import BUCKET  # noqa: E402

TRAIN = """import argparse, os
p = argparse.ArgumentParser()
p.add_argument("--input")
a = p.parse_args()
text = open(a.input).read()
os.makedirs("results", exist_ok=True)
with open("results/out.txt", "w") as f:
    f.write("words=%d\\n" % len(text.split()))
print("trained on", a.input)
"""


class WorkdirCase(base.AwsProviderCase):
    def setUp(self):
        super().setUp()
        self.write("train.py", TRAIN)
        self.write("data/1.txt", "one two three\n")
        self.write("data/2.txt", "four five\n")

    def write(self, rel, text, mode=None):
        path = os.path.join(self.work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        if mode is not None:
            os.chmod(path, mode)

    def bucket_dir(self, bucket):
        d = os.path.join(self.dir, "ep", "s3", bucket)
        os.makedirs(d, exist_ok=True)
        return d

    def put(self, bucket, key, body):
        with open(os.path.join(self.bucket_dir(bucket), urllib.parse.quote(key, safe="")), "wb") as f:
            f.write(body)

    def get(self, bucket, key):
        with open(os.path.join(self.bucket_dir(bucket), urllib.parse.quote(key, safe="")), "rb") as f:
            return f.read()

    def blob_puts(self):
        return [c for c in self.ep.calls if c["action"].startswith(f"PUT /{BUCKET}/spawn/files/") and c["status"] == 200]

    def submit(self, *extra, check=True):
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes", *extra)
        if check:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p, (p.stdout.split("Submitted batch job ")[1].split()[0] if "Submitted batch job" in p.stdout else None)


class TravellingDirectory(WorkdirCase):
    def test_job_reads_its_inputs_and_its_results_come_back(self):
        self.write(".spawnignore", "# local only\n*.tmp\nscratch/\n!keep.tmp\n")
        self.write("big.tmp", "x" * 5000)
        self.write("keep.tmp", "kept\n")
        self.write("scratch/huge.bin", "y" * 5000)
        self.write("run.sh", "#!/bin/bash\necho run.sh ran\n", 0o755)
        os.symlink("data/1.txt", os.path.join(self.work, "latest.txt"))
        self.script("#!/bin/bash\n#SBATCH -t 5\n#SBATCH -J train\n"
                    "python3 train.py --input data/1.txt\n./run.sh\ncat latest.txt\ncat keep.tmp\n"
                    "[ -e big.tmp ] && echo big.tmp travelled; [ -e scratch ] && echo scratch travelled\n"
                    "echo changed > data/2.txt\n")
        _, job = self.submit()
        out = self.read(f"slurm-{job}.out")
        self.assertIn("trained on data/1.txt", out)
        self.assertIn("run.sh ran", out)  # its mode travelled
        self.assertIn("one two three", out)  # the link travelled as a link
        self.assertIn("kept", out)  # "!keep.tmp" re-included it
        self.assertNotIn("travelled", out)
        self.assertEqual(self.read("results/out.txt"), "words=3\n")
        self.assertEqual(self.read("data/2.txt"), "changed\n")
        # What went up: the listing names the files, never the ignored ones or the script's output of earlier runs.
        listing = self.get(BUCKET, f"spawn/jobs/{job}/workdir.listing").decode()
        paths = {line.split("\t")[5] for line in listing.splitlines()}
        self.assertTrue({"train.py", "data/1.txt", "keep.tmp", "run.sh", "latest.txt", ".spawnignore"} <= paths, paths)
        self.assertFalse({"big.tmp", "scratch", "scratch/huge.bin"} & paths, paths)
        # Only what the script created or changed came back (not the unchanged inputs, not the Slurm output).
        with tarfile.open(fileobj=io.BytesIO(self.get(BUCKET, f"spawn/jobs/{job}/tasks/0.1/back-1.tar.gz.000"))) as t:
            self.assertEqual(sorted(m.name for m in t.getmembers() if m.isfile()), ["data/2.txt", "results/out.txt"])
        self.assertNotIn(base.SECRET.encode(), self.get(BUCKET, f"spawn/jobs/{job}/workdir.listing"))
        self.assert_all_terminated()

    def test_what_the_job_deletes_or_links_is_so_here_after_it(self):
        """As on a cluster's shared file system: files the script deletes are gone after the job, links it makes are
        there; a file changed here while the job ran is kept, and the status says so."""
        self.write("old.txt", "obsolete\n")
        self.write("mine.txt", "as submitted\n")
        self.write("tmp/partial.dat", "partial\n")
        os.symlink("data/1.txt", os.path.join(self.work, "stale-link"))
        self.script("#!/bin/bash\n#SBATCH -t 5\n"
                    "rm old.txt mine.txt stale-link tmp/partial.dat\nmkdir -p results\necho r > results/run1.txt\n"
                    "ln -s results/run1.txt latest\nln -s /nonexistent/elsewhere dangling\nsleep 3\n")
        _, job = self.submit("--detach")
        # Running: the files went up (the detached supervisor uploads them before it launches).
        self.assertTrue(base.wait_for(lambda: json.loads(self.spawn("status", job, "--json", check=True).stdout)
                                      ["tasks"][0]["state"] == "RUNNING", 60))
        self.write("mine.txt", "changed here meanwhile\n")
        self.assertEqual(self.spawn("wait", job, timeout=120).returncode, 0)
        for gone in ("old.txt", "stale-link", "tmp/partial.dat"):
            self.assertFalse(os.path.lexists(os.path.join(self.work, gone)), gone)
        self.assertTrue(os.path.isdir(os.path.join(self.work, "tmp")), "directories stay")
        self.assertEqual(self.read("mine.txt"), "changed here meanwhile\n")
        self.assertEqual(os.readlink(os.path.join(self.work, "latest")), "results/run1.txt")
        self.assertEqual(self.read("latest"), "r\n")
        self.assertEqual(os.readlink(os.path.join(self.work, "dangling")), "/nonexistent/elsewhere")
        self.assertEqual(self.read("data/1.txt"), "one two three\n")
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual(task["state"], "COMPLETED", task)
        self.assertIn(os.path.join(self.work, "mine.txt") + ": deleted by the job, kept here (changed since the job "
                      "started)", task["reason"])
        self.assert_all_terminated()

    def test_array_tasks_each_bring_back_their_results(self):
        self.script("#!/bin/bash\n#SBATCH --array=0-3\n#SBATCH -t 5\n"
                    "mkdir -p results\necho task $SLURM_ARRAY_TASK_ID $(cat data/1.txt) > results/$SLURM_ARRAY_TASK_ID.txt\n")
        _, job = self.submit()
        for i in range(4):
            self.assertEqual(self.read(f"results/{i}.txt"), f"task {i} one two three\n")
        with tarfile.open(fileobj=io.BytesIO(self.get(BUCKET, f"spawn/jobs/{job}/tasks/2.1/back-1.tar.gz.000"))) as t:
            self.assertEqual([m.name for m in t.getmembers() if m.isfile()], ["results/2.txt"])
        self.assert_all_terminated()

    def test_second_submission_uploads_only_the_changed_file(self):
        self.write(".spawnignore", "results/\n")  # what came back from the first run does not go up again
        self.script("#!/bin/bash\n#SBATCH -t 5\npython3 train.py --input data/2.txt\n")
        self.submit()
        first = len(self.blob_puts())
        self.assertEqual(first, 5, "train.py, data/1.txt, data/2.txt, job.sbatch, .spawnignore")
        self.write("data/1.txt", "a new first input\n")
        _, job = self.submit()
        second = self.blob_puts()[first:]
        self.assertEqual(len(second), 1, second)
        self.assertEqual(self.read("results/out.txt"), "words=2\n")
        self.assert_all_terminated()

    def test_output_files_of_earlier_runs_stay_here(self):
        self.write("logs/train_7_1.out", "an earlier run\n")
        self.write("logs/notes.txt", "travels\n")
        self.script("#!/bin/bash\n#SBATCH -t 5\n#SBATCH -o logs/train_%A_%a.out\n#SBATCH --array=1\n"
                    "ls logs\n")
        _, job = self.submit()
        self.assertEqual(self.read(f"logs/train_{job}_1.out").split(), ["notes.txt", f"train_{job}_1.out"])

    def test_travel_off_keeps_the_directory_here(self):
        self.env["SPAWN_WORKDIR_TRAVEL"] = "false"
        self.script("#!/bin/bash\n#SBATCH -t 5\nls data 2>&1 || echo no data here\ntouch made-there\n")
        _, job = self.submit()
        self.assertIn("no data here", self.read(f"slurm-{job}.out"))
        self.assertEqual(self.blob_puts(), [])
        self.assertFalse(os.path.exists(os.path.join(self.work, "made-there")))

    def test_a_large_file_goes_up_in_parts_and_arrives_intact(self):
        # S3 refuses a single PUT above its limit (here lowered to 8 MiB): a 24 MiB input goes up as a multipart
        # upload in 5 MiB parts, read from disk one part at a time, and the job sees exactly its bytes.
        MiB = 1 << 20
        self.ep.config.max_put_bytes = 8 * MiB
        self.env.update(SPAWN_AWS_MULTIPART_THRESHOLD=str(8 * MiB), SPAWN_AWS_MULTIPART_PART_BYTES=str(5 * MiB))
        data = os.urandom(24 * MiB)
        with open(os.path.join(self.work, "data", "big.bin"), "wb") as f:
            f.write(data)
        sha = hashlib.sha256(data).hexdigest()
        self.write(".spawnignore", "results/\nslurm-*.out\n")
        self.script(f"#!/bin/bash\n#SBATCH -t 5\necho '{sha}  data/big.bin' | sha256sum -c\nstat -c %s data/big.bin\n")
        _, job = self.submit()
        out = self.read(f"slurm-{job}.out")
        self.assertIn("data/big.bin: OK", out)
        self.assertIn(str(24 * MiB), out)
        blob = f"/{BUCKET}/spawn/files/{sha}"

        def ops(name):
            return [c for c in self.ep.calls if c.get("operation") == name and c["action"].split(" ", 1)[1] == blob]
        self.assertEqual([c["status"] for c in ops("CreateMultipartUpload")], [200])
        self.assertEqual([c["status"] for c in ops("UploadPart")], [200] * 5)  # 4 x 5 MiB + 4 MiB
        self.assertEqual([c["status"] for c in ops("CompleteMultipartUpload")], [200])
        self.assertEqual(ops("PutObject"), [], "never one PUT for it")
        self.assertEqual(ops("AbortMultipartUpload"), [])
        self.assertEqual(self.get(BUCKET, f"spawn/files/{sha}"), data)
        # Submitted again: the blob is in S3, nothing of it goes up again.
        before = len(self.ep.calls)
        _, job = self.submit()
        self.assertIn("data/big.bin: OK", self.read(f"slurm-{job}.out"))
        again = [c for c in self.ep.calls[before:] if c["action"].endswith(blob)]
        self.assertEqual([c["operation"] for c in again if c["operation"] != "GetObject"], [], again)
        self.assert_all_terminated()


class LargeResults(WorkdirCase):
    def piece_puts(self, job, area=1):
        prefix = f"PUT /{BUCKET}/spawn/jobs/{job}/tasks/0.1/back-{area}.tar.gz."
        return [c for c in self.ep.calls if c["action"].startswith(prefix) and c["presigned"] and c["status"] == 200]

    def test_a_result_larger_than_a_piece_comes_back_whole(self):
        # 30 MiB of random bytes in 8 MiB pieces: several presigned PUTs, one stream for the client.
        self.env["SPAWN_AWS_BACK_PIECE_BYTES"] = str(8 << 20)
        self.ep.config.max_put_bytes = 8 << 20  # one PUT of the whole 30 MiB would be EntityTooLarge
        self.script("#!/bin/bash\n#SBATCH -t 5\nmkdir -p results\n"
                    "head -c 31457280 /dev/urandom > results/big.bin\nsha256sum results/big.bin > results/big.sha256\n")
        _, job = self.submit()
        want = self.read("results/big.sha256").split()[0]
        with open(os.path.join(self.work, "results/big.bin"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), want)
        self.assertEqual(os.path.getsize(os.path.join(self.work, "results/big.bin")), 31457280)
        puts = sorted(c["action"].rsplit(".", 1)[1] for c in self.piece_puts(job))
        self.assertEqual(puts, ["000", "001", "002", "003"])
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual(task["state"], "COMPLETED")
        self.assertNotIn("not brought back", task.get("reason") or "")
        self.assert_all_terminated()
        # The backstop followed the sending: 5 minutes and one 8 MiB piece's (at 20 MB/s, 1 more) from each piece on.
        [inst] = self.ep.instances.values()
        commands = [(e["command"], e["args"]) for e in inst.power_events]
        self.assertEqual(commands.count(("shutdown", ["-h", "+6"])), 4, commands)

    def test_more_pieces_than_presigned_is_a_clear_error_not_a_truncation(self):
        # 16 pieces of 64 KiB can bring back 1 MiB; 2 MiB of random bytes cannot come back and the status says so.
        self.env["SPAWN_AWS_BACK_PIECE_BYTES"] = "65536"
        self.script("#!/bin/bash\n#SBATCH -t 5\nhead -c 2097152 /dev/urandom > big.bin\necho small > small.txt\n")
        _, job = self.submit(check=False)
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertRegex(task["reason"], r"the files of \S+/work were not sent back: \d{7} bytes packed, more than the "
                                         r"16 pieces of 65536 bytes a task can send back")
        self.assertEqual(self.piece_puts(job), [])
        self.assertFalse(os.path.exists(os.path.join(self.work, "big.bin")))
        self.assertFalse(os.path.exists(os.path.join(self.work, "small.txt")))  # nothing half-way


class StageAndPaths(WorkdirCase):
    def test_stage_in_and_stage_out(self):
        self.put("lab-inputs", "inputs/a.txt", b"alpha\n")
        self.put("lab-inputs", "inputs/sub/b.txt", b"beta\n")
        self.put("lab-inputs", "other/c.txt", b"not staged\n")
        self.bucket_dir("lab-results")
        self.script("#!/bin/bash\n#SBATCH -t 5\n#SPAWN --stage-in s3://lab-inputs/inputs/ staged/\n"
                    "#SPAWN --stage-out out/ s3://lab-results/run1/\n"
                    "mkdir -p out\ncat staged/a.txt staged/sub/b.txt > out/ab.txt\nls staged > out/listing.txt\n")
        _, job = self.submit()
        self.assertEqual(self.get("lab-results", "run1/ab.txt"), b"alpha\nbeta\n")
        self.assertEqual(self.get("lab-results", "run1/listing.txt"), b"a.txt\nsub\n")
        # A stage-out's source goes to S3, not back into the directory; staged-in inputs unchanged stay there.
        self.assertFalse(os.path.exists(os.path.join(self.work, "out")))
        self.assertFalse(os.path.exists(os.path.join(self.work, "staged")))
        # The instance fetched the inputs through presigned URLs the client made.
        gets = [c for c in self.ep.calls if c["action"].startswith("GET /lab-inputs/inputs") and c["presigned"]]
        self.assertEqual(len(gets), 2)

    def test_bad_stage_directive_names_the_line(self):
        self.script("#!/bin/bash\n#SBATCH -t 5\n#SPAWN --stage-in data/ s3://lab/x/\necho\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('job.sbatch:3: #SPAWN --stage-in: expected an S3 URL (s3://BUCKET/PREFIX), got "data/"', p.stderr)

    def test_s3_path_mapping_syncs_down_and_up(self):
        scratch = os.path.join(self.dir, "cluster", "scratch")
        self.put("lab-scratch", "alice/ref.txt", b"reference\n")
        self.env["SPAWN_PATHS"] = f"{scratch}=s3://lab-scratch/alice/"
        self.script(f"#!/bin/bash\n#SBATCH -t 5\ncat {scratch}/ref.txt\necho made > {scratch}/made.txt\n")
        _, job = self.submit()
        self.assertIn("reference", self.read(f"slurm-{job}.out"))
        self.assertEqual(self.get("lab-scratch", "alice/made.txt"), b"made\n")
        # ref.txt was not changed, so it was not sent back.
        with tarfile.open(fileobj=io.BytesIO(self.get(BUCKET, f"spawn/jobs/{job}/tasks/0.1/back-2.tar.gz.000"))) as t:
            self.assertEqual([m.name for m in t.getmembers() if m.isfile()], ["made.txt"])

    def test_convert_names_the_mapping_of_a_cluster_path(self):
        self.env["SPAWN_PATHS"] = "/scratch/alice=s3://lab-scratch/alice/"
        self.script("#!/bin/bash\n#SBATCH -t 5\ncat /scratch/alice/ref.txt /project/x.txt\n")
        p = self.spawn("slurm", "convert", "job.sbatch", "-o", "params.yaml", check=True)
        self.assertIn("cluster path: job.sbatch:3: /scratch/alice/ref.txt (mapped by paths to s3://lab-scratch/alice/)",
                      p.stdout)
        self.assertIn("cluster path: job.sbatch:3: /project/x.txt (exists on the cluster only", p.stdout)

    def test_efs_path_mapping_is_mounted_or_the_task_fails_clearly(self):
        if shutil.which("mount.nfs4") or os.path.exists("/sbin/mount.nfs4"):
            self.skipTest("this machine has an NFS client: the mount would try to reach amazonaws.com")
        self.env["SPAWN_PATHS"] = "/efs-test-prefix=efs://fs-0123456789abcdef0/alice"
        self.script("#!/bin/bash\n#SBATCH -t 5\necho should not run\n")
        p, job = self.submit(check=False)
        self.assertNotEqual(p.returncode, 0)
        [task] = json.loads(self.spawn("status", job, "--json", check=True).stdout)["tasks"]
        self.assertEqual(task["state"], "FAILED")
        self.assertIn("cannot mount fs-0123456789abcdef0.efs.us-east-1.amazonaws.com:/alice at /efs-test-prefix",
                      task["reason"])
        self.assertFalse(os.path.exists("/efs-test-prefix") and os.path.ismount("/efs-test-prefix"))
        self.assert_all_terminated()


class BeforeAnythingStarts(WorkdirCase):
    def test_estimate_shows_the_upload(self):
        self.write(".spawnignore", "data/2.txt\n")
        self.script("#!/bin/bash\n#SBATCH -t 10\npython3 train.py --input data/1.txt\n")
        p = self.spawn("slurm", "estimate", "job.sbatch", "--json", check=True)
        w = json.loads(p.stdout)["workdir"]
        sizes = [os.path.getsize(os.path.join(self.work, f)) for f in ("train.py", "data/1.txt", ".spawnignore", "job.sbatch")]
        self.assertEqual((w["files"], w["bytes"], w["travel"]), (4, sum(sizes), True))
        text = self.spawn("slurm", "estimate", "job.sbatch", check=True).stdout
        self.assertIn(f"Working directory:       {self.work}: 4 files, {sum(sizes)} bytes travel with the job", text)

    def test_large_upload_is_refused_without_yes(self):
        self.env["SPAWN_WORKDIR_CONFIRM_ABOVE"] = "1M"
        self.write("weights.bin", "w" * (2 << 20))
        self.script("#!/bin/bash\n#SBATCH -t 5\necho hi\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"the working directory {self.work} uploads 5 files, 2.0 MiB (above workdir.confirm_above = 1M;",
                      p.stderr)
        self.assertIn("no terminal to confirm on (pass --yes", p.stderr)
        self.assertEqual(len(self.ep.instances), 0)
        self.assertEqual(self.blob_puts(), [])

    def test_link_leading_outside_is_refused(self):
        os.symlink("/etc/hostname", os.path.join(self.work, "host"))
        self.script("#!/bin/bash\n#SBATCH -t 5\necho hi\n")
        p = self.spawn("slurm", "submit", "job.sbatch", "--provider", "aws", "--yes")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"spawn: error: {self.work}/host -> /etc/hostname: the link leads outside the working directory "
                      f"{self.work}; add it to .spawnignore, or map its prefix with `paths` in the config\n", p.stderr)
        self.assertEqual(len(self.ep.instances), 0)


if __name__ == "__main__":
    base.main()
