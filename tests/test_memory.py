"""app/components/memory.py: a closed session's reference cycles are collected when the session ends."""


def test_released_memory_frees_a_closed_sessions_cycles():
    """A closed page is a reference cycle: the release collects it (and trims glibc's heap where there is one)."""
    import gc
    import weakref

    from app.components import memory

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # like page -> model watcher -> page
    alive = weakref.ref(a)
    gc.disable()  # no automatic collection may free it first
    try:
        del a, b
        assert alive() is not None
        assert memory.release_freed_memory() >= 0.0
        assert alive() is None
    finally:
        gc.enable()
    memory.release_when_session_ends()  # outside a server: nothing to register, no error
