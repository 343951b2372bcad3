"""`python -m workers.chaos`: calls in flight through crashes and deploys (`command`, `run`)."""

from workers.chaos.command import main

main()
