# Image for the project's workers (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cme ./cme
COPY domain ./domain
COPY application ./application
COPY eventstore ./eventstore
COPY projections ./projections
COPY consumers ./consumers
COPY crypto_shredding ./crypto_shredding
# devtools/ (local services, benchmarks, the demo) stays out of the image.
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT []
