"""Kafka specifics for :mod:`nextbest.localstack`: wire probes, jar fetch, KRaft storage format.

The probes speak the Kafka protocol directly (ApiVersions v0, Metadata v4) so that checking a
broker needs nothing beyond the standard library.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import string
import struct
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nextbest.localstack.processes import LocalStackError, cache_root, repo_root

logger = logging.getLogger(__name__)

KAFKA_VERSION = "4.4.0"  # keep in step with deploy/local/kafka/pom.xml
HEALTH_TOPIC = "nextbest-localstack-health"
_CLIENT_ID = b"nextbest-localstack"
_API_METADATA = 3
_API_VERSIONS = 18


@dataclass(frozen=True)
class BrokerMetadata:
    brokers: list[tuple[int, str, int]]
    topics: dict[str, tuple[int, list[int]]]  # name -> (error code, leader per partition)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by peer")
        buf += chunk
    return bytes(buf)


def _call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, version, corr, len(_CLIENT_ID)) + _CLIENT_ID
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    if not 4 <= size <= 16 * 1024 * 1024:
        raise ValueError(f"implausible Kafka response size {size}")
    data = _recv_exact(sock, size)
    if struct.unpack_from(">i", data)[0] != corr:
        raise ValueError("correlation id mismatch")
    return data[4:]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def num(self, fmt: str) -> int:
        (value,) = struct.unpack_from(">" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        size = self.num("h")
        if size < 0:
            return None
        value = self.data[self.pos : self.pos + size].decode()
        self.pos += size
        return value

    def int32_array(self) -> list[int]:
        return [self.num("i") for _ in range(max(self.num("i"), 0))]


def api_versions(host: str, port: int, *, timeout: float = 2.0) -> dict[int, tuple[int, int]]:
    """ApiVersions v0 handshake: ``{api_key: (min, max)}``; raises OSError/ValueError if none."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        reader = _Reader(_call(sock, _API_VERSIONS, 0, 1, b""))
    error = reader.num("h")
    if error != 0:
        raise ValueError(f"ApiVersions error code {error}")
    versions = {}
    for _ in range(reader.num("i")):
        key, low, high = reader.num("h"), reader.num("h"), reader.num("h")
        versions[key] = (low, high)
    return versions


def metadata(
    host: str,
    port: int,
    *,
    topics: Sequence[str] = (),
    auto_create: bool = False,
    timeout: float = 2.0,
) -> BrokerMetadata:
    """Metadata v4 request (brokers, plus the leaders of ``topics``)."""
    low, high = api_versions(host, port, timeout=timeout).get(_API_METADATA, (99, -1))
    if not low <= 4 <= high:
        raise ValueError(f"broker does not support Metadata v4 (supports v{low}..v{high})")
    body = struct.pack(">i", len(topics))
    for name in topics:
        body += struct.pack(">h", len(name)) + name.encode()
    body += struct.pack(">b", 1 if auto_create else 0)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        reader = _Reader(_call(sock, _API_METADATA, 4, 2, body))
    reader.num("i")  # throttle_time_ms
    brokers = []
    for _ in range(reader.num("i")):
        node, bhost, bport = reader.num("i"), reader.string() or "", reader.num("i")
        reader.string()  # rack
        brokers.append((node, bhost, bport))
    reader.string()  # cluster_id
    reader.num("i")  # controller_id
    found: dict[str, tuple[int, list[int]]] = {}
    for _ in range(reader.num("i")):
        error, name = reader.num("h"), reader.string() or ""
        reader.num("b")  # is_internal
        leaders = []
        for _ in range(reader.num("i")):
            reader.num("h")  # partition error
            reader.num("i")  # partition index
            leaders.append(reader.num("i"))
            reader.int32_array()  # replicas
            reader.int32_array()  # isr
        found[name] = (error, leaders)
    return BrokerMetadata(brokers=brokers, topics=found)


def answers_kafka(host: str, port: int) -> bool:
    """True if a Kafka broker on host:port answers ApiVersions and lists at least one broker."""
    try:
        return bool(metadata(host, port, timeout=1.5).brokers)
    except (OSError, ValueError, struct.error):
        return False


