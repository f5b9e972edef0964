# Orientation: the web service. Migrations are applied at start (`orientation serve`).
#   docker build -t orientation .
#   docker run -p 8000:8000 -e ORIENTATION_DATABASE_URL=postgresql+psycopg://… orientation
# The outbox's worker runs as a second container from the same image: `orientation worker`.
# Everything the service writes on disk goes to /data (the code itself is read-only).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ORIENTATION_DATABASE_URL=sqlite:////data/orientation.sqlite3 \
    ORIENTATION_SECRET_KEY_FILE=/data/secret_key \
    ORIENTATION_SMS_FILE=/data/sms.log \
    ORIENTATION_MAIL_FILE=/data/mail.log

RUN useradd --system --uid 10001 --home-dir /srv/orientation orientation \
    && mkdir -p /data && chown orientation /data

WORKDIR /srv/orientation
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# Editable install: the migrations stay beside the package, where the app looks for them.
RUN pip install -e . && chown -R root:root /srv/orientation

USER orientation
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["orientation", "serve", "--host", "0.0.0.0", "--port", "8000"]
