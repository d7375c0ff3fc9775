"""A one-function console script."""


def main() -> None:
    print("Hello from Python in a snap!")
