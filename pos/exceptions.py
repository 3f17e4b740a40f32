"""Till errors, worded for the cashier who will read them on screen."""


class PosError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignInError(PosError):
    """Wrong PIN or unknown member of staff."""


class PinLockedError(SignInError):
    """Too many wrong PINs: sign-in paused for a while."""


class OrderClosedError(PosError):
    """The order was already paid or voided."""


class PaymentError(PosError):
    """The payment cannot be taken as entered."""


class InvalidInput(PosError, ValueError):
    """A typed value (amount, quantity, id) the till cannot use; the message says what to type."""
