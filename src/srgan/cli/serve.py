"""``srgan serve``: the web page and JSON API (``pip install 'srgan[web]'``)."""

from __future__ import annotations

import argparse

from srgan.runtime import INFERENCE_PRECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from srgan.cli.options import Number

    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: this computer only)")
    parser.add_argument("--port", type=Number(int, 1, 65535), default=7860)
    parser.add_argument("--model", action="append", help="model to offer (repeatable; default: the bundled ones)")
    parser.add_argument(
        "--max-pixels",
        type=Number(int, 1),
        default=4_000_000,
        help="largest accepted input, in pixels (default 4 MP: one job then peaks near 2 GiB, see README)",
    )
    parser.add_argument(
        "--max-upload-mb", type=Number(float, 0, above=True), default=25.0, help="largest accepted upload, in MB"
    )
    parser.add_argument("--workers", type=Number(int, 1), default=1, help="images upscaled at the same time")
    parser.add_argument(
        "--queue", type=Number(int, 1), default=8, help="jobs waiting or running before new ones get 503"
    )
    parser.add_argument(
        "--upload-timeout",
        type=Number(float, 0, 3600, above=True),
        default=60.0,
        metavar="S",
        help="seconds an upload may take to arrive; its place in the queue is then freed (default 60)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=INFERENCE_PRECISIONS)


def run(args: argparse.Namespace) -> int:
    from srgan.cli import CommandError
    from srgan.modelfiles.bundled import bundled_names

    try:
        import uvicorn

        from srgan.web.app import ServeConfig, create_app
    except ImportError as exc:
        raise CommandError("srgan serve needs the web extra: pip install 'srgan[web]'") from exc
    models = args.model or bundled_names()
    _check_listen(args.host, args.port)  # before the models load and the results folder is made
    try:
        config = ServeConfig(
            models,
            args.max_pixels,
            args.max_upload_mb,
            args.workers,
            args.queue,
            args.device,
            args.precision,
            upload_seconds=args.upload_timeout,
        )
        app = create_app(config)
    except (ValueError, ImportError) as exc:  # includes a model file that cannot be loaded
        raise CommandError(str(exc)) from exc
    print(f"srgan serve: http://{args.host}:{args.port}/  (models: {', '.join(models)}; Ctrl-C to stop)")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        app.state.jobs.shutdown()  # also when uvicorn stops before its lifespan ran: no folder left behind
    return 0


def _check_listen(host: str, port: int) -> None:
    """Refuse an address this process cannot listen on (taken, not this machine's), with one sentence."""
    import socket

    from srgan.cli import CommandError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
