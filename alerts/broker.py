"""The local single-node Apache Kafka broker (KRaft) for the demo and the tests.

The broker comes from Maven Central: :func:`ensure_kafka_jars` runs
``mvn maven-dependency-plugin:copy-dependencies`` on ``alerts/broker/pom.xml`` once into
``$CLOSEWATCH_CACHE/kafka/<version>/lib`` (default cache ``~/.cache/closewatch``),
and :class:`LocalBroker` runs ``java -cp 'lib/*' kafka.Kafka server.properties``
bound to 127.0.0.1 on free ports, in combined broker+controller mode (KRaft,
KIP-500) with a static one-voter quorum (``controller.quorum.voters``), so the
same data directory can be restarted on other ports.

A broker is ready when its log says ``Kafka Server started`` *and* an admin
request (kafka-python) answers. Failures raise :class:`~alerts.errors.BrokerError`
with the tail of the broker log.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Mapping

from alerts.errors import BrokerError

if TYPE_CHECKING:
    from alerts.tls import LocalPki

__all__ = [
    "KAFKA_VERSION",
    "POM_PATH",
    "BrokerError",
    "BrokerState",
    "BrokerTls",
    "LocalBroker",
    "SaslUsers",
    "read_state",
    "running_broker_bootstrap",
    "state_is_running",
    "stop_recorded",
    "write_state",
    "cache_root",
    "console_consumer_command",
    "ensure_kafka_jars",
    "find_free_port",
    "java_classpath",
]

log = logging.getLogger(__name__)

POM_PATH = Path(__file__).resolve().parent / "broker" / "pom.xml"

_READY_RE = re.compile(r"\[KafkaRaftServer nodeId=\d+\] Kafka Server started")
_BIND_RE = re.compile(r"(BindException|Address already in use)")
_MARKER = ".complete"
# Named in full: Maven resolves a goal prefix ("dependency:") only with the plugin metadata of
# Maven Central, so without network it would fail with "No plugin found for prefix", hiding why.
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def _pom_kafka_version(pom: Path = POM_PATH) -> str:
    text = pom.read_text(encoding="utf-8")
    m = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", text)
    if m is None:
        raise BrokerError(f"{pom}: no <kafka.version> property")
    return m.group(1)


KAFKA_VERSION: str = _pom_kafka_version()


def cache_root(cache_dir: Path | None = None) -> Path:
    """``cache_dir``, else ``$CLOSEWATCH_CACHE``, else ``~/.cache/closewatch``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("CLOSEWATCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "closewatch"


def _require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BrokerError(
            f"{name!r} not found on PATH: the local Kafka broker needs Java 17+ and Maven "
            "(Debian: apt-get install openjdk-17-jre-headless maven)"
        )
    return path


def ensure_kafka_jars(cache_dir: Path | None = None) -> Path:
    """Fetch the broker's jars once; return the ``lib`` directory (the classpath is ``lib/*``).

    Idempotent and safe to call from several processes at once: a file lock
    serialises the fetch, the jars land in a temporary directory renamed into
    place, and a marker file written last says the directory is complete.
    Raises :class:`BrokerError` when ``java`` or ``mvn`` is missing or Maven fails.
    """
    base = cache_root(cache_dir) / "kafka" / KAFKA_VERSION
    lib = base / "lib"
    marker = base / _MARKER
    if marker.is_file() and lib.is_dir():
        return lib
    _require_tool("java")
    mvn = _require_tool("mvn")
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and lib.is_dir():
            return lib
        tmp = base / f"lib.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        if lib.exists():
            shutil.rmtree(lib)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM_PATH),
            f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ]
        log.info("fetching Apache Kafka %s jars into %s", KAFKA_VERSION, lib)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BrokerError(_maven_failure(proc.returncode, proc.stdout + proc.stderr))
        if not any(tmp.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
            shutil.rmtree(tmp, ignore_errors=True)
            raise BrokerError(f"Maven ran but kafka_2.13-{KAFKA_VERSION}.jar is not in {tmp}")
        tmp.rename(lib)
        marker.write_text(f"{KAFKA_VERSION}\n", encoding="utf-8")
    return lib


def _maven_failure(returncode: int, output: str) -> str:
    """A first line saying why Maven failed and what to do, then the tail of its output.

    A download that failed (no network, unknown host, a proxy) is named by what the
    transfer said, e.g. ``Unknown host repo.maven.apache.org``.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", output).strip()
    errors = [line[len("[ERROR]"):].strip() for line in text.splitlines() if line.startswith("[ERROR]")]
    first = next((e for e in errors if e), "").split(" -> [Help")[0]
    transfer = re.search(r"from/to \S+ \([^)]*\): (?:transfer failed for \S+: )?(.+)$", first)
    if transfer:
        head = (
            f"Maven could not download Apache Kafka {KAFKA_VERSION} from Maven Central ({transfer.group(1)}): "
            "check the network (a proxy goes in ~/.m2/settings.xml), then run `closewatch kafka fetch`"
        )
    else:
        head = f"Maven failed (exit {returncode}) to fetch Apache Kafka {KAFKA_VERSION} with {POM_PATH}: {first or 'no [ERROR] line'}"
    return head + "\n" + "\n".join(text.splitlines()[-20:])


def java_classpath(lib: Path) -> str:
    """The ``java -cp`` argument for a jar directory (Java expands ``dir/*``)."""
    return str(lib / "*")


def console_consumer_command(
    bootstrap_servers: str,
    topic: str,
    *,
    lib: Path | None = None,
    max_messages: int | None = None,
    timeout_ms: int | None = None,
    from_beginning: bool = True,
) -> list[str]:
    """Kafka's own console consumer on the cached jars, printing headers, key and value (tab-separated)."""
    lib = lib if lib is not None else ensure_kafka_jars()
    cmd = [
        _require_tool("java"),
        "-Xmx256m",
        "-cp",
        java_classpath(lib),
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        bootstrap_servers,
        "--topic",
        topic,
        "--property",
        "print.headers=true",
        "--property",
        "print.key=true",
    ]
    if from_beginning:
        cmd.append("--from-beginning")
    if max_messages is not None:
        cmd += ["--max-messages", str(max_messages)]
    if timeout_ms is not None:
        cmd += ["--timeout-ms", str(timeout_ms)]
    return cmd


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 free at the time of asking (the caller retries on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class SaslUsers:
    """SASL on the client listener (``SASL_PLAINTEXT``, ``SASL_SSL`` with TLS): the users the broker accepts.

    ``users`` maps user name to password; every mechanism in ``mechanisms`` is
    enabled for all of them (PLAIN from the JAAS config, SCRAM credentials stored
    in the cluster metadata at format time, KIP-554). The broker talks to itself
    with ``broker_user``, over PLAIN when enabled, else over the first SCRAM mechanism.
    """

    users: Mapping[str, str]
    mechanisms: tuple[SaslMechanism, ...] = ("PLAIN",)
    broker_user: tuple[str, str] = ("broker", "broker-secret")

    def __post_init__(self) -> None:
        if not self.mechanisms:
            raise BrokerError("SaslUsers needs at least one mechanism")
        for name in list(self.users) + [self.broker_user[0]]:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise BrokerError(f"SASL user name {name!r}: use letters, digits, '_', '.', '-'")

    def all_users(self) -> dict[str, str]:
        return {self.broker_user[0]: self.broker_user[1], **dict(self.users)}

    @property
    def inter_broker_mechanism(self) -> SaslMechanism:
        return "PLAIN" if "PLAIN" in self.mechanisms else self.mechanisms[0]


ClientAuth = Literal["none", "requested", "required"]


@dataclass(frozen=True)
class BrokerTls:
    """TLS on the client listener (``SSL``, or ``SASL_SSL`` with :class:`SaslUsers`).

    PEM files (RFC 7468): ``cert_chain`` the broker's certificate then its issuers,
    ``key`` its unencrypted PKCS #8 private key, ``ca_cert`` the CA the broker
    trusts for client certificates (``ssl.client.auth``: ``none``, ``requested``,
    ``required`` for mutual TLS). Kafka reads them as PEM stores (KIP-651), no
    JKS. :func:`alerts.tls.make_local_pki` makes a matching set.
    """

    cert_chain: Path
    key: Path
    ca_cert: Path
    client_auth: ClientAuth = "none"

    @classmethod
    def from_pki(cls, pki: "LocalPki", client_auth: ClientAuth = "none") -> "BrokerTls":
        return cls(pki.broker_cert, pki.broker_key, pki.ca_cert, client_auth)


_LOG4J2 = """\
status = error
name = closewatch-local-kafka
appender.out.type = Console
appender.out.name = STDOUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
logger.coord.name = org.apache.kafka.coordinator
logger.coord.level = WARN
"""


def _jaas_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _set_parent_death_signal() -> None:
    """In the child before exec: get SIGTERM when the parent thread dies (Linux prctl)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class _Ports:
    port: int
    controller_port: int


@dataclass
class LocalBroker:
    """A single-node Kafka broker in ``work_dir`` (config, ``data/``, ``broker.log``).

    ``port``: the client port (``None``: a free one; once started, restarts reuse
    it so clients reconnect). ``sasl``: authenticate clients with SASL.
    ``tls``: encrypt the client listener with TLS. The listener is ``PLAINTEXT``,
    ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL`` accordingly. ``detach``: the
    broker outlives this Python process (for ``closewatch kafka up``); otherwise
    it gets SIGTERM if the thread that started it dies, so a crashed test run
    leaves no Java behind.
    """

    work_dir: Path
    port: int | None = None
    sasl: SaslUsers | None = None
    tls: BrokerTls | None = None
    heap_mb: int = 384
    detach: bool = False
    cache_dir: Path | None = None
    controller_port: int | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _port_fixed: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.work_dir = Path(self.work_dir).resolve()
        self._port_fixed = self.port is not None

    # -- paths --------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "broker.log"

    @property
    def config_path(self) -> Path:
        return self.work_dir / "server.properties"

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise BrokerError("the broker has no port yet: start() it first")
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def security_protocol(self) -> str:
        return ("SASL_" if self.sasl is not None else "") + ("SSL" if self.tls is not None else "PLAINTEXT")

    def client_config(self, user: str | None = None, mechanism: str | None = None) -> dict[str, Any]:
        """kafka-python keyword arguments to reach this broker (as ``user`` when SASL is on).

        With TLS the CA is trusted, and the broker's own certificate serves as the
        client certificate when the broker asks for one.
        """
        cfg: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers,
                               "security_protocol": self.security_protocol}
        if self.tls is not None:
            cfg["ssl_cafile"] = str(self.tls.ca_cert)
            if self.tls.client_auth != "none":
                cfg.update(ssl_certfile=str(self.tls.cert_chain), ssl_keyfile=str(self.tls.key))
        if self.sasl is not None:
            name, password = self.sasl.broker_user
            if user is not None:
                name, password = user, self.sasl.all_users()[user]
            cfg.update(
                sasl_mechanism=mechanism or self.sasl.inter_broker_mechanism,
                sasl_plain_username=name,
                sasl_plain_password=password,
            )
        return cfg

    # -- lifecycle ----------------------------------------------------------------
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 120.0) -> "LocalBroker":
        """Start and wait until ready; retry on fresh ports if a bind races (free ports only)."""
        if self.is_running():
            return self
        lib = ensure_kafka_jars(self.cache_dir)
        java = _require_tool("java")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout_s
        attempts = 0
        while True:
            attempts += 1
            ports = self._choose_ports()
            self._write_config(ports)
            self._format_storage(java, lib)
            try:
                self._launch(java, lib, ports, deadline)
                return self
            except _BindRace as e:
                self._kill()
                if self._port_fixed or attempts >= 5 or time.monotonic() >= deadline:
                    raise BrokerError(f"local Kafka could not bind its ports: {e}\n{self._log_tail()}") from None
                log.info("port race (%s); retrying on fresh ports", e)
                self.port = None
                self.controller_port = None

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (controlled shutdown), then SIGKILL after ``timeout_s``. Keeps the data."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("local Kafka pid %d ignored SIGTERM for %.0f s: killing it", proc.pid, timeout_s)
                proc.kill()
                proc.wait()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the broker (simulates a crash)."""
        self._kill()

    def __enter__(self) -> "LocalBroker":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------
    def _choose_ports(self) -> _Ports:
        if self.port is None:
            self.port = find_free_port()
        if self.controller_port is None:
            cport = find_free_port()
            while cport == self.port:
                cport = find_free_port()
            self.controller_port = cport
        return _Ports(self.port, self.controller_port)

    def _write_config(self, ports: _Ports) -> None:
        proto = self.security_protocol
        lines = [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{ports.controller_port}",
            f"listeners={proto}://127.0.0.1:{ports.port},CONTROLLER://127.0.0.1:{ports.controller_port}",
            f"advertised.listeners={proto}://127.0.0.1:{ports.port}",
            "controller.listener.names=CONTROLLER",
            f"inter.broker.listener.name={proto}",
            f"listener.security.protocol.map={proto}:{proto},CONTROLLER:PLAINTEXT",
            f"log.dirs={self.data_dir}",
            "num.partitions=1",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=4",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "log.cleaner.dedupe.buffer.size=2097152",
            "log.cleaner.threads=1",
            "num.network.threads=2",
            "num.io.threads=2",
            "num.recovery.threads.per.data.dir=1",
            "background.threads=2",
        ]
        if self.sasl is not None:
            lines += self._sasl_config_lines(proto.lower())
        if self.tls is not None:
            lines += self._tls_config_lines()
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        (self.work_dir / "log4j2.properties").write_text(_LOG4J2, encoding="utf-8")

    def _sasl_config_lines(self, listener: str) -> list[str]:
        assert self.sasl is not None
        sasl = self.sasl
        bname, bpass = sasl.broker_user
        lines = [
            f"sasl.enabled.mechanisms={','.join(sasl.mechanisms)}",
            f"sasl.mechanism.inter.broker.protocol={sasl.inter_broker_mechanism}",
        ]
        for mech in sasl.mechanisms:
            if mech == "PLAIN":
                users = " ".join(
                    f'user_{name}="{_jaas_escape(pw)}"' for name, pw in sasl.all_users().items()
                )
                jaas = (
                    "org.apache.kafka.common.security.plain.PlainLoginModule required "
                    f'username="{bname}" password="{_jaas_escape(bpass)}" {users};'
                )
            else:
                jaas = (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required "
                    f'username="{bname}" password="{_jaas_escape(bpass)}";'
                )
            lines.append(f"listener.name.{listener}.{mech.lower()}.sasl.jaas.config={jaas}")
        return lines

    def _tls_config_lines(self) -> list[str]:
        assert self.tls is not None
        tls = self.tls
        for what, path in (("certificate chain", tls.cert_chain), ("key", tls.key), ("CA certificate", tls.ca_cert)):
            if not Path(path).is_file():
                raise BrokerError(f"TLS {what} {path} not found")
        # A PEM key store is one file: the private key, then the certificate chain.
        keystore = self.work_dir / "broker-keystore.pem"
        fd = os.open(keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Path(tls.key).read_bytes().rstrip() + b"\n" + Path(tls.cert_chain).read_bytes())
        return [
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={Path(tls.ca_cert).resolve()}",
            f"ssl.client.auth={tls.client_auth}",
            "ssl.endpoint.identification.algorithm=https",
        ]

    def _format_storage(self, java: str, lib: Path) -> None:
        if (self.data_dir / "meta.properties").is_file():
            return  # already formatted: a restart keeps its data
        cluster_id = _kafka_cluster_id()
        cmd = [
            java,
            "-Xmx128m",
            f"-Dlog4j2.configurationFile={self.work_dir / 'log4j2.properties'}",
            "-cp",
            java_classpath(lib),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.config_path),
        ]
        if self.sasl is not None:
            for mech in self.sasl.mechanisms:
                if mech.startswith("SCRAM"):
                    for name, pw in self.sasl.all_users().items():
                        cmd += ["--add-scram", f"{mech}=[name={name},password={pw}]"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BrokerError(
                f"kafka.tools.StorageTool format failed (exit {proc.returncode}) in {self.data_dir}:\n"
                + (proc.stdout + proc.stderr).strip()[-3000:]
            )

    def _launch(self, java: str, lib: Path, ports: _Ports, deadline: float) -> None:
        cmd = [
            java,
            f"-Xmx{self.heap_mb}m",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.work_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.work_dir}",
            "-cp",
            java_classpath(lib),
            "kafka.Kafka",
            str(self.config_path),
        ]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as out:
            kwargs: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": out, "stderr": subprocess.STDOUT}
            if self.detach:
                kwargs["start_new_session"] = True
            elif sys.platform.startswith("linux"):
                kwargs["preexec_fn"] = _set_parent_death_signal
            self._proc = subprocess.Popen(cmd, cwd=self.work_dir, **kwargs)
        log.info("local Kafka pid %d starting on 127.0.0.1:%d (log %s)", self._proc.pid, ports.port, self.log_path)
        while True:
            text = self._read_log(offset)
            if _READY_RE.search(text):
                break
            if self._proc.poll() is not None:
                if _BIND_RE.search(text):
                    raise _BindRace(f"port {ports.port} or {ports.controller_port} taken")
                raise BrokerError(
                    f"local Kafka exited with code {self._proc.returncode} before it was ready:\n"
                    + self._log_tail()
                )
            if time.monotonic() >= deadline:
                self._kill()
                raise BrokerError(f"local Kafka not ready after the timeout:\n{self._log_tail()}")
            time.sleep(0.2)
        self._confirm_with_admin(deadline)

    def _confirm_with_admin(self, deadline: float) -> None:
        from kafka import KafkaAdminClient  # imported late: the CLI's `fetch` needs no client
        from kafka.errors import KafkaError

        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                admin = KafkaAdminClient(client_id="closewatch-broker-check", request_timeout_ms=10_000,
                                         **self.client_config())
                try:
                    admin.describe_cluster()
                    return
                finally:
                    admin.close()
            except (KafkaError, OSError) as e:
                last = e
                time.sleep(0.5)
        self._kill()
        raise BrokerError(f"local Kafka logged 'started' but an admin request failed: {last!r}\n{self._log_tail()}")

    def _read_log(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        tail = text.splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


class _BindRace(Exception):
    pass


def _kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes in URL-safe base64 without padding (as ``random-uuid``)."""
    import base64

    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):  # Kafka's own Uuid.randomUuid avoids these (look like flags)
            return cid



# -- a detached broker for `closewatch kafka up|down|status` ---------------------------

STATE_FILE = "state.json"


@dataclass(frozen=True)
class BrokerState:
    """What `closewatch kafka up` leaves in its state directory (``.closewatch/kafka``)."""

    pid: int
    port: int
    controller_port: int
    data_dir: str
    log: str
    config: str
    started_s: float

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"


def write_state(state_dir: Path, broker: LocalBroker) -> BrokerState:
    import json

    if broker.pid is None or broker.port is None or broker.controller_port is None:
        raise BrokerError("the broker is not running: nothing to record")
    state = BrokerState(
        pid=broker.pid,
        port=broker.port,
        controller_port=broker.controller_port,
        data_dir=str(broker.data_dir),
        log=str(broker.log_path),
        config=str(broker.config_path),
        started_s=time.time(),
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state.__dict__, indent=2) + "\n", encoding="utf-8")
    tmp.replace(state_dir / STATE_FILE)
    return state


def read_state(state_dir: Path) -> BrokerState | None:
    """The recorded broker, or ``None`` when there is no (readable) state file."""
    import json

    try:
        data = json.loads((Path(state_dir) / STATE_FILE).read_text(encoding="utf-8"))
        return BrokerState(**data)
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _pid_is_broker(pid: int, config: str) -> bool:
    """Is ``pid`` alive and the Kafka server started with ``config`` (not a recycled pid)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline and config.encode() in cmdline


def state_is_running(state: BrokerState) -> bool:
    if not _pid_is_broker(state.pid, state.config):
        return False
    try:
        with socket.create_connection(("127.0.0.1", state.port), timeout=2.0):
            return True
    except OSError:
        return False


def running_broker_bootstrap(state_dir: Path = Path(".closewatch/kafka")) -> str | None:
    """``127.0.0.1:PORT`` of the broker `closewatch kafka up` started in ``state_dir``, if it runs."""
    state = read_state(state_dir)
    if state is None or not state_is_running(state):
        return None
    return state.bootstrap_servers


def stop_recorded(state_dir: Path, timeout_s: float = 30.0) -> bool:
    """Stop the broker recorded in ``state_dir`` (SIGTERM, SIGKILL after ``timeout_s``); True if one ran."""
    state = read_state(state_dir)
    if state is None:
        return False
    ran = _pid_is_broker(state.pid, state.config)
    if ran:
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _pid_is_broker(state.pid, state.config) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_is_broker(state.pid, state.config):
            log.warning("local Kafka pid %d ignored SIGTERM: killing it", state.pid)
            os.kill(state.pid, signal.SIGKILL)
    (Path(state_dir) / STATE_FILE).unlink(missing_ok=True)
    return ran
