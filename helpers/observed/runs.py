"""Prose for 3.1 and 3.2: one exact gradient step, CPU against GPU, the two input pipelines."""
from __future__ import annotations

from ..findings import DeviceComparison, PipelineComparison, RunSummary, StepEffect
from ..formatting import join_words, pct, plural, points, rate, secs, times
from ..gradients import exact_decimal

OBSERVED = "**Observed.** "


def device_word(device: str | None) -> str:
    """Return "GPU" for a run recorded on CUDA and "CPU" otherwise: what ran, never what was asked."""
    return "GPU" if device == "cuda" else "CPU"


def device_label(history) -> str:
    """Return "GPU (name)" or "CPU (model, threads)" for a legend, from what the run recorded, never what was asked."""
    return f"{device_word(history.environment.get('device'))} ({history.environment.get('device_name', 'unknown')})"


def equally_fast(factor: float) -> bool:
    """True where a speed-up factor prints as 1.00x either way: no speed-up worth a word."""
    return times(factor) == times(1.0) or times(1 / factor) == times(1.0)


def faster(factor: float) -> str:
    """Return "2.3x faster", "1.5x slower" or "equally fast" for a speed-up factor (old time / new time)."""
    if equally_fast(factor):
        return "equally fast"
    return f"{times(factor)} faster" if factor > 1 else f"{times(1 / factor)} slower"


def rate_label(name: str, lr: float | None, optimizer: str | None = None) -> str:
    """A plot's label of runs at a learning rate: "CNN (SGD, lr=0.01)", "Adam (lr=0.001)" or, without a rate,
    "CNN (SGD, no rate chosen)"."""
    return f"{name} ({optimizer + ', ' if optimizer else ''}{'no rate chosen' if lr is None else f'lr={rate(lr)}'})"


def missing_runs(missing: dict) -> str:
    """Return the Markdown notice of runs that could not run here: which, why, and that the text covers the rest."""
    def name(key) -> str:
        return "/".join(map(str, key)) if isinstance(key, tuple) else f"lr {key:g}" if isinstance(key, float) else str(key)
    reasons = " ".join(dict.fromkeys(missing.values()))
    return (f"**Missing {plural(len(missing), 'run')}: {join_words(name(k) for k in missing)}.** "
            f"{plural(len(missing), 'It', 'They')} could not run here and no stored result exists: {reasons} "
            "The text below covers the runs that exist.")


# ---------------------------------------------------------------------------------------------
# 3.1
# ---------------------------------------------------------------------------------------------

def step_effect(e: StepEffect) -> str:
    """Return the Markdown of what one gradient step did: loss change, why, dead neurons, zero inputs."""
    d = exact_decimal
    text = (f"{OBSERVED}After the step the output is {d(e.output_after)} (before: {d(e.output_before)}; target "
            f"{d(e.target)}) and the loss " + (f"stayed at {d(e.loss_before)}. " if e.change == "unchanged" else
                                               f"{e.change} from {d(e.loss_before)} to {d(e.loss_after)} "
                                               f"({float(e.loss_after):.4g}). "))
    if e.change == "rose" and e.predicted_beyond_loss:
        text += (f"The first-order prediction was a decrease of $\\lambda\\lVert\\nabla L\\rVert^2 = {d(e.lr)} \\cdot "
                 f"{d(e.squared_gradient_norm)} = {d(e.first_order_decrease)}$, more than the whole loss of "
                 f"{d(e.loss_before)}: the step is far too long for this curvature"
                 + (", so the output overshoots the target and lands on its other side, further away than it started. "
                    if e.crossed_target else ". "))
    elif e.change == "rose":
        text += ("The step was too long: the loss rose although the first-order prediction, a decrease of "
                 f"${d(e.first_order_decrease)}$, stayed below the loss. ")
    if e.dead_neurons:
        n = len(e.dead_neurons)
        their = "their" if n > 1 else "its"
        sign = "negative" if e.dead_all_negative else "not positive"
        text += (f"Hidden {plural(n, 'neuron')} {join_words(f'$h_{j}$' for j in e.dead_neurons)} received no "
                 f"gradient: {their} {plural(n, 'pre-activation')} {plural(n, 'is', 'are')} {sign}, so ReLU passes nothing back")
        text += (f" and {their} {plural(n, 'column')} of $W_1$, {plural(n, 'bias', 'biases')} and "
                 f"{plural(n, 'weight')} in $W_2$ are unchanged. " if e.dead_unchanged else ". ")
    if e.zero_inputs and e.zero_input_rows_unchanged:
        n = len(e.zero_inputs)
        numbers = join_words(e.zero_inputs)
        text += (f"{plural(n, 'Input')} {numbers} {plural(n, 'is', 'are')} 0, so {plural(n, 'row')} {numbers} of $W_1$ "
                 f"got zero gradient as well.")
    return text.rstrip()


