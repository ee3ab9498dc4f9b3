"""``make cluster-up`` / ``make cluster-down`` / ``make cluster-status``: a local test cluster in the background.

TEST HARNESS ONLY. ``up`` starts etcd, kube-apiserver, kube-controller-manager (``harness.ControlPlane``)
and the test node agent (``fake_kubelet.py``, as a separate process), writes the admin kubeconfig and
prints where it is. State lives in ``$SAFE_SYNTH_CLUSTER_RUN`` (default
``~/.cache/safe-synthesizer/cluster-run``): ``kubeconfig``, ``state.json`` (ports, pids), ``logs/``.
``down`` kills every process group recorded in ``state.json`` and removes the folder (``--keep-logs``
keeps ``logs/``).

Usage::

    python tests/cluster/cli.py up [--gpus N] [--cpu 8] [--memory 32Gi]
    export KUBECONFIG=~/.cache/safe-synthesizer/cluster-run/kubeconfig
    python tests/cluster/cli.py status
    python tests/cluster/cli.py down [--keep-logs]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import (
    CLUSTER_DIR,
    ClusterError,
    ControlPlane,
    cache_root,
    group_alive,
    kill_process_group,
    remove_state_dir,
    venv_python,
)

NODE_NAME = "safe-synth-node-0"
STOP_ORDER = ("node-agent", "kube-controller-manager", "kube-apiserver", "etcd")


def run_dir() -> Path:
    """The state folder of the background cluster."""
    return Path(os.environ.get("SAFE_SYNTH_CLUSTER_RUN", cache_root() / "cluster-run"))


def _alive(pid: int) -> bool:
    return group_alive(pid)


def _read_state(state_dir: Path) -> dict[str, object] | None:
    try:
        return dict(json.loads((state_dir / "state.json").read_text()))
    except (OSError, ValueError):
        return None


def up(args: argparse.Namespace) -> int:
    """Start the control plane and the node agent, detached from this process."""
    state_dir = run_dir()
    state = _read_state(state_dir)
    if state and all(_alive(int(pid)) for pid in dict(state["pids"]).values()):  # type: ignore[arg-type]
        print(f"cluster already running: KUBECONFIG={state['kubeconfig']}")
        return 0
    if state_dir.exists():
        down(argparse.Namespace(keep_logs=False, quiet=True))
    started = time.monotonic()
    plane = ControlPlane(state_dir)
    try:
        plane.start()
    except ClusterError as err:
        print(f"cluster-up failed: {err}\nlogs kept in {plane.logs_dir}", file=sys.stderr)
        return 1
    agent_log = plane.logs_dir / "node-agent.log"
    with agent_log.open("ab") as log:
        agent = subprocess.Popen(  # noqa: S603 - our own script
            [
                venv_python(),
                str(CLUSTER_DIR / "fake_kubelet.py"),
                f"--kubeconfig={plane.kubeconfig}",
                f"--work-dir={state_dir / 'node-agent'}",
                f"--log-dir={plane.logs_dir / 'pods'}",
                f"--node-name={NODE_NAME}",
                f"--gpus={args.gpus}",
                f"--cpu={args.cpu}",
                f"--memory={args.memory}",
                f"--python={venv_python()}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    plane.record_pid("node-agent", agent.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if agent.poll() is not None:
            print(f"node agent exited ({agent.returncode}); see {agent_log}", file=sys.stderr)
            down(argparse.Namespace(keep_logs=True, quiet=True))
            return 1
        status, body = plane.get(f"/api/v1/nodes/{NODE_NAME}")
        if status == 200:
            conditions = json.loads(body).get("status", {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                break
        time.sleep(0.3)
    else:
        print(f"node {NODE_NAME} not Ready after 60s; see {agent_log}", file=sys.stderr)
        down(argparse.Namespace(keep_logs=True, quiet=True))
        return 1
    print(f"cluster up in {time.monotonic() - started:.1f}s: {plane.server}")
    print(f"logs: {plane.logs_dir}")
    print(f"export KUBECONFIG={plane.kubeconfig}")
    return 0


def down(args: argparse.Namespace) -> int:
    """Kill every recorded process group and remove the state folder."""
    state_dir = run_dir()
    state = _read_state(state_dir)
    if state is None and not state_dir.exists():
        if not getattr(args, "quiet", False):
            print("no cluster running")
        return 0
    pids: dict[str, int] = {k: int(v) for k, v in dict(state["pids"]).items()} if state else {}  # type: ignore[arg-type]
    for name in [*STOP_ORDER, *sorted(set(pids) - set(STOP_ORDER))]:
        pid = pids.get(name)
        if pid and _alive(pid):
            kill_process_group(pid)
    remove_state_dir(state_dir, keep_logs=args.keep_logs)
    if not getattr(args, "quiet", False):
        kept = f"; logs kept in {state_dir / 'logs'}" if args.keep_logs else ""
        print(f"cluster stopped{kept}")
    return 0


def status(_: argparse.Namespace) -> int:
    """Print the recorded state and whether each process is alive."""
    state = _read_state(run_dir())
    if state is None:
        print("no cluster running")
        return 1
    ok = True
    for name, pid in dict(state["pids"]).items():  # type: ignore[arg-type]
        alive = _alive(int(pid))
        ok &= alive
        print(f"{name:26} pid {pid:>7} {'running' if alive else 'DEAD'}")
    print(f"server: {state['server']}\nkubeconfig: {state['kubeconfig']}\nlogs: {state['logs']}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and dispatch."""
    parser = argparse.ArgumentParser(description="local test cluster (test harness)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start etcd, kube-apiserver, kube-controller-manager and the node agent")
    p_up.add_argument("--gpus", type=int, default=1)
    p_up.add_argument("--cpu", default="8")
    p_up.add_argument("--memory", default="32Gi")
    p_up.set_defaults(func=up)
    p_down = sub.add_parser("down", help="stop everything and remove the state folder")
    p_down.add_argument("--keep-logs", action="store_true")
    p_down.set_defaults(func=down)
    sub.add_parser("status", help="show the processes").set_defaults(func=status)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
