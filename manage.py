#!/usr/bin/env python
"""Django's command-line utility for the Hyb-HANAS platform."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hanas_platform.settings")
    from django.core.management import execute_from_command_line

    from hanas_platform.native import preload

    preload()  # qiskit's compiled modules on the main thread first (see hanas_platform/native.py)

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