def step_rates(e: StepEffect) -> str:
    """Return the Markdown of which learning rate lowers the loss most in one step, and what the sheet's rate does."""
    if e.best_rate is None:
        return "No learning rates were compared."
    losses = dict(e.rate_losses)
    best = losses[e.best_rate]
    if best >= e.loss_before:
        text = f"None of these rates lowers the loss; {e.best_rate} raises it least (to {float(best):.4f})"
    else:
        text = f"Among these rates, {e.best_rate} lowers the loss most (to {float(best):.4f})"
    verb = {"rose": "raises", "fell": "lowers", "unchanged": "leaves"}[e.change]
    return text + f"; the sheet's {exact_decimal(e.lr)} {verb} it" + (" unchanged." if e.change == "unchanged" else ".")


# ---------------------------------------------------------------------------------------------
# 3.2
# ---------------------------------------------------------------------------------------------

def run_sentence(s: RunSummary, digits: int = 2) -> str:
    """Return one sentence on a run: where it ran, its accuracy, its time."""
    where = f"On the {device_word(s.device)} ({s.device_name})"
    if s.diverged:
        return (f"{where} the run diverged (non-finite loss) in epoch {s.epochs_run}, with "
                f"{pct(s.final_accuracy, digits)} test accuracy after that epoch.")
    # The best epoch is worth a word only where it is not the last (the final accuracy already says it).
    best = ("" if s.epochs_run == 1 else " (its best epoch)" if s.best_epoch == s.epochs_run
            else f" (best {pct(s.best_accuracy, digits)}, epoch {s.best_epoch})")
    return (f"{where} the run reached {pct(s.final_accuracy, digits)} test accuracy after {s.epochs_run} "
            f"{plural(s.epochs_run, 'epoch')}{best}, in {secs(s.total_train_time)} of training, "
            f"{secs(s.median_epoch_time)} per epoch (median{timing_note(s)}).")


def timing_note(s: RunSummary) -> str:
    """What a run's median epoch time is, where other runs shared its machine ("" where it ran alone)."""
    if s.timing == "partly shared":
        return f" of the {s.epochs_alone} {plural(s.epochs_alone, 'epoch')} it had the machine to itself"
    if s.timing == "shared":
        return ", every epoch timed while other runs shared the machine: not its own speed"
    return ""


def not_compared(shared: list[str]) -> str:
    """The sentence that says why times are not compared: the named runs shared the machine in every epoch."""
    return (f"Their epoch times are not compared: the {join_words(shared)} {plural(len(shared), 'run')} shared "
            "the machine with other runs in every epoch.")


def devices(c: DeviceComparison) -> str:
    """Return the Markdown of CPU against GPU: each run, the speed-up, and whether the accuracies differ beyond noise."""
    text = [run_sentence(s) for s in (c.cpu, c.gpu) if s is not None]
    if c.cpu is None and c.gpu is None:
        return f"{OBSERVED}No run with the {c.pipeline} pipeline is available, so there is nothing to compare."
    if c.gpu is None:
        text.append("**There is no GPU run in this report** (none was configured, or none could run here), so the plot "
                    "shows the CPU run only; nothing here is a GPU measurement.")
    elif c.cpu is None:
        text.append("There is no CPU run in this report, so there is no CPU/GPU comparison.")
    else:
        if c.speedup is not None:
            than = "as" if equally_fast(c.speedup) else "than"
            text.append(f"Per epoch (median) the GPU trained {faster(c.speedup)} {than} the CPU.")
        elif c.shared:
            text.append(not_compared([device_word(s.device) for s in c.shared]))
        if c.cpu.epochs_run != c.gpu.epochs_run:
            text.append(f"The runs stopped after different numbers of epochs (CPU {c.cpu.epochs_run}, GPU "
                        f"{c.gpu.epochs_run}), so their final accuracies are not after the same training.")
        diff = f"The final accuracies differ by {points(abs(c.accuracy_difference), 2)}"
        diverged = [device_word(s.device) for s in (c.cpu, c.gpu) if s.diverged]
        if diverged:
            text.append(f"{diff}; the {join_words(diverged)} {plural(len(diverged), 'run')} diverged, so this is no "
                        "measure of floating-point noise.")
        elif c.same_every_epoch and c.cpu.epochs_run > 1:
            text.append(f"The test accuracies are identical after every one of the {c.cpu.epochs_run} epochs (final: "
                        f"{pct(c.cpu.final_accuracy, 2)}): whatever floating-point rounding (GPU kernels sum in other "
                        "orders) changed, it never changed the count of correct test images.")
        elif c.accuracy_difference == 0:
            text.append(f"The final accuracies are identical, {pct(c.cpu.final_accuracy, 2)}: whatever floating-point "
                        "rounding (GPU kernels sum in other orders) changed, it left the count of correct test images "
                        "the same.")
        elif c.cpu.epochs_run != c.gpu.epochs_run:
            text.append(f"{diff}.")
        elif c.noise_band is None:
            n = c.cpu.epochs_run
            text.append(f"{diff}; {n} {plural(n, 'epoch leaves', 'epochs leave')} no epoch-to-epoch noise to compare "
                        "that against (the scatter around its trend of at least 3 epochs after the first).")
        else:
            image = (" (one test image)" if c.one_image and abs(abs(c.accuracy_difference) - c.one_image) < 1e-12
                     else "")
            floor = (", and no difference is finer than one test image" if c.within_noise and c.one_image
                     and abs(c.accuracy_difference) > c.noise_band else "")
            noise = (f"{diff}{image}; over its last {c.noise_epochs} epochs the CPU run alone scatters around its "
                     f"trend within {points(c.noise_band, 2)}{floor}, so the difference is ")
            text.append(noise + ("within that epoch-to-epoch noise: floating-point rounding (GPU kernels sum in other "
                                 "orders) compounding over the epochs, not a difference in the method."
                                 if c.within_noise else "larger than that epoch-to-epoch noise."))
        if c.within_noise and c.speedup is not None and c.speedup > 1 and not equally_fast(c.speedup):
            text.append("On the time axis the GPU curve is the CPU curve compressed to the left.")
    return OBSERVED + " ".join(text)


