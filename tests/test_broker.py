"""start_broker(): where it listens, how it stops, and what it says when it cannot start."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

import mqtt_helpers
from mqtt_helpers import BrokerStartError, BrokerUnreachable, ConnectionRefused, connect_client, start_broker, subscribe
from mqtt_helpers._brokers import mosquitto as mosquitto_module
from mqtt_helpers._brokers.loop import BrokerLoop
from mqtt_helpers._brokers.ports import start_error
from mqtt_helpers.broker import resolve_kind
from tests.helpers import accepts, other_loopback, require, round_trip


def test_listens_on_loopback_only(broker: mqtt_helpers.BrokerHandle) -> None:
    assert broker.host == "127.0.0.1"
    assert accepts("127.0.0.1", broker.port)
    # Another address of this machine, where a socket bound to every interface answers (other_loopback shows it).
    assert not accepts(other_loopback(), broker.port)


def test_two_brokers_get_different_free_ports(broker_kind: str) -> None:
    with start_broker(broker_kind) as first, start_broker(broker_kind) as second:
        assert first.port != second.port
        assert 1883 not in (first.port, second.port)
        assert round_trip(first) == round_trip(second) == "ping"


def test_context_manager_stops_and_stop_is_idempotent(broker_kind: str) -> None:
    with start_broker(broker_kind) as broker:
        port = broker.port
        assert round_trip(broker) == "ping"
    assert not accepts("127.0.0.1", port)
    broker.stop()
    broker.stop()


def test_start_stop_start_again(broker_kind: str) -> None:
    for _ in range(2):
        broker = start_broker(broker_kind)
        assert round_trip(broker) == "ping"
        broker.stop()
        assert not accepts(broker.host, broker.port)


def test_no_thread_process_or_port_left_after_stop(broker_kind: str) -> None:
    threads_before = set(threading.enumerate())
    broker = start_broker(broker_kind, tls=True, websockets=True)
    ports = [broker.port, broker.tls_port, broker.ws_port]
    ca_folder = Path(str(broker.ca_file)).parent
    process = broker.process if isinstance(broker, mosquitto_module.MosquittoBroker) else None
    assert round_trip(broker) == "ping"
    broker.stop()
    assert set(threading.enumerate()) <= threads_before, "a broker thread outlived stop()"
    assert not any(accepts("127.0.0.1", p) for p in ports if p)
    assert not ca_folder.exists(), "the certificate folder outlived stop()"
    if process is not None:
        assert process.poll() is not None, "mosquitto still runs after stop()"


def test_port_in_use_names_address_and_cause(broker_kind: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(BrokerStartError, match=rf"127\.0\.0\.1:{port}.*already in use"):
            start_broker(broker_kind, port=port)


@pytest.mark.parametrize("link", ["__cause__", "__context__"])
def test_start_error_finds_the_os_error_behind_a_wrapped_failure(link: str) -> None:
    failure = RuntimeError("the server could not start")
    setattr(failure, link, OSError(errno.EADDRINUSE, "Address already in use"))
    assert str(start_error("amqtt", "127.0.0.1:1883", failure)) == (
        "cannot start amqtt on 127.0.0.1:1883: the address is already in use "
        "(another broker is running there; stop it, or pass port=0 for a free port)"
    )
    other = RuntimeError("bad config")
    other.__cause__ = OSError(errno.EACCES, "Permission denied")
    assert (
        str(start_error("amqtt", "0.0.0.0:80", other))
        == "cannot start amqtt on 0.0.0.0:80: [Errno 13] Permission denied"
    )
    assert str(start_error("amqtt", "h:1", ValueError("no listener"))) == "cannot start amqtt on h:1: no listener"


def test_environment_variable_selects_the_broker(broker_kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_STUDY_BROKER", broker_kind)
    with start_broker() as broker:
        assert broker.kind == broker_kind
        assert round_trip(broker) == "ping"


def test_default_is_amqtt_and_unknown_names_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MQTT_STUDY_BROKER", raising=False)
    assert resolve_kind(None) == "amqtt"
    monkeypatch.setenv("MQTT_STUDY_BROKER", "rabbit")
    with pytest.raises(ValueError, match=r"MQTT_STUDY_BROKER.*'amqtt', 'mosquitto' or 'mqtt://HOST:PORT'"):
        start_broker()


def test_external_broker_handle_points_and_never_stops_it(
    broker: mqtt_helpers.BrokerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MQTT_STUDY_BROKER", broker.url)
    external = start_broker()
    assert (external.kind, external.host, external.port) == ("external", broker.host, broker.port)
    assert round_trip(external) == "ping"
    external.stop()
    assert accepts(broker.host, broker.port), "stop() on an external handle must leave that broker running"


def test_missing_mosquitto_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # A mock is the only way to make an installed binary look absent.
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(BrokerStartError, match="apt-get install mosquitto"):
        start_broker("mosquitto")


def test_anonymous_access_by_default(broker: mqtt_helpers.BrokerHandle) -> None:
    assert round_trip(broker) == "ping"


def test_users_turn_anonymous_access_off(broker_kind: str) -> None:
    with start_broker(broker_kind, users={"alice": "s3cret"}) as broker:
        assert round_trip(broker, username="alice", password="s3cret") == "ping"
        with pytest.raises(ConnectionRefused, match="Not authorized"):
            connect_client(broker)
        with pytest.raises(ConnectionRefused, match=rf"127\.0\.0\.1:{broker.port}.*Not authorized.*password"):
            connect_client(broker, username="alice", password="wrong")


def test_tls_listener_with_generated_ca(broker_kind: str) -> None:
    with start_broker(broker_kind, tls=True) as broker:
        assert broker.ca_file is not None
        assert broker.ca_file.exists()
        assert round_trip(broker, tls=True) == "ping"
        # Given an address, connect_client has no CA but the system's: the certificate must not verify, and the
        # error says to pass the handle, which carries the CA.
        assert broker.tls_port is not None
        with pytest.raises(BrokerUnreachable, match=rf"{broker.tls_port} sent a certificate that the system's CAs"):
            connect_client((broker.host, broker.tls_port), tls=True)


def test_websockets_listener(broker_kind: str) -> None:
    with start_broker(broker_kind, websockets=True) as broker:
        assert broker.ws_port
        assert broker.ws_port != broker.port
        assert round_trip(broker, transport="websockets") == "ping"
        assert not accepts(other_loopback(), broker.ws_port)


def test_amqtt_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    with start_broker("amqtt") as broker:
        client = connect_client(broker)
        sock = client.socket()
        assert sock is not None
        sock.close()  # an abrupt loss makes amqtt log errors by default
        client.loop_stop()
        assert round_trip(broker) == "ping"
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_mosquitto_config_stays_loopback() -> None:
    require("mosquitto")
    with start_broker("mosquitto", users={"u": "p"}, websockets=True) as broker:
        assert isinstance(broker, mosquitto_module.MosquittoBroker)
        config = (broker.folder / "mosquitto.conf").read_text()
        assert f"listener {broker.port} 127.0.0.1" in config
        assert f"listener {broker.ws_port} 127.0.0.1" in config
        assert "allow_anonymous false" in config


def flood(client: mqtt.Client, flooding: threading.Event) -> None:
    while flooding.is_set():
        client.publish("load/x", "y", qos=1)


def stop_under_load(broker_kind: str) -> float:
    """Start a broker, flood it from two publishers, and return how long stop() took."""
    broker = start_broker(broker_kind)
    received, flooding = threading.Event(), threading.Event()
    subscriber = connect_client(broker)
    subscriber.on_message = lambda c, u, m: received.set()
    subscribe(subscriber, "load/#", qos=1)
    publishers = [connect_client(broker) for _ in range(2)]
    flooding.set()
    threads = [threading.Thread(target=flood, args=(p, flooding)) for p in publishers]
    for thread in threads:
        thread.start()
    mqtt_helpers.wait_for(received, 5, what="the first flooded message")
    began = time.monotonic()
    broker.stop()
    took = time.monotonic() - began
    flooding.clear()
    for thread in threads:
        thread.join()
    for client in [subscriber, *publishers]:
        client.loop_stop()
    return took


@pytest.mark.slow
def test_stop_under_load_is_quick_and_quiet(broker_kind: str, capfd: pytest.CaptureFixture[str]) -> None:
    """Stopping while clients still publish must neither hang (amqtt's reader could
    swallow its cancellation on Python 3.11) nor print asyncio warnings."""
    for _ in range(5):
        took = stop_under_load(broker_kind)
        assert took < 5, f"stop() under load took {took:.1f} s"
    _out, err = capfd.readouterr()
    assert "raised exception" not in err, err
    assert "Traceback" not in err, err


def test_a_broker_call_that_hangs_times_out_naming_it() -> None:
    """Before Python 3.11 a future's timeout is concurrent.futures.TimeoutError, not the builtin
    TimeoutError: either way the caller gets a TimeoutError that says what did not finish."""
    loop = BrokerLoop()
    try:
        with pytest.raises(TimeoutError, match=r"^a stuck call did not finish within 0\.1 s$"):
            loop.run(asyncio.sleep(30), what="a stuck call", timeout=0.1)
    finally:
        loop.close()
