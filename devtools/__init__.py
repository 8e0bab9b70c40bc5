"""Developer tooling, outside what a council deploys: local services, benchmarks, the demo.

``devtools.services`` starts a private PostgreSQL and Kafka without Docker
(``scripts/services``); ``devtools.bench`` measures (``scripts/bench``);
``devtools.synthetic`` makes a synthetic county (no real people) for the
demo, the tests and the benchmarks; ``devtools.demo`` is ``make demo``.
The deployable packages never import it (an import-linter contract).
"""
