"""Jobs on a real Spark cluster on the local cloud, with data in real Swift."""

from __future__ import annotations

import collections
import json
import random
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from swiftclient import client as swift_client

from heatdeploy.cloud.auth import load_cloud
from tests.functional.cloudtools import LocalCloud, heat_for
from tests.functional.test_launch import CLOUD, ROOT, heatdeploy, instance_pids, result_of

JOBS = Path(__file__).resolve().parent / "jobs"
TEXT = "the quick brown fox jumps over the lazy dog\nthe dog sleeps\n" * 50 + "quoted 'words' and \"more\"\n"


@pytest.fixture(scope="module")
def cluster(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    spec = yaml.safe_load((ROOT / "examples" / "spark.yaml").read_text())
    spec["name"] = "ft-jobs"
    spec["node_groups"][1]["count"] = 3  # three executors share the direct-read tests' splits
    path = tmp_path_factory.mktemp("jobs") / "ft-jobs.yaml"
    path.write_text(yaml.safe_dump(spec))
    heatdeploy("launch", str(path), "--os-cloud", CLOUD)
    try:
        yield "ft-jobs"
    finally:
        heatdeploy("delete", "ft-jobs", "--os-cloud", CLOUD, "--force", check=False)


@pytest.fixture(scope="module")
def swift(local_cloud: LocalCloud) -> swift_client.Connection:
    return swift_client.Connection(session=load_cloud(CLOUD).session)


def run_job(cluster: str, binary: Path, *args: str, check: bool = False) -> tuple[int, dict[str, Any]]:
    status, lines, _ = heatdeploy("job", "run", cluster, "--type", "spark", "--binary", str(binary),
                                  "--os-cloud", CLOUD, *args, check=check, timeout=900)
    return status, result_of(lines)


def test_word_count_reads_and_writes_swift(cluster: str, swift: swift_client.Connection) -> None:
    swift.put_container("ft-data")
    swift.put_object("ft-data", "books/book.txt", TEXT.encode())
    status, job = run_job(cluster, JOBS / "wordcount.py", "--input", "swift://ft-data/books/book.txt",
                          "--output", "swift://ft-results/wc", "--wait", "--", "{input}", "{output}")
    assert status == 0 and job["state"] == "SUCCEEDED", job
    _, body = swift.get_object("ft-results", "wc/counts.json")
    assert json.loads(body) == dict(collections.Counter(TEXT.split()))
    _, lines, _ = heatdeploy("job", "list", cluster, "--os-cloud", CLOUD)
    assert job["id"] in {j["id"] for j in result_of(lines)["jobs"]}


def words(seed: int, lines: int) -> str:
    rng = random.Random(seed)
    vocabulary = ["alpha", "beta", "gamma", "delta", "épsilon", "zeta", "eta", "theta"]
    return "".join(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 12))) + "\n"
                   for _ in range(lines))


def proxy_reads(local_cloud: LocalCloud, container: str, prefix: str, since: int) -> collections.Counter[str]:
    """Bytes the Swift proxy sent for GETs of objects under ``container/prefix``, per client address,
    from byte ``since`` of its log on."""
    sent: collections.Counter[str] = collections.Counter()
    marker = f"/{container}/{urllib.parse.quote(prefix)}"
    with local_cloud.state.log("swift-proxy").open("rb") as log:
        log.seek(since)
        text = log.read().decode(errors="replace")
    for line in text.splitlines():
        fields = line.split()  # proxy-server: client remote date method path protocol status ... sent ...
        if len(fields) > 12 and fields[0] == "proxy-server:" and fields[4] == "GET" and marker in fields[5]:
            sent[fields[1]] += int(fields[12]) if fields[12].isdigit() else 0
    return sent


def read_parts(swift: swift_client.Connection, container: str, prefix: str) -> tuple[list[str], list[str]]:
    """(object names under ``prefix``, every line of its part-* objects)."""
    objects = swift.get_container(container, prefix=prefix, full_listing=True)[1]
    lines = [line for o in objects if "/part-" in o["name"]
             for line in swift.get_object(container, o["name"])[1].decode().splitlines()]
    return [o["name"][len(prefix):] for o in objects], lines


def worker_addresses(cluster: str) -> set[str]:
    _, lines, _ = heatdeploy("status", cluster, "--os-cloud", CLOUD)
    return {i["fixed_ip"] for i in result_of(lines)["instances"] if "worker" in i["processes"]}


