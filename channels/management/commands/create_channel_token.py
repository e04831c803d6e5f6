"""`python manage.py create_channel_token SYSTEM_CODE [--name NAME]`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels.services.systems import channel_system_register, channel_token_create


class Command(BaseCommand):
    help = "Registers a channel system (when new) and prints a new API token for it. The token is shown only once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("system_code", help="the system's code, e.g. call-centre (letters, digits, - and _)")
        parser.add_argument("--name", default="", help="the system's name when it is registered now")

    def handle(self, *args, system_code: str, name: str, **options) -> None:
        try:
            system, created = channel_system_register(code=system_code, name=name)
        except ValidationError as error:
            messages = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items())
            raise CommandError(f"Cannot register {system_code!r}: {messages}") from error
        if created:
            self.stdout.write(f"Registered channel system {system.code} ({system.name}).")
        elif name and name != system.name:
            self.stdout.write(f"Channel system {system.code} exists as {system.name!r}; its name is unchanged.")
        if not system.is_active:
            self.stdout.write(self.style.WARNING(
                f"Channel system {system.code} is inactive: its tokens are refused until it is activated in admin."
            ))
        row, token = channel_token_create(system=system)
        self.stdout.write(f"New token for {system.code} (starts with {row.prefix}). It is shown only this once; "
                          f"clients send it as “Authorization: Token <token>”:")
        self.stdout.write(token)
