"""Sources: events consumed from message brokers (AMQP, NATS JetStream, Redis streams, MQTT).

Each broker is one module behind the `Broker` contract (`base`), found by the scheme of the
source's URL (`brokers`); third parties add brokers through the `hookhub.sources` entry point
group. `mapping` turns a message into an event; `runner` keeps one consumer per enabled source
running in each worker process, reconnecting with backoff, and acks a batch only once its events
and their deliveries are stored.
"""