def test_executors_read_their_share_of_swift_and_write_parts(cluster: str, swift: swift_client.Connection,
                                                            local_cloud: LocalCloud) -> None:
    corpus = {"corpus/big.txt": words(1, 12000), "corpus/crlf.txt": "alpha beta\r\ngamma\r\n",
              "corpus/last.txt": "no line end at the end", "corpus/empty.txt": ""}
    swift.put_container("ft-direct")
    for name, text in corpus.items():
        swift.put_object("ft-direct", name, text.encode())
    size = sum(len(text.encode()) for text in corpus.values())
    assert len(corpus["corpus/big.txt"]) > 4 * 65536, "the big object spans several splits"
    since = local_cloud.state.log("swift-proxy").stat().st_size
    output = f"direct-{uuid.uuid4().hex[:6]}"
    status, job = run_job(cluster, JOBS / "wordcount_direct.py", "--input", "swift://ft-direct/corpus/",
                          "--output", f"swift://ft-results/{output}", "--wait", "--", "65536")
    assert status == 0 and job["state"] == "SUCCEEDED", job
    names, lines = read_parts(swift, "ft-results", f"{output}/")
    assert names == ["_SUCCESS", "part-00000", "part-00001", "part-00002"], names
    counts = {word: int(n) for word, n in (line.split("\t") for line in lines)}
    assert counts == dict(collections.Counter(" ".join(corpus.values()).split()))
    reads = proxy_reads(local_cloud, "ft-direct", "corpus/", since)
    assert set(reads) <= worker_addresses(cluster), f"only executors read the input: {reads}"
    assert len(reads) >= 2, f"the splits were read in parallel by several executors: {reads}"
    assert 1.0 <= sum(reads.values()) / size <= 1.05, f"each byte fetched about once: {reads}, input {size}"


def test_a_dataframe_aggregation_over_a_multi_object_input(cluster: str, swift: swift_client.Connection) -> None:
    rng = random.Random(3)
    sales = [(rng.choice(["Lyon", "Oslo", "Quito", "Pune"]), rng.randint(1, 500)) for _ in range(6000)]
    swift.put_container("ft-direct")
    for index in range(3):
        text = "".join(f"{city},{amount}\n" for city, amount in sales[index::3])
        swift.put_object("ft-direct", f"sales/day-{index}.csv", text.encode())
    output = f"totals-{uuid.uuid4().hex[:6]}"
    status, job = run_job(cluster, JOBS / "sales_by_city.py", "--input", "sales=swift://ft-direct/sales/",
                          "--output", f"totals=swift://ft-results/{output}/", "--wait", "--", "20000")
    assert status == 0 and job["state"] == "SUCCEEDED", job
    names, lines = read_parts(swift, "ft-results", f"{output}/")
    assert "_SUCCESS" in names
    totals: collections.Counter[str] = collections.Counter()
    for city, amount in sales:
        totals[city] += amount
    assert sorted(lines) == sorted(f"{city}\t{total}" for city, total in totals.items())


def test_a_shell_job_gets_its_temp_urls_in_its_environment(cluster: str, swift: swift_client.Connection,
                                                           tmp_path: Path) -> None:
    swift.put_container("ft-direct")
    swift.put_object("ft-direct", "shell/a.txt", b"one\ntwo\n")
    swift.put_object("ft-direct", "shell/b c.txt", b"three\n")
    script = tmp_path / "count.sh"
    # As the README shows it: the temp URLs reach curl on its standard input, not its command line.
    script.write_text("""set -e
sed 's/.*/url = "&"/' "$HEATDEPLOY_INPUT_URLS" | curl -fsS -K - | wc -l > lines.txt
printf 'url = "%s%s?%s"\\n' "$HEATDEPLOY_OUTPUT_URL" lines.txt "$HEATDEPLOY_OUTPUT_QUERY" | curl -fsS -T lines.txt -K -
""")
    output = f"shell-{uuid.uuid4().hex[:6]}"
    status, lines, _ = heatdeploy("job", "run", cluster, "--type", "shell", "--binary", str(script), "--os-cloud",
                                  CLOUD, "--input", "swift://ft-direct/shell/", "--output",
                                  f"swift://ft-results/{output}", "--wait", check=False, timeout=300)
    assert status == 0, lines
    assert swift.get_object("ft-results", f"{output}/lines.txt")[1].strip() == b"3"
    status, lines, _ = heatdeploy("job", "run", cluster, "--type", "shell", "--binary", str(script), "--os-cloud",
                                  CLOUD, "--input", "swift://ft-direct/shell/", "--output",
                                  f"swift://ft-results/{output}", check=False, timeout=300)
    assert (status, result_of(lines)["message"]) == (
        1, f"output swift://ft-results/{output} already holds objects: give the job a new output path, or "
           "delete them"), lines


def test_word_count_over_an_input_folder(cluster: str, swift: swift_client.Connection) -> None:
    swift.put_container("ft-data")
    second = "another file with the other words\n"
    swift.put_object("ft-data", "library/one.txt", TEXT.encode())
    swift.put_object("ft-data", "library/two.txt", second.encode())
    status, job = run_job(cluster, JOBS / "wordcount.py", "--input", "books=swift://ft-data/library/",
                          "--output", "swift://ft-results/library", "--wait", "--", "{input.books}", "{output}")
    assert status == 0 and job["state"] == "SUCCEEDED", job
    _, body = swift.get_object("ft-results", "library/counts.json")
    assert json.loads(body) == dict(collections.Counter((TEXT + second).split()))


@pytest.mark.parametrize("hostile", ["a\nurl = file:///etc/hostname\noutput = /tmp/pwned\nx", "dots/../../tmp/x"])
def test_hostile_object_names_fail_the_job_and_write_nothing(cluster: str, swift: swift_client.Connection,
                                                             hostile: str) -> None:
    swift.put_container("ft-hostile")
    # Percent-encoded: HTTP clients fold a literal ".." segment away before Swift ever sees it.
    url = f"{swift.url}/ft-hostile/{urllib.parse.quote(f'in/{hostile}').replace('.', '%2E')}"
    session = load_cloud(CLOUD).session
    session.put(url, data=b"x")
    assert swift.get_container("ft-hostile", prefix="in/")[1][0]["name"] == f"in/{hostile}"
    try:
        status, error = run_job(cluster, JOBS / "pi.py", "--input", "swift://ft-hostile/in/", "--wait", "--",
                                "{input}")  # staged: the object's name would become a path
    finally:
        session.delete(url)
    assert (status, error["event"]) == (1, "error"), error
    assert error["message"].startswith("input swift://ft-hostile/in/: object "), error
    assert "\n" not in error["message"], "the name is quoted, so the message stays one line"
    _, lines, _ = heatdeploy("job", "list", cluster, "--os-cloud", CLOUD)
    failed = [j for j in result_of(lines)["jobs"] if j["inputs"] == {"": "swift://ft-hostile/in/"}
              and j["args"] == ["{input}"]]
    assert failed and all(j["state"] == "FAILED" for j in failed), failed
    for target in ("/tmp/pwned", "/tmp/x"):
        probe = subprocess.run([sys.executable, "-m", "heatdeploy", "ssh", cluster, "--os-cloud", CLOUD, "--",
                                "test", "-e", target], cwd=ROOT, capture_output=True, timeout=120)
        assert probe.returncode == 1, (target, probe.stderr)


