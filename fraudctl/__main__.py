"""``python -m fraudctl``: the same command line as the ``fraudctl`` script."""

from fraudctl.cli import app

if __name__ == "__main__":
    app(prog_name="fraudctl")
