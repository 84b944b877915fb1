from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print (creating if needed) the REST API token of a user. Use the token as 'Authorization: Token <key>'."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create-user", action="store_true", help="create the user if it does not exist")
        parser.add_argument("--email", default="")
        parser.add_argument("--rotate", action="store_true", help="replace an existing token with a new one")

    def handle(self, username, create_user, email, rotate, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            if not create_user:
                raise CommandError(f"user {username!r} does not exist (pass --create-user to create it)")
            user = User.objects.create_user(username=username, email=email)
            user.set_unusable_password()
            user.save()
            self.stderr.write(f"created user {username!r}")
        if rotate:
            Token.objects.filter(user=user).delete()
        token, created = Token.objects.get_or_create(user=user)
        self.stderr.write(("new token" if created else "existing token") + f" for {username!r}:")
        self.stdout.write(token.key)
