# Quotient web and worker image (the same image runs gunicorn, celery worker and beat).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY core ./core
COPY engine ./engine
COPY hierarchy ./hierarchy
COPY plans ./plans
COPY incentives ./incentives
COPY payouts ./payouts
COPY dashboards ./dashboards
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install --no-cache-dir . \
 && DEBUG=true python manage.py collectstatic --no-input -v 0 \
 && useradd --system --home /app quotient && chown -R quotient /app/var
USER quotient
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
