"""``python manage.py audit_key``: create the audit signing key, or print its public key.

    python manage.py audit_key --generate     # once per installation; never replaces a key
    python manage.py audit_key --generate --if-missing   # what scripts/demo runs
    python manage.py audit_key                # the public key (PEM) and its key id

The private key stays in ``REDRESS_AUDIT_KEY_FILE`` (mode 0600), outside the database
and its backups. Hand the public key to the auditors: ``verify_export --public-key``
checks an export with it, and it cannot sign.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases import signing


class Command(BaseCommand):
    help = "Create the audit signing key (--generate) or print its public key."
    requires_system_checks = []  # the key check would refuse to run before the key exists
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument(
            "--generate", action="store_true", help="Create the key file; never replaces one."
        )
        parser.add_argument(
            "--if-missing", action="store_true", help="With --generate: do nothing if it exists."
        )
        parser.add_argument("--file", help="Where the key is (default: REDRESS_AUDIT_KEY_FILE).")

    def handle(self, *args, generate, if_missing, file, **options):
        path = Path(file or settings.REDRESS_AUDIT_KEY_FILE)
        if generate:
            if path.exists():
                if if_missing:
                    self.stdout.write(f"The audit signing key {path} exists: left as it is.")
                    return
                raise CommandError(
                    f"{path} exists: a new key would leave the signatures made with it "
                    "unverifiable with the auditors' public key. Move it away first if you "
                    "really mean to replace it."
                )
            public = signing.key_generate(path)
            self.stdout.write(self.style.SUCCESS(f"Created the audit signing key {path}."))
        else:
            try:
                private = signing.key_load(str(path))
            except signing.KeyUnavailable as exc:
                raise CommandError(str(exc)) from None
            public = private.public_key()
        self.stdout.write(f"Key id: {signing.key_id(public)}")
        self.stdout.write(signing.public_key_pem(public), ending="")
