# The bot's image: `docker compose up -d` runs it in server mode against PostgreSQL.
# Stage 1 builds a virtual environment with every dependency (cached while pyproject.toml is
# unchanged); stage 2 copies it into a slim image that runs as an unprivileged user.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /venv
COPY pyproject.toml README.md ./
# dependencies first (a layer that survives code changes): install the project's requirements
# from its metadata, then the package itself without them
RUN mkdir bot && touch bot/__init__.py \
    && /venv/bin/pip install . \
    && /venv/bin/pip uninstall -y interview-bot
COPY bot ./bot
RUN /venv/bin/pip install --no-deps .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/venv/bin:$PATH" HTTP_PORT=3000
RUN useradd --create-home --uid 10001 bot
WORKDIR /app
COPY --from=build /venv /venv
COPY questions ./questions
COPY migrations ./migrations
RUN mkdir -p /app/data && chown bot /app/data
USER bot
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"HTTP_PORT\", \"3000\")}/healthz', timeout=4); sys.exit(0)"]
CMD ["python", "-m", "bot", "serve"]
