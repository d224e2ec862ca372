"""The embedded broker never hands a consumer a half-written message."""

import threading

import pytest
from django.conf import settings
from kombu import Connection, Queue


def _connection(folder) -> Connection:
    return Connection(
        "filesystem://localhost/",
        transport="loyalty.core.broker:Transport",
        transport_options={"data_folder_in": str(folder), "data_folder_out": str(folder), "polling_interval": 0},
    )


def test_the_embedded_broker_uses_the_atomic_transport():
    assert settings.CELERY_BROKER_URL.startswith("filesystem://")
    assert settings.CELERY_BROKER_TRANSPORT == "loyalty.core.broker:Transport"


@pytest.mark.parametrize("messages", [1500])
def test_a_consumer_racing_a_producer_receives_every_message_whole(tmp_path, messages):
    # given a consumer draining the queue folder as fast as it can while a producer writes into it
    queue = Queue("race", routing_key="race")
    received: list[dict] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def consume() -> None:
        with _connection(tmp_path) as conn:
            simple = conn.SimpleQueue(queue)
            while not (done.is_set() and len(received) >= messages):
                try:
                    message = simple.get(block=True, timeout=0.01)
                except simple.Empty:
                    if done.is_set() and len(received) >= messages:
                        break
                    continue
                except Exception as exc:  # a torn message surfaces here as a decode error
                    failures.append(exc)
                    return
                received.append(message.payload)
                message.ack()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()

    # when the producer publishes with a payload big enough to take a moment to write
    with _connection(tmp_path) as conn:
        simple = conn.SimpleQueue(queue)
        for number in range(messages):
            simple.put({"n": number, "padding": "x" * 20_000})
    done.set()
    consumer.join(timeout=60)

    # then every message arrived, whole, exactly once
    assert failures == []
    assert sorted(payload["n"] for payload in received) == list(range(messages))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("partial-")]
