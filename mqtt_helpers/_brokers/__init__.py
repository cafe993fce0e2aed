"""Broker machinery behind ``start_broker()``: the amqtt engine and its MQTT fixes, Mosquitto, certificates, passwords.
Learners need not read it: lessons use only the handle ``start_broker()`` returns (see ``mqtt_helpers/handle.py``)."""
