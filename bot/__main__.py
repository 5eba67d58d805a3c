"""`python -m bot`: the command line.

The garbage collector is paused while the modules load; ``bot.cli.settle_modules`` freezes what
was loaded and turns it back on before any command does its work.
"""

import gc

gc.disable()

from bot.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
