"""vgp-explorer's web app (Panel + Bokeh). Importing it switches on JAX's persistent compilation cache
(``vgp_core.enable_compilation_cache``): the server, its workers, the ``vgp`` command and the Docker image's
build-time warm-up share compiled programs on disk."""

from vgp_core import enable_compilation_cache

enable_compilation_cache()
