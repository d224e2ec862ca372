"""The embedded broker: kombu's filesystem transport, made safe for a producer and a consumer racing on one folder.

kombu writes a message by creating `<time>_<uuid>.<queue>.msg` and then filling it. A worker polling the folder can
move and read the file in between, find it empty, fail to decode it and drop the message (seen under load: a
`JSONDecodeError` in the worker and a task that never ran). Here a message is written under a name no consumer
matches and renamed into place once complete; a rename within one folder is atomic, so a consumer sees a whole
message or none.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's stubs disagree on this argument's name (filesystem's `payload`, the base's `message`)
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # "partial-<uuid>" has no "<queue>.msg" after its first dot, so _get never picks it up
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4().hex}")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
