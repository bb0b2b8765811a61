"""The one error type a user sees: bad input, reported as one line naming file, key and what is allowed."""


class ScenarioError(Exception):
    """A scenario (or other input file) is invalid.

    Args:
        path: the file the problem is in (or the path that does not exist).
        key: dotted key path inside the file, e.g. ``units.township.staff``; empty for the file itself.
        message: what is wrong and what is allowed.
    """

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path = str(path)
        self.key = key
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.path}: {self.key}" if self.key else self.path
        return f"error: {where}: {self.message}".replace("\n", " ")
