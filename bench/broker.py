"""RabbitMQ housekeeping for the bench queues (Dramatiq's Q, Q.DQ and Q.XQ)."""

import contextlib

import pika
import pika.exceptions

from bench import config


def _names(queue: str) -> list[str]:
    return [queue, f"{queue}.DQ", f"{queue}.XQ"]


@contextlib.contextmanager
def _channel():
    connection = pika.BlockingConnection(pika.URLParameters(config.BROKER_URL))
    try:
        yield connection
    finally:
        connection.close()


def purge(*queues: str) -> int:
    """Drop every ready message of the bench queues; returns how many were dropped.

    Messages held unacked by a running consumer are not purged: stop the workers first.
    """
    dropped = 0
    with _channel() as connection:
        for queue in queues:
            for name in _names(queue):
                channel = connection.channel()
                try:
                    channel.queue_declare(name, passive=True)
                    dropped += channel.queue_purge(name).method.message_count
                except pika.exceptions.ChannelClosedByBroker:
                    continue  # the queue does not exist yet
                channel.close()
    return dropped


def depth(queue: str) -> dict[str, int]:
    """Ready messages in each of the queue's three RabbitMQ queues."""
    counts = {}
    with _channel() as connection:
        for name in _names(queue):
            channel = connection.channel()
            try:
                counts[name] = channel.queue_declare(name, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                counts[name] = 0
                continue
            channel.close()
    return counts
