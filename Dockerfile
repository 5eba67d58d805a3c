# The bot in a container: `docker compose up` runs it against PostgreSQL (see docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install .

COPY questions ./questions
COPY migrations ./migrations

RUN useradd --create-home --uid 10001 bot && mkdir -p /app/data && chown bot /app/data
USER bot

# The schema is migrated on start; `python -m bot db upgrade` does it on its own too.
CMD ["python", "-m", "bot", "run"]