def healthy(host: str, port: int) -> bool:
    """Broker registered and able to create a topic and elect its partition leaders."""
    try:
        meta = metadata(host, port, topics=[HEALTH_TOPIC], auto_create=True, timeout=2.0)
    except (OSError, ValueError, struct.error):
        return False
    error, leaders = meta.topics.get(HEALTH_TOPIC, (-1, []))
    return bool(meta.brokers) and error == 0 and bool(leaders) and min(leaders) >= 0


def free_port(preferred: int) -> int:
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise LocalStackError("no free TCP port on 127.0.0.1")


def java_executable() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise LocalStackError(
            "java (17+) not found: install it with "
            "'apt-get install -y openjdk-17-jre-headless' or set JAVA_HOME"
        )
    return java


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_jars() -> Path:
    """The broker's jars, fetched from Maven Central into the cache on first use."""
    home = cache_root() / f"kafka-{KAFKA_VERSION}"
    libs = home / "libs"
    marker = libs / f"kafka_2.13-{KAFKA_VERSION}.jar"
    if marker.is_file():
        return libs
    with _locked(home / ".lock"):
        if marker.is_file():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalStackError("mvn not found: install it with 'apt-get install -y maven'")
        pom = repo_root() / "deploy" / "local" / "kafka" / "pom.xml"
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=home))
        logger.info("fetching Kafka %s jars with Maven into %s", KAFKA_VERSION, libs)
        argv = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0 or not (staging / marker.name).is_file():
            shutil.rmtree(staging, ignore_errors=True)
            output = (result.stdout + result.stderr).strip().splitlines()[-30:]
            raise LocalStackError(
                f"fetching Kafka jars failed ({' '.join(argv)}):\n" + "\n".join(output)
            )
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
    return libs


def new_cluster_id() -> str:
    while True:  # same shape as Kafka's Uuid.randomUuid(): 22 url-safe base64 chars
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def jvm_flags(data_dir: Path) -> list[str]:
    heap = os.environ.get("NEXTBEST_KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m").split()
    log_config = repo_root() / "deploy" / "local" / "kafka" / "log4j2.properties"
    return [
        *heap,
        "-XX:+UseSerialGC",
        "-Djava.awt.headless=true",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dkafka.logs.dir={data_dir / 'logs'}",
        f"-Dlog4j2.configurationFile={log_config}",
    ]


def prepare(data_dir: Path, *, port: int) -> Path:
    """Render server.properties and format KRaft storage if needed; returns the config path."""
    state_file, log_dirs = data_dir / "state.json", data_dir / "data"
    state: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        state = json.loads(state_file.read_text())
    controller = state.get("controller_port")
    reuse = (
        state.get("version") == KAFKA_VERSION
        and state.get("port") == port
        and isinstance(controller, int)
        and free_port(controller) == controller
        and (log_dirs / "meta.properties").is_file()
    )
    if not reuse:
        shutil.rmtree(log_dirs, ignore_errors=True)
        controller = free_port(port + 1 if port < 65535 else 0)
    assert isinstance(controller, int)
    template = repo_root() / "deploy" / "local" / "kafka" / "server.properties"
    config = data_dir / "server.properties"
    values = {"port": port, "controller_port": controller, "log_dirs": log_dirs}
    config.write_text(string.Template(template.read_text()).substitute(values))
    if reuse:
        return config
    cluster_id = new_cluster_id()
    libs = ensure_jars()
    argv = [
        java_executable(),
        *jvm_flags(data_dir),
        "-cp",
        f"{libs}/*",
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        cluster_id,
        "-c",
        str(config),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise LocalStackError(f"kafka storage format failed ({data_dir}):\n{output}")
    new_state = {
        "version": KAFKA_VERSION,
        "port": port,
        "controller_port": controller,
        "cluster_id": cluster_id,
    }
    state_file.write_text(json.dumps(new_state, indent=2) + "\n")
    return config


def broker_argv(data_dir: Path, config: Path) -> list[str]:
    libs = ensure_jars()
    return [java_executable(), *jvm_flags(data_dir), "-cp", f"{libs}/*", "kafka.Kafka", str(config)]
