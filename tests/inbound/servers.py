"""Real servers for the gateway tests: the desk's SMTP listener on a free port, and Dovecot's IMAP server.

Dovecot (Debian's dovecot-imapd; .ci/run installs it) runs from a configuration written into a
fresh directory, listening on a free loopback port, with one mailbox user. A missing dovecot
fails the tests that need it: they are never skipped.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from inbound import imap

DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/mail/%u
}}
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
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class ImapServer:
    port: int
    user: str
    password: str
    root: Path

    def mailbox(self) -> imap.Mailbox:
        return imap.Mailbox(host="127.0.0.1", port=self.port, user=self.user, password=self.password, use_ssl=False)

    @contextlib.contextmanager
    def client(self) -> Iterator[imaplib.IMAP4]:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        conn.select("INBOX")
        try:
            yield conn
        finally:
            conn.logout()

    def deliver(self, *messages: bytes) -> None:
        """Put messages into the mailbox as the provider would (IMAP APPEND)."""
        with self.client() as conn:
            for raw in messages:
                status, _ = conn.append("INBOX", None, None, raw)
                assert status == "OK"

    def flags(self) -> list[set[str]]:
        """Each message's flags, in mailbox order."""
        with self.client() as conn:
            _, data = conn.fetch("1:*", "(FLAGS)")
        found = []
        for line in data:
            if isinstance(line, bytes) and b"FLAGS" in line:
                inner = line.split(b"FLAGS (", 1)[1].split(b")", 1)[0].decode()
                found.append(set(inner.split()))
        return found


@contextlib.contextmanager
def dovecot() -> Iterator[ImapServer]:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        raise RuntimeError("These tests need Dovecot's IMAP server: apt-get install -y dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix="desk-imap-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    if os.geteuid() == 0:
        internal, login, mail_user = "dovecot", "dovenull", "dovecot"
    else:  # a developer's machine: every Dovecot process runs as the developer
        internal = login = mail_user = pwd.getpwuid(os.getuid()).pw_name
    account = pwd.getpwnam(mail_user)
    os.chown(root / "mail", account.pw_uid, account.pw_gid)
    port = free_port()
    (root / "users").write_text("desk:{PLAIN}imap-secret\n")
    conf = root / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(
            root=root, internal=internal, login=login, mail_user=account.pw_uid, mail_group=account.pw_gid, port=port
        )
    )
    process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield ImapServer(port=port, user="desk", password="imap-secret", root=root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
