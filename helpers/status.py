"""`make status`: the plan as a table (every planned run stored, partial, running, missing or waiting, the time left,
the workers in SLURM's queue), and `make pdf`'s pre-flight under full (`check_trainable_here`). Reads the results
folder only: never trains.
"""
from __future__ import annotations

from .formatting import format_time
from .errors import UserError
from .commands import plan_command
from .profiles import shared_settings
from .results import describe_holder
from .runstates import RunState, run_states, trainable_here


def status_table(states: list[RunState], queue: list | None = None) -> str:
    """The plan as a text table (run, chapters, state, time per epoch, what is still to do), and the workers."""
    rows = [("run", "chapters", "state", "per epoch", "to do")]
    for s in states:
        epochs = s.run.config.epochs if s.run.config else None
        state = {"partial": f"partial at epoch {s.epochs_done}/{epochs}", "stored": f"stored ({s.epochs_done} epochs)",
                 "waiting": f"waiting for the choice among {len(s.run.waits_on)} run(s)",
                 "running": f"running ({describe_holder(s.holder)})" if s.holder else "running"}.get(s.state, s.state)
        per_epoch = (f"{s.seconds_per_epoch:.2f} s" if s.seconds_per_epoch else f"~{s.per_epoch:.2f} s"
                     + ("" if s.estimate else "*"))
        todo = "-" if s.state == "stored" else "~" + format_time(s.remaining_seconds)
        rows.append((s.run.slot, ",".join(s.run.exercises), state, per_epoch, todo))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    left = [s for s in states if s.state != "stored"]
    built_in = [s for s in left if not (s.seconds_per_epoch or s.estimate)]
    lines.append(f"\n{len(states) - len(left)} of {len(states)} runs stored; {len(left)} to do, about "
                 f"{format_time(sum(s.remaining_seconds for s in left))} of training"
                 + ("." if left else ". Everything is stored: make pdf renders without training."))
    if left:
        lines.append("Times are measured where this run or stored runs of its kind have epochs"
                     + (f"; * marks the built-in figures for a course GPU node ({len(built_in)} run(s))."
                        if built_in else "."))
    if queue is not None:
        lines.append(workers_line(queue))
    return "\n".join(lines)


def workers_line(queue: list) -> str:
    """The workers in SLURM's queue (from squeue), one phrase each, and the runs the running ones hold."""
    if not queue:
        return "Workers in SLURM's queue: none."
    return f"Workers in SLURM's queue: {len(queue)}: " + "; ".join(
        f"{job.job_id} {job.state.lower()}" + (f" on {job.reason}" if job.state == "RUNNING" else f" ({job.reason})")
        for job in queue) + "."


def check_trainable_here(profile: str, overrides: dict | None = None, data_root=None) -> None:
    """Raise a UserError naming the runs that are not stored and that this machine cannot train."""
    import torch
    states = run_states(profile, overrides, data_root)
    cannot = {s.run.slot: "being trained by another process right now" for s in states if s.state == "running"}
    cannot.update({s.run.slot: "needs a GPU" for s in states if s.state in ("missing", "partial")
                   and not trainable_here(s.run.config, torch.cuda.is_available())})
    cannot.update({s.run.slot: "waits on a choice among runs that need a GPU" for s in states
                   if s.state == "waiting" and set(s.run.waits_on) & set(cannot)})
    if cannot:
        from .datakeys import other_data_hint
        s = shared_settings(profile, overrides, data_root)
        hint = other_data_hint(dict.fromkeys(st.config.dataset for st in states), s.data_root, s.results_dir)
        shown = [f"{slot} ({why})" for slot, why in cannot.items()]
        more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
        raise UserError(f"{len(cannot)} run(s) of profile {profile} are not stored and cannot be trained on this "
                        f"machine: {', '.join(shown[:8])}{more}. Train them on the cluster with "
                        f"`{plan_command('sbatch', profile, overrides, data_root)}` (progress: "
                        f"`{plan_command('status', profile, overrides, data_root)}`), then run this again. "
                        "Nothing was executed." + (f" Note: {hint}" if hint else ""))
