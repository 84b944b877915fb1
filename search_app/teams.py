"""Teams (Django groups) and their administrators (TeamAdmin), issue 17: create teams, add and remove members,
set passwords. The management commands and the REST endpoints both go through here."""
from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from hanas_platform.api import InputError

from .models import TeamAdmin

TEAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}")
MIN_PASSWORD_LENGTH = 8


# ------------------------------------------------------------------------------------------ reads
def is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and (user.is_staff or user.is_superuser))


def is_team_admin(team, user) -> bool:
    return is_staff(user) or bool(user is not None and user.is_authenticated
                                  and TeamAdmin.objects.filter(team=team, user=user).exists())


def teams_of(user):
    """The teams the user belongs to (staff: every team), with an ``is_admin`` flag."""
    from django.db.models import Count

    qs = Group.objects.all() if is_staff(user) else Group.objects.filter(pk__in=user.groups.values("pk"))
    admin_of = set(TeamAdmin.objects.filter(user=user).values_list("team_id", flat=True))
    return [{"name": t.name, "members": t.n_members, "is_admin": is_staff(user) or t.pk in admin_of}
            for t in qs.annotate(n_members=Count("user")).order_by("name")]


def team_get(name: str, user=None) -> Group:
    """The team; with ``user``, only if they belong to it or are staff (others get the same 404 as for a team
    that does not exist)."""
    team = Group.objects.filter(name=str(name)).first()
    if team is None or (user is not None and not is_staff(user) and not user.groups.filter(pk=team.pk).exists()):
        raise InputError(f"team {name!r} not found", field="team", status_code=404)
    return team


def members(team) -> list[dict]:
    admins = set(TeamAdmin.objects.filter(team=team).values_list("user_id", flat=True))
    return [{"username": u.username, "admin": u.pk in admins} for u in team.user_set.order_by("username")]


def user_get(username: str):
    User = get_user_model()
    try:
        return User.objects.get(username=str(username))
    except User.DoesNotExist:
        raise InputError(f"user {username!r} not found", field="username", status_code=404) from None


# ----------------------------------------------------------------------------------------- writes
def team_create(name: str) -> Group:
    if not isinstance(name, str) or not TEAM_NAME.fullmatch(name):
        raise InputError("team name: 1-80 characters, letters, digits, space, '_', '.', '-', starting with a "
                         "letter or digit", field="name")
    with transaction.atomic():
        team, created = Group.objects.get_or_create(name=name)
    if not created:
        raise InputError(f"team {name!r} already exists", field="name", status_code=409)
    return team


def member_add(team, user, *, admin: bool = False, by=None) -> dict:
    """Add ``user`` to ``team`` (``admin``: also a team admin). ``by`` (REST callers) must be a team admin or
    staff; commands pass none."""
    if by is not None and not is_team_admin(team, by):
        raise InputError("only a team admin or staff may add members", field="team", status_code=403)
    with transaction.atomic():
        user.groups.add(team)
        if admin:
            TeamAdmin.objects.get_or_create(team=team, user=user)
    return {"username": user.username, "admin": TeamAdmin.objects.filter(team=team, user=user).exists()}


def member_remove(team, user, *, by=None) -> None:
    """Remove ``user`` from ``team`` (and from its admins). The last admin cannot be removed by a non-staff
    caller (the team would have nobody to manage it)."""
    if by is not None and not is_team_admin(team, by):
        raise InputError("only a team admin or staff may remove members", field="team", status_code=403)
    if not team.user_set.filter(pk=user.pk).exists():
        raise InputError(f"{user.username!r} is not a member of {team.name!r}", field="username", status_code=404)
    admins = TeamAdmin.objects.filter(team=team)
    if by is not None and not is_staff(by) and admins.filter(user=user).exists() and admins.count() == 1:
        raise InputError("the last team admin cannot be removed (ask staff)", field="username", status_code=409)
    with transaction.atomic():
        admins.filter(user=user).delete()
        user.groups.remove(team)


def password_set(user, password: str) -> None:
    """Set a user's password (so users made by ``create_api_token --create-user`` can log into the dashboard)."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InputError("; ".join(exc.messages), field="password") from None
    user.set_password(password)
    user.save(update_fields=["password"])
