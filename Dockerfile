FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH="/opt/venv/bin:$PATH"

RUN pip install --no-cache-dir "uv==0.13.9" \
    && useradd --create-home --uid 1000 app

WORKDIR /app
# Dependencies first, pinned in pyproject.toml, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN uv sync --no-default-groups --no-install-project

COPY manage.py ./
COPY project ./project
COPY followups ./followups
COPY bot ./bot
# Settings need a real key to load; this throwaway one is not kept in the image.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --no-input -v 0

USER app
EXPOSE 8000
CMD ["gunicorn", "project.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
