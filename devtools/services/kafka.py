"""A single-node Apache Kafka broker in KRaft mode, run from the official jars.

The jars come from Maven Central once (``scripts/kafka/pom.xml``) into a cache
folder shared by every checkout on the machine; storage is formatted on the
first start. The broker is both controller and broker and listens on 127.0.0.1.

Every client authenticates (SASL/SCRAM-SHA-512) and the StandardAuthorizer
allows only what an ACL grants; ``cme-admin`` is the one super user. Its
SCRAM credential is written into the storage when it is formatted, so the
broker never runs a moment without authentication; the controller listener
takes SASL/PLAIN from the admin alone (KRaft controllers cannot use SCRAM).
Loopback SASL_PLAINTEXT is for development: README shows the TLS listener
a council runs in production.
"""

from __future__ import annotations

import atexit
import base64
import os
import subprocess
import time
import uuid
from pathlib import Path

from cme.kafka_access import load_or_create_passwords
from cme.settings import PROJECT_ROOT
from consumers.config import KafkaRole
from devtools.services.common import (
    ServiceError,
    ServiceStatus,
    ensure_command,
    local_status,
    port_open,
    read_pid,
    stop_group,
    stop_leftovers,
    tail,
    wait_until,
)

POM = PROJECT_ROOT / "scripts" / "kafka" / "pom.xml"
ADMIN = KafkaRole.ADMIN.default_username
_STARTED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _let_the_broker_outlive_us() -> None:
    """The broker is meant to keep running after this process: say so to its handles.

    Otherwise each handle, collected at exit while its broker still runs,
    prints a ResourceWarning after every test run that restarted the broker.
    """
    for process in _STARTED:
        if process.poll() is None:
            process.returncode = 0  # detached on purpose; never waited for here


def owner_only(root: Path) -> None:
    """Make a folder and everything under it readable by its owner only (0700 / 0600)."""
    root.chmod(0o700)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            (Path(folder) / name).chmod(0o700)
        for name in files:
            (Path(folder) / name).chmod(0o600)


def kafka_version() -> str:
    text = POM.read_text()
    start = text.index("<kafka.version>") + len("<kafka.version>")
    return text[start : text.index("</kafka.version>")]


def cache_dir() -> Path:
    root = os.environ.get("CME_CACHE_DIR") or str(Path.home() / ".cache" / "cme")
    return Path(root) / f"kafka-{kafka_version()}"


