"""Benchmark: importing e-mails from a real IMAP server (Debian's Dovecot on loopback) into tickets.

    python bench/mail_bench.py [--messages 10000] [--batch 500]

1. setup (not timed into the figure, but printed): start a throwaway Dovecot (tests/service/mailservers.py,
   mdbox storage), APPEND MESSAGES realistic customer e-mails over IMAP: Polish text, 70% new conversations
   and 29% replies to earlier ones (In-Reply-To/References), 1% the same e-mail delivered twice; some in windows-1250 or
   ISO-8859-2, some HTML-only, some with a small attachment;
2. timed, in a child process with a fresh SQLite database (temp ZAPLECZE_DATA_DIR): what `zaplecze service
   fetch-mail` does, run after run of BATCH messages (as the worker does every minute) until the mailbox has
   no new mail: fetch over IMAP, thread, write tickets, flag \\Seen. Then the result is checked (tickets,
   messages and import records add up).

Skips cleanly (prints why, returns {"skipped": ...}) when Dovecot is not installed.
`main(argv)` returns the figures as a dict (for bench/run.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK_ARGS = ["--messages", "1000"]

SUBJECTS = [
    "Gdzie jest moja paczka? Zamówienie #{n}",
    "Zwrot towaru z zamówienia #{n}",
    "Reklamacja: uszkodzony produkt (#{n})",
    "Faktura VAT do zamówienia #{n}",
    "Zmiana adresu dostawy",
    "Pytanie o dostępność rozmiaru M",
    "Płatność nie przeszła — co dalej?",
    "Brakujący element w przesyłce #{n}",
    "Odstąpienie od umowy, zamówienie #{n}",
    "Kiedy wróci zwrot pieniędzy?",
]
SENTENCES = [
    "Dzień dobry, piszę w sprawie mojego zamówienia.",
    "Paczka miała dotrzeć w środę, a nadal jej nie ma.",
    "Kubek przyszedł pęknięty, w załączeniu przesyłam zdjęcie.",
    "Proszę o wystawienie faktury na firmę, NIP 526-025-09-95.",
    "Czy mogę zmienić paczkomat na KRA01M?",
    "Chciałabym zwrócić dwie sztuki, bo rozmiar jest za mały.",
    "Płatność została pobrana dwa razy, proszę o wyjaśnienie.",
    "Zależy mi na szybkiej odpowiedzi, bo to prezent na święta.",
    "Żółty kolor różni się od tego na zdjęciu w sklepie.",
    "Łączę pozdrowienia i dziękuję za pomoc.",
]
NAMES = [
    "Anna Kowalska",
    "Jan Nowak",
    "Małgorzata Wiśniewska",
    "Piotr Wójcik",
    "Zofia Kamińska",
    "Łukasz Żak",
]


def build_messages(count: int, seed: int = 7) -> tuple[list[bytes], dict]:
    """`count` raw messages and what importing them must give (new tickets, threaded, duplicates)."""
    rng = random.Random(seed)
    out: list[bytes] = []
    threads: list[tuple[str, str, str, str]] = []  # (message-id, subject, sender name, address)
    expect = {"created": 0, "appended": 0, "duplicate": 0}
    for i in range(count):
        roll = rng.random()
        if roll < 0.01 and out:
            out.append(out[rng.randrange(len(out))])  # the same e-mail delivered twice
            expect["duplicate"] += 1
            continue
        m = EmailMessage()
        if roll < 0.30 and threads:
            parent_id, subject, name, addr = threads[rng.randrange(len(threads))]
            m["Subject"] = "Re: " + subject
            m["In-Reply-To"] = parent_id
            m["References"] = parent_id
            expect["appended"] += 1
        else:
            name = rng.choice(NAMES)
            addr = f"klient{rng.randrange(3000)}@example.com"
            subject = rng.choice(SUBJECTS).format(n=10000 + i)
            m["Subject"] = subject
            expect["created"] += 1
        msg_id = make_msgid(idstring=f"b{i}", domain="poczta.example")
        if not m["In-Reply-To"]:
            threads.append((msg_id, subject, name, addr))
        m["From"] = f"{name} <{addr}>"
        m["To"] = "sklep@example.com"
        m["Message-ID"] = msg_id
        m["Date"] = format_datetime(dt.datetime(2026, 11, 1, 9, i % 60, tzinfo=dt.UTC))
        body = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(3, 12)))
        kind = rng.random()
        if kind < 0.10:
            m.set_content(body, charset="windows-1250", cte="8bit")  # type: ignore[call-arg]
        elif kind < 0.20:
            m.set_content(body, charset="iso-8859-2", cte="quoted-printable")  # type: ignore[call-arg]
        elif kind < 0.30:
            m.set_content(f"<html><body><p>{body}</p></body></html>", subtype="html")
        else:
            m.set_content(body + "\n\n-- \n" + name)
        if rng.random() < 0.08:
            m.add_attachment(
                rng.randbytes(rng.randint(2_000, 40_000)),
                maintype="image",
                subtype="jpeg",
                filename="zdjęcie uszkodzenia.jpg",
            )
        out.append(m.as_bytes())
    return out, expect


def _child(batch: int) -> dict:
    import resource

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.utils import translation

    from zaplecze.service import mail
    from zaplecze.service.models import InboundMail, Ticket, TicketMessage

    translation.activate("en")
    totals: dict[str, int] = {
        "fetched": 0,
        "created": 0,
        "appended": 0,
        "duplicate": 0,
        "refused": 0,
        "failed": 0,
    }
    runs = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while True:
        report = mail.mail_fetch(limit=batch)
        if report.error:
            raise RuntimeError(report.error)
        runs += 1
        for k in totals:
            totals[k] += getattr(report, k)
        if report.fetched == 0:
            break
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        **totals,
        "runs": runs,
        "seconds": seconds,
        "per_second": totals["fetched"] / seconds if seconds else None,
        "cpu_seconds": cpu,  # of the importing process (Dovecot's share not included)
        "load_average": os.getloadavg()[0],
        "tickets": Ticket.objects.count(),
        "ticket_messages_in": TicketMessage.objects.filter(direction="in").count(),
        "import_records": InboundMail.objects.count(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="IMAP import benchmark (Dovecot on loopback, SQLite)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="messages per fetch run (worker: 500)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(args.batch)
        print(json.dumps(out))
        return out
    sys.path.insert(0, str(ROOT))
    from tests.service.mailservers import DOVECOT, Dovecot, dovecot_available

    if not dovecot_available():
        reason = f"Dovecot ({DOVECOT}) is not installed: apt-get install dovecot-imapd"
        print(f"mail: skipped, {reason}")
        return {"skipped": reason}
    messages, expect = build_messages(args.messages)
    tmp = Path(tempfile.mkdtemp(prefix="zaplecze-bench-mail-"))
    server = Dovecot(mail_format="mdbox")  # maildir APPENDs slow down as the folder grows (setup only)
    try:
        server.start()
        t0 = time.perf_counter()
        server.append(*messages)
        append_s = time.perf_counter() - t0
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPLECZE_")}
        env.update(
            {
                "ZAPLECZE_DATA_DIR": str(tmp / "data"),
                "DJANGO_SETTINGS_MODULE": "zaplecze.settings",
                "ZAPLECZE_LOG_LEVEL": "WARNING",
                "ZAPLECZE_DEMO": "0",
                "ZAPLECZE_IMAP_HOST": server.host,
                "ZAPLECZE_IMAP_PORT": str(server.port),
                "ZAPLECZE_IMAP_USER": server.user,
                "ZAPLECZE_IMAP_PASSWORD": server.password,
                "ZAPLECZE_IMAP_MARK_SEEN": "1",
            }
        )
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--batch", str(args.batch)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.stderr:
            sys.stderr.write(proc.stderr[-5000:])
        if proc.returncode != 0:
            raise RuntimeError(f"bench child failed with exit code {proc.returncode}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    out.update({"messages": len(messages), "append_seconds": append_s, "expected": expect})
    ok = (
        out["fetched"] == len(messages)
        and out["created"] == expect["created"] == out["tickets"]
        and out["appended"] == expect["appended"]
        and out["duplicate"] == expect["duplicate"]
        and out["import_records"] == len(messages)
        and out["ticket_messages_in"] == expect["created"] + expect["appended"]
    )
    out["checked"] = ok
    print(
        f"IMAP import: {out['fetched']:,} e-mails from Dovecot into tickets in {out['seconds']:.1f} s "
        f"({out['per_second']:,.0f}/s; {out['cpu_seconds']:.1f} s CPU of the importer, machine load "
        f"{out['load_average']:.1f}; {out['runs']} fetch runs of {args.batch}): {out['created']:,} new tickets, "
        f"{out['appended']:,} threaded replies, {out['duplicate']:,} duplicates; peak RSS "
        f"{out['peak_rss_mb']:.0f} MB (APPEND of the test mail took {append_s:.1f} s)"
        + ("" if ok else f"\nMISMATCH against the expected counts {expect}")
    )
    if not ok:
        raise RuntimeError("mail bench: the imported counts do not add up")
    return out


if __name__ == "__main__":
    main()
