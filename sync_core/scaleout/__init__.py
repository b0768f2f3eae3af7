"""The scale-out core: an ingress that publishes webhooks to a bus (NATS JetStream) and N
worker processes that decide and commit them to PostgreSQL (``supplysync serve core
--bus ... --workers N``).  Modules: envelope (a message on the bus), membership (worker
slots as advisory locks; partitions dealt to live slots), store (a worker's store: owned
outbox rows, adoption, the decision lock), worker, ingress."""
