# Reformatted, commented and documented differently: the same behaviour.
PREFIX = 'W-'
SHOUTY = {'THING', 'WIDGET', 'GADGET'}  # the same set, written in another order


def normalize(name):
    '''Another docstring.'''
    # tidy first
    name = _tidy(
        name
    )
    if name.upper() in SHOUTY:
        name = name.title()
    return PREFIX + name


def _tidy(name):
    """Collapse whitespace."""
    return " ".join(
        name.split()
    )
