# Image for the project's workers (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cme ./cme
COPY domain ./domain
COPY projections ./projections
COPY consumers ./consumers
COPY crypto_shredding ./crypto_shredding
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT []
