FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml ./
COPY config ./config
COPY adapters ./adapters
COPY integrations ./integrations
COPY communication ./communication
COPY webhooks ./webhooks
COPY iot ./iot
COPY manage.py ./
RUN pip install --no-cache-dir .
ENV DJANGO_SETTINGS_MODULE=config.settings