def fetch_jars() -> Path:
    """Copy the broker jars into the cache once; later calls are free."""
    libs = cache_dir() / "libs"
    marker = cache_dir() / "complete"
    if marker.exists():
        return libs
    ensure_command("java", "openjdk-17-jre-headless")
    mvn = ensure_command("mvn", "maven")
    print(f"fetching Apache Kafka {kafka_version()} jars with Maven into {libs} ...", flush=True)
    libs.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        msg = (
            "Maven could not fetch the Kafka jars; check that Maven Central is reachable "
            f"and retry `scripts/services up`:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
        raise ServiceError(msg)
    marker.write_text(kafka_version())
    return libs


class LocalKafka:
    """The project's own broker under ``<data_dir>/kafka``."""

    def __init__(self, data_dir: Path, port: int, passwords: Path) -> None:
        self.port = port
        self.passwords = passwords
        """Each principal's password (scripts/services keeps them; the admin's is the broker's)."""
        self.controller_port = port + 1
        self.home = data_dir / "kafka"
        self.log_dirs = self.home / "data"
        self.log = self.home / "server.log"
        self.stdout_log = self.home / "stdout.log"
        self.pid_file = self.home / "kafka.pid"
        self.config = self.home / "server.properties"
        self.log4j = self.home / "log4j2.properties"
        self.authenticated = self.home / "authenticated"
        """Written when the storage was formatted with the admin's SCRAM credential."""
        self.sign_in_wait = 60.0
        """Seconds a started broker has to let the admin in before it is restarted once."""
        self.stop_grace = 60.0
        """Seconds a stopping broker has before SIGKILL (one that cannot sign in hangs)."""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def status(self) -> ServiceStatus:
        return local_status(
            "kafka",
            self.pid_file,
            self.port,
            f"{self.bootstrap} (KRaft, Apache Kafka {kafka_version()})",
            self.log,
            str(self.log_dirs),
        )

    def _write_config(self, admin_password: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        scram = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{admin_password}";'
        )
        plain = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN}" password="{admin_password}" user_{ADMIN}="{admin_password}";'
        )
        self.config.touch(mode=0o600)
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=CLIENT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=CLIENT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=CLIENT",
                    "listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT",
                    "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512",
                    f"listener.name.client.scram-sha-512.sasl.jaas.config={scram}",
                    "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
                    "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                    f"listener.name.controller.plain.sasl.jaas.config={plain}",
                    "sasl.mechanism.controller.protocol=PLAIN",
                    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                    f"super.users=User:{ADMIN}",
                    "allow.everyone.if.no.acl.found=false",
                    f"log.dirs={self.log_dirs}",
                    "num.partitions=1",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )
        self.log4j.write_text(
            "\n".join(
                [
                    "status = error",
                    "appender.file.type = File",
                    "appender.file.name = file",
                    f"appender.file.fileName = {self.log}",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "rootLogger.level = info",
                    "rootLogger.appenderRef.file.ref = file",
                    "logger.kafka.name = kafka",
                    "logger.kafka.level = info",
                    "",
                ]
            )
        )

    def _java(self, libs: Path, main: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.log4j}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def up(self) -> bool:
        """Start the broker if it is not running; True when this call started it.

        Started means the admin can sign in, not only that the broker logged
        "started": its credentials reach the broker's cache from the metadata
        log a little later. A broker that still refuses the admin after a
        minute is restarted once; if it refuses again, the error says what it
        saw and how to recreate the development broker. (The one cause found:
        a deleted SCRAM credential in the metadata log, which Kafka 4.1.1
        replays on restart into refusing every login. Nothing here deletes
        one any more: see ``cme.kafka_access.revoke_principal``.)
        """
        if self.pid() is not None:
            return False
        started = self._start()
        if self.admin_signs_in(within=self.sign_in_wait):
            return started
        print("the broker refuses the admin's sign-in; restarting it once ...", flush=True)
        refusals = self._refusals()
        self.down()
        self._start()
        if self.admin_signs_in(within=self.sign_in_wait):
            _note_refusal(self.home, refusals, recovered=True)
            return started
        _note_refusal(self.home, self._refusals(), recovered=False)
        msg = (
            f"the local broker refuses the admin's sign-in ({self._refusals()} failed "
            f"authentications logged; see {self.log} and {self.home / 'refusals.log'}); "
            "its data holds development topics only: `scripts/services down && rm -r "
            f"{self.home} && scripts/services up` recreates it"
        )
        raise ServiceError(msg)

    def admin_signs_in(self, within: float) -> bool:
        """Whether the admin principal gets an answer from the broker within ``within`` s."""
        from kafka import KafkaAdminClient  # noqa: PLC0415 - only the checks need a client
        from kafka.errors import KafkaError  # noqa: PLC0415

        password = load_or_create_passwords(self.passwords)[KafkaRole.ADMIN.value]
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap,
                    security_protocol="SASL_PLAINTEXT",
                    sasl_mechanism="SCRAM-SHA-512",
                    sasl_plain_username=ADMIN,
                    sasl_plain_password=password,
                    request_timeout_ms=5_000,
                    client_id="cme-services-check",
                )
            except KafkaError:
                time.sleep(1)
                continue
            try:
                admin.describe_cluster()
                return True
            except KafkaError:
                time.sleep(1)
            finally:
                admin.close()
        return False

    def _refusals(self) -> int:
        return _text(self.log).count("Failed authentication")

    def _start(self) -> bool:
        """Format the storage the first time, start the JVM, wait for its "started"."""
        admin_password = load_or_create_passwords(self.passwords)[KafkaRole.ADMIN.value]
        stop_leftovers(self.home, "Apache Kafka")
        for port in (self.port, self.controller_port):
            if port_open("127.0.0.1", port):
                msg = (
                    f"port {port} is taken by another program; set CME_KAFKA_PORT to a free "
                    "port, or point CME_KAFKA_BOOTSTRAP_SERVERS at that broker instead"
                )
                raise ServiceError(msg)
        libs = fetch_jars()
        formatted = (self.log_dirs / "meta.properties").exists()
        if formatted and not self.authenticated.exists():
            msg = (
                f"the local broker's storage {self.log_dirs} was formatted before Kafka "
                "authentication; it holds only development topics: stop everything, remove "
                f"{self.home} and run `scripts/services up` again"
            )
            raise ServiceError(msg)
        self._write_config(admin_password)
        owner_only(self.home)  # logs, configs and every message: no one else's business
        if not formatted:
            self._format(libs, admin_password)
            self.authenticated.touch(mode=0o600)
            self.authenticated.write_text("SCRAM-SHA-512 admin credential in the storage\n")
        print(f"starting Apache Kafka on {self.bootstrap} (log {self.log}) ...", flush=True)
        log_start = self.log.stat().st_size if self.log.exists() else 0
        self.stdout_log.touch(mode=0o600)
        with self.stdout_log.open("ab") as out:
            process = subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(self.config), heap="768m"),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                umask=0o077,  # segments, indexes, checkpoints: owner only
            )
        self.pid_file.write_text(str(process.pid))
        self.pid_file.chmod(0o600)
        # The broker outlives this call (and often this process); keep the handle so
        # it is not collected while running when `up` is called from a test.
        _STARTED.append(process)

        def ready() -> bool:
            if process.poll() is not None:
                msg = (
                    f"Kafka exited with code {process.returncode}; read {self.log} and "
                    f"{self.stdout_log}\n{tail(self.stdout_log)}"
                )
                raise ServiceError(msg)
            started = "Kafka Server started" in _text(self.log)[log_start:]
            return started and port_open("127.0.0.1", self.port)

        wait_until(ready, timeout=90, what="Kafka", log=self.log)
        return True

    def _format(self, libs: Path, admin_password: str) -> None:
        """Format the storage with the admin's SCRAM credential already in it.

        The credential reaches the JVM in an argument file (``java @file``,
        0600, removed after), not on its command line, which any local user
        can read in /proc/PID/cmdline while the format runs.
        """
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        arguments = self.home / "format.args"
        arguments.touch(mode=0o600)
        arguments.write_text(
            "\n".join(
                _quoted(argument)
                for argument in (
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(self.config),
                    "--add-scram",
                    f"SCRAM-SHA-512=[name={ADMIN},password={admin_password}]",
                )
            )
            + "\n"
        )
        try:
            result = subprocess.run(
                self._java(libs, f"@{arguments}"),
                capture_output=True,
                text=True,
                check=False,
                umask=0o077,
            )
        finally:
            arguments.unlink(missing_ok=True)
        if result.returncode != 0:
            msg = f"formatting Kafka storage failed: {result.stderr or result.stdout}"
            raise ServiceError(msg)

    def down(self) -> bool:
        return stop_group(self.pid_file, "Apache Kafka", grace=self.stop_grace)


def _quoted(argument: str) -> str:
    """One argument of a java @file: quoted, with its backslashes and quotes escaped."""
    return '"' + argument.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _note_refusal(home: Path, refusals: int, recovered: bool) -> None:
    """Keep what a refusing broker looked like, for whoever meets it next."""
    outcome = "a restart recovered it" if recovered else "a restart did not recover it"
    notes_file = home / "refusals.log"
    notes_file.touch(mode=0o600)  # beside the broker's own files, owner only like them
    with notes_file.open("a") as notes:
        notes.write(
            f"{time.strftime('%Y-%m-%dT%H:%M:%S')} the admin was refused after a start "
            f"({refusals} failed authentications in server.log so far); {outcome}\n"
        )


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:
        return ""
