# vgp-explorer classroom image: the app and its JAX engine, served by `vgp serve` (app/server.py: `panel serve`,
# hardened), offline, as a non-root user.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VGP_JAX_CACHE_DIR=/opt/vgp/jax-cache

# Chromium + chromedriver draw the PNG and SVG downloads (app/components/export.py, through Selenium; HTML needs
# no browser); DejaVu gives their text a font. Debian's security updates move these versions, so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin vgp
WORKDIR /opt/vgp

# Dependencies first (cached layer), then the code.
COPY pyproject.toml README.md ./
COPY vgp_core ./vgp_core
RUN pip install --no-cache-dir . && rm -rf build ./*.egg-info
COPY app ./app
COPY assets ./assets
# the command: maps the documented VGP_* variables onto `vgp serve` flags (secrets stay in the environment)
COPY deploy/serve.sh ./deploy/serve.sh

# Pre-warm JAX's persistent compilation cache so the first student never waits for XLA.
RUN python -c "from app.warmup import warm_up_all; print('warm-up', round(warm_up_all(), 1), 's')" \
    && chown -R vgp:vgp /opt/vgp/jax-cache

USER 10001:10001
EXPOSE 5006
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/liveness' % os.environ.get('VGP_PORT', '5006'), timeout=4)"]
CMD ["/opt/vgp/deploy/serve.sh"]
