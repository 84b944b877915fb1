"""kombu's filesystem transport with atomic writes: the embedded default's local queue (no server).

kombu's own ``_put`` creates the message file and then writes it, so a consumer listing the folder in between
can take an empty file (a JSON error in the worker). Here the message is written under a temporary name that
consumers ignore (it does not end in ``.<queue>.msg``) and renamed into place, which is atomic on POSIX.
"""
from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        tmp = os.path.join(self.data_folder_out, f".tmp-{name}.part")
        try:
            with open(tmp, "wb", buffering=0) as fh:
                fh.write(str_to_bytes(dumps(payload)))
            os.replace(tmp, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
