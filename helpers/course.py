"""The course's cluster and environment, as the sheet and the course's job script give them: said once, here."""

COURSE_ENV = {"name": "eml", "python": "3.10", "torch": "1.13.1", "torchvision": "0.14.1"}  # `conda activate eml`
COURSE_GPU = "RTX 2080 Ti"   # the partition's GPUs (8 a node)
COURSE_CPU = "EPYC 7351P"    # the nodes' CPU; a task asks for one core of it (--cpus-per-task 1)


def course_env_words() -> str:
    """The course env as the text names it: "`eml` (Python 3.10, PyTorch 1.13.1, torchvision 0.14.1)"."""
    return (f"`{COURSE_ENV['name']}` (Python {COURSE_ENV['python']}, PyTorch {COURSE_ENV['torch']}, torchvision "
            f"{COURSE_ENV['torchvision']})")
