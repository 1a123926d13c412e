# The image of web, worker, beat and the one-shot migrate service (docker-compose.yml).
# What goes into the build context is limited by .dockerignore (no .venv, var/, .env*, .git).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are built into the image (var/staticfiles), never into a volume. The key only
# signs nothing during collectstatic: made here, thrown away, never written in the repository.
RUN DEBUG=false ALLOWED_HOSTS=localhost \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput
# Uploads and import reports live in a volume shared by web and worker (docker-compose.yml);
# creating the folder here gives the named volume its owner.
RUN useradd --system --uid 10001 --home-dir /app lodestone \
    && mkdir -p /data/imports/uploads /data/imports/reports \
    && chown -R lodestone /data/imports
USER lodestone
EXPOSE 8000
