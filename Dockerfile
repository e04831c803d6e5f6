FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=crm_bank.settings.production
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=build-only-collectstatic-never-serves-a-request-with-this-key-0123456789 DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost \
    DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --no-input
# The upload folder exists in the image owned by the app user, so the named volume mounted there
# (docker-compose `media`) starts writable for it.
RUN useradd --create-home crm && mkdir -p /srv/media && chown crm /srv/media
USER crm
EXPOSE 8000
CMD ["gunicorn", "crm_bank.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