def test_pi_result_shows_in_the_log(cluster: str) -> None:
    status, job = run_job(cluster, JOBS / "pi.py", "--wait")
    assert status == 0, (job["state"], job["message"])
    logs = subprocess.run([sys.executable, "-m", "heatdeploy", "job", "logs", job["id"], "--os-cloud", CLOUD],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "Pi is roughly 3.1416" in logs


def test_failing_job_ends_failed_with_its_error(cluster: str) -> None:
    status, lines, _ = heatdeploy("job", "run", cluster, "--type", "spark", "--binary", str(JOBS / "fail.py"),
                                  "--os-cloud", CLOUD, "--wait", check=False, timeout=900)
    job = result_of(lines)
    assert status == 1 and job["state"] == "FAILED", job
    shown = [line["line"] for line in lines if line["event"] == "log"]
    assert any("ValueError: deliberate failure in the job" in line for line in shown), "the driver's last lines"
    assert len(shown) <= 20
    logs = subprocess.run([sys.executable, "-m", "heatdeploy", "job", "logs", job["id"], "--os-cloud", CLOUD],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "ValueError: deliberate failure in the job" in logs


def test_cancel_kills_the_application(cluster: str) -> None:
    status, job = run_job(cluster, JOBS / "sleep.py")
    assert status == 0 and job["state"] == "RUNNING", job
    deadline = time.monotonic() + 180
    while True:  # until the master lists the application as running
        _, lines, _ = heatdeploy("job", "status", job["id"], "--os-cloud", CLOUD)
        if "RUNNING" in result_of(lines)["message"]:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the application never ran on the master: {result_of(lines)}")
    _, lines, _ = heatdeploy("job", "cancel", job["id"], "--os-cloud", CLOUD)
    cancelled = result_of(lines)
    assert cancelled["state"] == "KILLED", cancelled
    assert "KILLED" in cancelled["message"], cancelled


@pytest.mark.parametrize(("program", "expected_status", "expected_state"),
                         [("pi.py", 0, "SUCCEEDED"), ("fail.py", 1, "FAILED")])
def test_transient_cluster_is_deleted_whatever_the_job_does(local_cloud: LocalCloud, tmp_path: Path, program: str,
                                                            expected_status: int, expected_state: str) -> None:
    name = f"ft-tr-{expected_state.lower()}"
    spec = yaml.safe_load((ROOT / "examples" / "spark.yaml").read_text())
    spec["name"], spec["node_groups"][1]["count"] = name, 1
    spec_path = tmp_path / "cluster.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    job_path = tmp_path / "job.yaml"
    job_path.write_text(yaml.safe_dump({"type": "spark", "binary": str(JOBS / program), "timeout": 600}))
    trusts_before = {t.id for t in local_cloud.admin().trusts.list()}
    status, lines, _ = heatdeploy("launch", str(spec_path), "--os-cloud", CLOUD, "--job", str(job_path),
                                  "--transient", check=False, timeout=900)
    assert status == expected_status, lines
    job, launched = result_of(lines), lines
    assert job["state"] == expected_state
    assert any(line.get("message", "").startswith("deleting transient cluster") for line in lines)
    heat = heat_for(local_cloud.session("demo", "demo"))
    assert not [s for s in heat.stacks.list() if s.stack_name == name]
    # The cluster is gone; its job's record and driver log are not.
    _, lines, _ = heatdeploy("job", "status", job["id"], "--os-cloud", CLOUD)
    assert result_of(lines)["state"] == expected_state
    _, lines, _ = heatdeploy("job", "logs", job["id"], "--os-cloud", CLOUD)
    logged = [line["line"] for line in lines if line["event"] == "log"]
    assert all(line["stream"] == "driver" for line in lines if line["event"] == "log")
    wanted = "Pi is roughly 3.1416" if expected_state == "SUCCEEDED" else "ValueError: deliberate failure"
    assert any(wanted in line for line in logged), logged[-20:]
    total = sum(len(line.encode()) + 1 for line in logged)
    assert total - 1 <= result_of(lines)["bytes"] <= total, "every byte of the log, as lines"
    if expected_state == "FAILED":
        assert any(wanted in line.get("line", "") for line in launched), "launch --transient showed the tail"
    _, lines, _ = heatdeploy("delete", name, "--purge-jobs", "--os-cloud", CLOUD)
    assert result_of(lines)["jobs_purged"] == [job["id"]]
    status, lines, _ = heatdeploy("job", "status", job["id"], "--os-cloud", CLOUD, check=False)
    assert (status, result_of(lines)["message"]) == (1, f"no job {job['id']}")
    assert {t.id for t in local_cloud.admin().trusts.list()} <= trusts_before
    assert not instance_pids(local_cloud, f"{name}-")
    _, lines, _ = heatdeploy("list", "--os-cloud", CLOUD)
    assert name not in {c["name"] for c in result_of(lines)["clusters"]}


def test_interrupted_transient_launch_still_deletes_everything(local_cloud: LocalCloud, tmp_path: Path) -> None:
    name = "ft-tr-term"
    spec = yaml.safe_load((ROOT / "examples" / "spark.yaml").read_text())
    spec["name"], spec["node_groups"][1]["count"] = name, 1
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "job.yaml").write_text(yaml.safe_dump({"type": "spark", "binary": str(JOBS / "sleep.py")}))
    # Job records outlive their clusters: start from none of this name (a cluster already gone is purged too).
    heatdeploy("delete", name, "--purge-jobs", "--os-cloud", CLOUD)
    trusts_before = {t.id for t in local_cloud.admin().trusts.list()}
    process = subprocess.Popen(
        [sys.executable, "-m", "heatdeploy", "launch", str(tmp_path / "cluster.yaml"), "--os-cloud", CLOUD,
         "--job", str(tmp_path / "job.yaml"), "--transient", "--format", "json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:  # until the job has started on the cluster
            if '"starting spark job' in line:
                break
        else:
            pytest.fail(f"the launch ended early: {process.stderr.read() if process.stderr else ''}")
        process.terminate()
        rest = process.stdout.read()
        assert process.wait(timeout=300) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert "deleting transient cluster" in rest
    heat = heat_for(local_cloud.session("demo", "demo"))
    assert not [s for s in heat.stacks.list() if s.stack_name == name]
    assert {t.id for t in local_cloud.admin().trusts.list()} <= trusts_before
    assert not instance_pids(local_cloud, f"{name}-")
    _, lines, _ = heatdeploy("job", "list", name, "--os-cloud", CLOUD)
    states = [(j["state"], j["message"]) for j in result_of(lines)["jobs"]]
    assert states == [("KILLED", "its transient cluster was deleted before the job ended")], states
