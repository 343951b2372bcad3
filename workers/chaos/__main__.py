"""`python -m workers.chaos`: calls in flight through crashes and deploys (see `run`)."""

from workers.chaos.run import main

main()
