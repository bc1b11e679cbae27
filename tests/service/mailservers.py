"""Real mail servers on loopback for the e-mail tests and the mail benchmark: Debian's Dovecot as a throwaway
IMAP server (temp base_dir, one passwd-file user, Maildir in a temp dir, plaintext login on loopback, no TLS)
and aiosmtpd as the SMTP server that captures what Zaplecze sends.

Plain Python (no pytest) so that bench/mail_bench.py can use it too.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

DOVECOT = os.environ.get("ZAPLECZE_DOVECOT", "/usr/sbin/dovecot")


def dovecot_available() -> bool:
    return os.path.exists(DOVECOT)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


_CONFIG = """\
# Throwaway Dovecot for Zaplecze's tests: loopback only, plaintext login, no TLS.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = {mail_format}:{root}/mail/%n
mail_uid = {uid}
mail_fsync = never
mail_gid = {gid}
imap_max_line_length = 1M
mail_max_userip_connections = 100
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap {{
  process_limit = 100
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Processed {{
    auto = create
  }}
}}
"""


@dataclass
class Dovecot:
    """One Dovecot instance: `start()`, `append()` messages, `stop()`. Use as a context manager."""

    user: str = "sklep@example.com"
    password: str = "haslo-Tajne-1"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="zdc-")))
    port: int = 0
    host: str = "127.0.0.1"
    #: maildir (one file per message, like most real servers); the benchmark uses mdbox, whose APPENDs do
    #: not slow down as the folder grows
    mail_format: str = "maildir"
    proc: subprocess.Popen | None = None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def start(self) -> Dovecot:
        if not dovecot_available():
            raise RuntimeError(f"Dovecot is not installed ({DOVECOT}); apt-get install dovecot-imapd")
        # Running as root, Dovecot refuses mail for UID 0: the mail then belongs to the `dovecot` user.
        account = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        self.config.write_text(
            _CONFIG.format(
                root=self.root,
                user=account.pw_name,
                group=grp.getgrgid(account.pw_gid).gr_name,
                uid=account.pw_uid,
                gid=account.pw_gid,
                port=self.port,
                mail_format=self.mail_format,
            )
        )
        if os.geteuid() == 0:
            os.chmod(self.root, 0o755)  # noqa: S103 - the dovecot user must reach its dirs
            for sub in ("mail", "home", "state"):
                os.chown(self.root / sub, account.pw_uid, account.pw_gid)
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() ends the IMAP sessions too
        )
        try:
            wait_port(self.port)
        except OSError:
            self.stop()
            raise RuntimeError(f"Dovecot did not start: {self.log()[-2000:]}")
        return self

    def stop(self) -> None:
        """Stop the server (the mail stays in `root` until `cleanup()`)."""
        if self.proc is not None and self.proc.poll() is None:
            # The master leaves running IMAP sessions alive when it stops: end its whole process group, as a
            # server going down would.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # any session still finishing
            except ProcessLookupError:
                pass
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None
        # The master's children exit when it does; give them a moment to free the port.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    time.sleep(0.05)
            except OSError:
                break

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def settings(self) -> dict:
        """The Zaplecze IMAP settings that point at this server."""
        return {
            "IMAP_HOST": self.host,
            "IMAP_PORT": self.port,
            "IMAP_USER": self.user,
            "IMAP_PASSWORD": self.password,
            "IMAP_FOLDER": "INBOX",
            "IMAP_SSL": False,
            "IMAP_STARTTLS": False,
        }

    def connect(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=30)
        client.login(self.user, self.password)
        return client

    def append(self, *messages: bytes, folder: str = "INBOX", flags: str = "") -> None:
        """APPEND raw RFC 822 messages (bytes) to a folder of the user's mailbox."""
        client = self.connect()
        try:
            for raw in messages:
                typ, data = client.append(folder, flags or None, None, raw)
                if typ != "OK":
                    raise RuntimeError(f"APPEND failed: {data!r}")
        finally:
            client.logout()

    def messages(self, folder: str = "INBOX") -> list[tuple[int, set[str], Message]]:
        """(UID, flags, parsed headers) of every message in a folder, read without setting \\Seen."""
        client = self.connect()
        try:
            client.select(folder, readonly=True)
            typ, data = client.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER])")
            out = []
            for item in data:
                if not isinstance(item, tuple):
                    continue
                meta = item[0].decode()
                uid = int(meta.split("UID ", 1)[1].split()[0].rstrip(")"))
                flags = (
                    set(meta.split("FLAGS (", 1)[1].split(")", 1)[0].split()) if "FLAGS (" in meta else set()
                )
                out.append((uid, flags, message_from_bytes(item[1])))
            return out
        finally:
            client.logout()


class SmtpCapture:
    """aiosmtpd on a loopback port; every message it receives is kept (raw bytes and envelope)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[dict] = []
        self.controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.received.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "raw": bytes(envelope.original_content or envelope.content),
            }
        )
        return "250 Message accepted for delivery"

    def start(self) -> SmtpCapture:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SmtpCapture:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def messages(self) -> list[Message]:
        return [message_from_bytes(m["raw"]) for m in self.received]

    def settings(self) -> dict:
        """Django settings that send through this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_TIMEOUT": 5,
        }
