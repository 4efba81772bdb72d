"""`make serve`: serve every model under the export root over TF Serving's REST API.

Picks, in this order:

1. the `tensorflow_model_server` binary when it is on PATH: exec'd with `--rest_api_port=PORT`,
   `--model_config_file=<export root>/models.config` (re-read every 5 s, so a newly trained model type
   appears), `--enable_batching --batching_parameters_file=serving/rest/batching.config`; warm-up is on by
   default. It listens on all interfaces (TF Serving has no REST host flag).
2. the `tensorflow/serving:<major>.<minor>.0` Docker image (the minor version of the installed tensorflow,
   since a newer exporter than server gives `Op type not registered`) when `docker info` answers and the
   image is present or can be pulled: the export root is mounted read-only at /models and a container
   variant of models.config (`models.container.config`, base paths under /models) is written next to it
   and kept in sync while the container runs. Published on HOST:PORT.
3. otherwise the development server (`serving/rest/server.py`), which speaks the same REST API.

Prints one line saying which it started. Exit code: the server's (0 after SIGTERM/Ctrl-C), 2 when the
export root or models.config is missing for TF Serving.

Usage:
    python -m serving.rest.serve --port 8501 --host 127.0.0.1 [--export-root export]
"""

import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from common import cli

SERVING_DIR = os.path.dirname(os.path.abspath(__file__))
BATCHING_CONFIG = os.path.join(SERVING_DIR, "batching.config")
MODELS_CONFIG = "models.config"
CONTAINER_CONFIG = "models.container.config"
CONTAINER_EXPORT_ROOT = "/models"
CONTAINER_BATCHING_CONFIG = "/etc/serving/rest/batching.config"
CONFIG_POLL_SECONDS = 5

_BASE_PATH = re.compile(r"""(base_path\s*:\s*)(["'])(.*?)\2""")


def serving_image() -> str:
    """The tensorflow/serving image tag matching the installed tensorflow's minor version."""
    version = importlib.metadata.version("tensorflow")
    major, minor = version.split(".")[:2]
    return f"tensorflow/serving:{major}.{minor}.0"


def container_config(config_text: str, export_root: str) -> str:
    """Rewrites models.config's absolute base paths (under `export_root`) to paths inside the container.

    Raises:
        ValueError: If a base path lies outside the export root (it would not be mounted).
    """
    root = os.path.realpath(export_root)

    def replace(match: re.Match) -> str:
        path = os.path.realpath(os.path.join(root, match.group(3)))
        relative = os.path.relpath(path, root)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            raise ValueError(f"models.config base_path {match.group(3)} is outside the export root {root}.")
        container_path = CONTAINER_EXPORT_ROOT if relative == "." else f"{CONTAINER_EXPORT_ROOT}/{relative}"
        return f"{match.group(1)}{match.group(2)}{container_path}{match.group(2)}"

    return _BASE_PATH.sub(replace, config_text)


def write_container_config(export_root: str) -> str:
    """Writes `models.container.config` next to models.config (atomically) and returns its path."""
    with open(os.path.join(export_root, MODELS_CONFIG)) as file:
        text = container_config(file.read(), export_root)
    path = os.path.join(export_root, CONTAINER_CONFIG)
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)
    return path


def docker_answers() -> bool:
    """Whether a Docker engine answers `docker info`."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def docker_image_available(image: str) -> bool:
    """Whether `image` is present locally or can be pulled now."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.run(["docker", "image", "inspect", image], **quiet).returncode == 0:
        return True
    print(f"serve: pulling {image} ...", file=sys.stderr, flush=True)
    try:
        return subprocess.run(["docker", "pull", image], stdout=subprocess.DEVNULL, timeout=600).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def model_server_command(binary: str, port: int, export_root: str) -> list[str]:
    """The tensorflow_model_server command line."""
    return [
        binary,
        f"--rest_api_port={port}",
        f"--model_config_file={os.path.join(export_root, MODELS_CONFIG)}",
        f"--model_config_file_poll_wait_seconds={CONFIG_POLL_SECONDS}",
        "--enable_batching",
        f"--batching_parameters_file={BATCHING_CONFIG}",
    ]


