FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY domain domain
COPY commands commands
COPY projections projections
COPY api api
COPY consumers consumers
COPY infra infra
RUN pip install --no-cache-dir --no-deps .
# Logs reach `docker logs` as they are written; the API listens beyond the container.
ENV PYTHONUNBUFFERED=1 CRM_HOST=0.0.0.0 CRM_PORT=8000
EXPOSE 8000
# docker-compose.yml runs the same image as `crm relay` and `crm project` too.
CMD ["crm", "serve"]
