"""The event store's persistence: one recorder per backend, with the reads the application needs.

The eventsourcing library reads one aggregate at a time; the use cases also
need many aggregates at once, "is this stored yet", "what is about this
child" and pages of the log. Each backend answers them its own way, in a
recorder subclass named by the library's PERSISTENCE_MODULE setting (as the
library's searchable-content example does): ``postgres``, ``sqlite`` and
``popo`` (in memory). The PostgreSQL recorder also writes a batch's keys and
identity-index rows in the transaction of its events.
"""
