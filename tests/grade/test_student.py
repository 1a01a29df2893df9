"""The proxies tests hold: what a test can and cannot do with the student's objects."""

import pytest

from autograder.grade.student import RemoteObject


def test_assigning_an_attribute_of_a_remote_object_is_refused():
    """``decoder.autoregress = True`` would change only the proxy, never the object in the sandbox."""
    proxy = RemoteObject(session=None, target={"handle": 1}, remote_type="DiscreteVAEDecoder")
    with pytest.raises(AttributeError, match="cannot set 'autoregress'"):
        proxy.autoregress = True
    assert repr(proxy) == "<student's DiscreteVAEDecoder>"
