import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from hanas_platform.api import InputError
from search_app import teams


class Command(BaseCommand):
    help = ("Set a user's password so they can log into the dashboard (users made by create_api_token "
            "--create-user have none). The password is read from stdin with --password-stdin (first line), "
            "otherwise asked twice at the terminal; never from the command line.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    def handle(self, username, password_stdin, **options):
        try:
            user = teams.user_get(username)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        if password_stdin or not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass(f"password for {username}: ")
            if getpass.getpass("again: ") != password:
                raise CommandError("the passwords differ")
        try:
            teams.password_set(user, password)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"password set for {username!r}")
