from django.core.management.base import BaseCommand, CommandError

from hanas_platform.api import InputError
from search_app import teams


class Command(BaseCommand):
    help = "Create a team (a Django group). Add members and team admins with add_to_team."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, name, **options):
        try:
            team = teams.team_create(name)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"created team {team.name!r}")
