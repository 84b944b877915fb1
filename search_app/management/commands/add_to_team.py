from django.core.management.base import BaseCommand, CommandError

from hanas_platform.api import InputError
from search_app import teams


class Command(BaseCommand):
    help = ("Add a user to a team (--admin: also a team admin, who may add/remove members over REST and cancel "
            "the team's runs); --remove takes them out.")

    def add_arguments(self, parser):
        parser.add_argument("team")
        parser.add_argument("username")
        parser.add_argument("--admin", action="store_true", help="make the user a team admin")
        parser.add_argument("--remove", action="store_true", help="remove the user from the team")

    def handle(self, team, username, admin, remove, **options):
        try:
            group, user = teams.team_get(team), teams.user_get(username)
            if remove:
                teams.member_remove(group, user)
                self.stdout.write(f"removed {username!r} from {team!r}")
                return
            row = teams.member_add(group, user, admin=admin)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{username!r} is a member of {team!r}" + (" (team admin)" if row["admin"] else ""))