def _cell(device: str, pipeline: str) -> str:
    return f"{device_word(device)}/{pipeline}"


def pipelines(c: PipelineComparison) -> str:
    """Return the Markdown of what the resident pipeline saves per device, and the CPU-to-GPU speed-ups."""
    if not c.runs:
        return f"{OBSERVED}No run is available, so there is no pipeline comparison."
    text = []
    for g in c.gains:
        where = f"On the {device_word(g.device)}"
        if g.speedup > 1 and not equally_fast(g.speedup):
            text.append(f"{where} the resident pipeline takes {secs(g.resident_epoch)} per epoch instead of "
                        f"{secs(g.template_epoch)} ({faster(g.speedup)}), so {100 * g.input_share:.0f} % of a "
                        "template epoch there is the input pipeline.")
        else:
            text.append(f"{where} the resident pipeline takes {secs(g.resident_epoch)} per epoch against "
                        f"{secs(g.template_epoch)} for the template's ({faster(g.speedup)}): there the input "
                        "pipeline is not what limits an epoch.")
    for device, (template, resident) in c.other_machines:
        text.append(f"On the {device_word(device)} the two pipelines ran on different machines (template: {template}; "
                    f"resident: {resident}), so their times are not compared.")
    gain = {g.device: g for g in c.gains}
    if {"cpu", "cuda"} <= gain.keys() and times(gain["cuda"].speedup) != times(gain["cpu"].speedup) \
            and gain["cuda"].speedup < gain["cpu"].speedup:  # the Expected paragraph predicts the opposite
        cpu, gpu = gain["cpu"], gain["cuda"]
        text.append(f"Against the expectation, the resident pipeline gains less on the GPU ({times(gpu.speedup)}) "
                    f"than on the CPU ({times(cpu.speedup)})"
                    + (f": without the loader, a GPU epoch still takes {secs(gpu.resident_epoch)} against the CPU's "
                       f"{secs(cpu.resident_epoch)}, so at this network's size and batch the GPU's arithmetic does not "
                       "pay off." if gpu.resident_epoch > cpu.resident_epoch and secs(gpu.resident_epoch)
                       != secs(cpu.resident_epoch) else "."))
    if c.template_speedup is not None and c.compute_speedup is not None:
        text.append(f"CPU to GPU, an epoch becomes {faster(c.template_speedup)} with the template pipeline and "
                    f"{faster(c.compute_speedup)} with the resident one: the second compares the devices themselves, "
                    "the input pipeline set aside; the first is what a user of the template sees.")
    elif c.template_speedup is not None or c.compute_speedup is not None:
        pipeline, factor = (("template", c.template_speedup) if c.template_speedup is not None
                            else ("resident", c.compute_speedup))
        text.append(f"CPU to GPU, an epoch with the {pipeline} pipeline becomes {faster(factor)}.")
    if c.missing:
        n = len(c.missing)
        text.append(f"No {plural(n, 'run')} for {join_words(_cell(*k) for k in c.missing)}: the comparison covers "
                    "the runs present only.")
    if c.shared:
        text.append(f"Not compared: {join_words(_cell(*k) for k in c.shared)}, timed while other runs shared the "
                    "machine in every epoch.")
    if c.graphed:
        text.append(f"{join_words(_cell(*k) for k in c.graphed)} replayed {plural(len(c.graphed), 'its', 'their')} "
                    "training steps as a CUDA graph (one launch per step instead of some dozens of kernels queued by "
                    "Python); every other run's steps ran eagerly, as the template's do.")
    if c.slow_first_epochs:
        capture = " and the graph's capture" if set(c.slow_first_epochs) & set(c.graphed) else ""
        text.append(f"The first epoch is slower in {join_words(_cell(*k) for k in c.slow_first_epochs)} "
                    f"(start-up: memory allocation, kernel selection{capture}, worker start).")
    return OBSERVED + " ".join(text)