def docker_command(image: str, host: str, port: int, export_root: str) -> list[str]:
    """The `docker run` command line for the tensorflow/serving image (its entrypoint adds the ports)."""
    return [
        "docker",
        "run",
        "--rm",
        "--publish",
        f"{host}:{port}:8501",
        "--volume",
        f"{export_root}:{CONTAINER_EXPORT_ROOT}:ro",
        "--volume",
        f"{BATCHING_CONFIG}:{CONTAINER_BATCHING_CONFIG}:ro",
        image,
        f"--model_config_file={CONTAINER_EXPORT_ROOT}/{CONTAINER_CONFIG}",
        f"--model_config_file_poll_wait_seconds={CONFIG_POLL_SECONDS}",
        "--enable_batching",
        f"--batching_parameters_file={CONTAINER_BATCHING_CONFIG}",
    ]


def run_container(command: list[str], export_root: str) -> int:
    """Runs the container, rewriting the container config whenever models.config changes; forwards SIGTERM."""
    config_path = os.path.join(export_root, MODELS_CONFIG)
    process = subprocess.Popen(command)

    def forward(signal_number, _frame):
        process.send_signal(signal_number)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    last_modified = os.path.getmtime(config_path)
    while process.poll() is None:
        time.sleep(1)
        try:
            modified = os.path.getmtime(config_path)
            if modified != last_modified:
                last_modified = modified
                write_container_config(export_root)
        except (OSError, ValueError) as error:
            print(f"serve: cannot update {CONTAINER_CONFIG}: {error}", file=sys.stderr, flush=True)
    return process.wait()


def main(argv: list[str] | None = None) -> int:
    """Starts TF Serving (binary or Docker) or the development server; see the module docstring."""
    parser = cli.ArgumentParser(prog="python -m serving.rest.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8501, help="REST port")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: all)")
    parser.add_argument("--export-root", default="export", help="folder with models.config and <name>/<version>/")
    parser.add_argument(
        "--dev", action="store_true", help="always start the development server, even if TF Serving is available"
    )
    args = parser.parse_args(argv)
    export_root = os.path.abspath(args.export_root)
    config_path = os.path.join(export_root, MODELS_CONFIG)

    binary = None if args.dev else shutil.which("tensorflow_model_server")
    use_docker = not args.dev and binary is None and docker_answers()
    if (binary or use_docker) and not os.path.isfile(config_path):
        print(f"serve: {config_path} not found; train a model first (e.g. make train-image).", file=sys.stderr)
        return 2
    if binary:
        command = model_server_command(binary, args.port, export_root)
        print(
            f"serve: started TF Serving ({binary}) on port {args.port} (all interfaces) with {config_path}", flush=True
        )
        os.execv(binary, command)
    if use_docker:
        image = serving_image()
        if docker_image_available(image):
            try:
                write_container_config(export_root)
            except ValueError as error:
                print(f"serve: {error}", file=sys.stderr)
                return 2
            print(f"serve: started {image} in Docker on http://{args.host}:{args.port} with {config_path}", flush=True)
            return run_container(docker_command(image, args.host, args.port, export_root), export_root)
        print(f"serve: Docker answers but {image} is not available; falling back.", file=sys.stderr, flush=True)

    print(
        f"serve: started the development server (serving/rest/server.py) on http://{args.host}:{args.port} "
        f"over {export_root}",
        flush=True,
    )
    # Imported late: it loads TensorFlow, which TF Serving does not need. Stopped meanwhile: exit quietly.
    previous = {number: signal.signal(number, lambda *_: sys.exit(0)) for number in (signal.SIGTERM, signal.SIGINT)}
    from serving.rest import server

    for number, handler in previous.items():
        signal.signal(number, handler)

    code = server.main(["--export-root", export_root, "--host", args.host, "--port", str(args.port)])
    if __name__ == "__main__":
        server.exit_without_teardown(code)
    return code


if __name__ == "__main__":
    sys.exit(cli.run(main))
