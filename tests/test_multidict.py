from kali.multidict import Bag


def test_bag_single_is_last_and_multiple_keeps_all():
    bag = Bag([("a", "1"), ("b", "2"), ("a", "3")])
    assert bag["a"] == "3"
    assert bag.single == {"a": "3", "b": "2"}
    assert bag.multiple == {"a": ["1", "3"], "b": ["2"]}
    assert list(bag.items()) == [("a", "1"), ("a", "3"), ("b", "2")]
    assert bag.get_list("a") == ["1", "3"] == bag.getlist("a")
    assert bag.get_list("zz") == []
    assert bag.get("zz", 7) == 7
    assert "a" in bag and "zz" not in bag
    assert (
        len(bag) == 2 and sorted(bag) == ["a", "b"] and list(bag.keys()) == ["a", "b"]
    )
    assert str(bag) == str(bag.multiple)


def test_bag_update_from_dict_bag_and_pairs_and_delete():
    bag = Bag({"x": 1})
    bag.update(Bag([("y", 2), ("y", 3)]))
    bag.update([("x", 4)])
    assert bag.multiple == {"x": [1, 4], "y": [2, 3]}
    del bag["x"]
    assert "x" not in bag and "x" not in bag.multiple
    assert bool(bag) and not Bag()
    assert Bag([("y", 2), ("y", 3)]) == Bag([("y", 2), ("y", 3)])
    assert repr(Bag([("a", 1)])) == "Bag([('a', 1)])"


def test_get_list_returns_a_copy():
    bag = Bag([("a", 1)])
    bag.get_list("a").append(2)
    assert bag.get_list("a") == [1]
